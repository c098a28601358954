"""Telegram, and only Telegram: handlers by feature, views, sending, update intake and menus
(imports aiogram lazily; process/ starts it, app/ builds what it serves)."""
