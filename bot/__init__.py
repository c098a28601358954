"""Telegram transport, command line and composition root (imports aiogram lazily)."""
