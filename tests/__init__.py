"""Steadfast's test suite: pure domain, storage on SQLite and PostgreSQL, end to end."""
