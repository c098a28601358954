"""Steadfast speaks only in a person's own private chat: the check on the way out.

A private chat's id is the person's Telegram user id, always positive; groups, supergroups
and channels have negative ids. The way in is checked once in bot/middleware.py."""

from __future__ import annotations

from aiogram.exceptions import TelegramBadRequest
from aiogram.methods import GetChat


class NotPrivateChat(TelegramBadRequest):
    """Refused before it was sent. A subclass of the 400 that no retry can fix, so every
    caller that copes with Telegram's refusals (a reply is logged and dropped, an outbox
    row goes dead and staff are told) copes with this one the same way."""

    def __init__(self, chat_id: int) -> None:
        super().__init__(method=GetChat(chat_id=chat_id),
                         message="Bad Request: not the person's own private chat")


def private_chat(chat_id: int, person: int | None = None) -> int:
    """`chat_id` if it is a private chat (and, with `person`, that person's own); otherwise
    NotPrivateChat."""
    if not isinstance(chat_id, int) or chat_id <= 0 or (
            person is not None and chat_id != person):
        raise NotPrivateChat(chat_id if isinstance(chat_id, int) else 0)
    return chat_id
