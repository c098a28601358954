"""What every chat view shares: Telegram's length limit counted as Telegram counts it
(UTF-16 code units), cutting a text to it, and a keyboard from rows of (label, data)."""

from __future__ import annotations

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

TEXT_LIMIT = 4096  # Telegram's limit for one message, in UTF-16 code units


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def cut_to(text: str, units: int) -> str:
    """The longest start of `text` within `units` UTF-16 code units (never half a pair)."""
    data = text.encode("utf-16-le")[:max(units, 0) * 2]
    return data.decode("utf-16-le", errors="ignore")


def keyboard(rows: list[list[tuple[str, str]]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[
        [InlineKeyboardButton(text=text, callback_data=data) for text, data in row]
        for row in rows])
