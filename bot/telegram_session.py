"""The bot's HTTP session to Telegram: aiogram's own, with its answer models kept alive.

aiogram checks every answer against `Response[T]`, T being what the method returns.
pydantic keeps parametrised models in a weak cache only, so once the last `Response[T]`
of a call is collected the next call builds the model (and its validator) again: a few
milliseconds per call, a good part of what a button press costs. Holding each one here
makes the next call find it in pydantic's cache.
"""

from __future__ import annotations

from typing import Any

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.methods import TelegramMethod
from aiogram.methods.base import Response, TelegramType

# One per return type, for the life of the process (a few dozen at most).
_RESPONSE_TYPES: dict[Any, type[Response[Any]]] = {}


def response_type(returning: Any) -> type[Response[Any]]:
    """`Response[returning]`, built once and kept."""
    kept = _RESPONSE_TYPES.get(returning)
    if kept is None:
        kept = _RESPONSE_TYPES[returning] = Response[returning]
    return kept


class TelegramSession(AiohttpSession):
    def check_response(self, bot: Bot, method: TelegramMethod[TelegramType], status_code: int,
                       content: str) -> Response[TelegramType]:
        response_type(method.__returning__)  # so that aiogram's own Response[T] is a hit
        return super().check_response(bot, method, status_code, content)
