"""Typed callback data. Every payload fits Telegram's 64 bytes and carries no health detail."""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData


class EnrolCb(CallbackData, prefix="en"):
    action: str  # agree | decline | consent_lang | language | tz | time
    value: str = ""
