"""Persistence: models, repositories, unit of work, encryption at rest and migrations."""
