"""Replies collected while an update is handled and sent only after its transaction commits.

Committing first means a person is never told "saved" about something that was not, and
a crash between commit and send loses a reply, never an answer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiogram.methods import (
    AnswerCallbackQuery,
    DeleteMessage,
    SendDocument,
    SendMessage,
    SendPhoto,
    TelegramMethod,
)
from aiogram.types import BufferedInputFile, InlineKeyboardMarkup

from bot.menus import set_commands
from bot.sender import Sender, UnreadEdit
from bot.texts import error_text

log = logging.getLogger(__name__)

SentHook = Callable[[int], Awaitable[None]]
# Bytes, or a coroutine function that makes them after the update's transaction committed.
Content = bytes | Callable[[], Awaitable[bytes]]


@dataclass
class Outgoing:
    # The person whose update this answers: their private chat is the only one any action
    # may address (None: nobody's, so nothing is sent).
    person: int | None = None
    callback_query_id: str | None = None
    callback_text: str | None = None
    callback_alert: bool = False
    actions: list[tuple[str, dict[str, Any], SentHook | None]] = field(default_factory=list)

    def send(self, chat_id: int, text: str, markup: InlineKeyboardMarkup | None = None, *,
             on_sent: SentHook | None = None) -> None:
        self.actions.append(("send", {"chat_id": chat_id, "text": text,
                                      "reply_markup": markup}, on_sent))

    def send_photo(self, chat_id: int, png: Content, caption: str = "",
                   markup: InlineKeyboardMarkup | None = None, *,
                   on_sent: SentHook | None = None) -> None:
        """A PNG, or a coroutine function that draws it once the transaction committed."""
        self.actions.append(("photo", {"chat_id": chat_id, "content": png,
                                       "filename": "chart.png", "caption": caption or None,
                                       "reply_markup": markup}, on_sent))

    def send_document(self, chat_id: int, data: Content, filename: str, caption: str = "", *,
                      on_sent: SentHook | None = None) -> None:
        """A file, or a coroutine function that makes it once the transaction committed
        (a report takes a moment to build; no database lock is held meanwhile)."""
        self.actions.append(("document", {"chat_id": chat_id, "content": data,
                                          "filename": filename, "caption": caption or None},
                             on_sent))

    def edit(self, chat_id: int, message_id: int, text: str,
             markup: InlineKeyboardMarkup | None = None) -> None:
        self.actions.append(("edit", {"chat_id": chat_id, "message_id": message_id,
                                      "text": text, "reply_markup": markup}, None))

    def delete(self, chat_id: int, message_id: int) -> None:
        self.actions.append(("delete", {"chat_id": chat_id, "message_id": message_id}, None))

    def commands(self, chat_id: int, commands: list[tuple[str, str]]) -> None:
        self.actions.append(("commands", {"chat_id": chat_id, "commands": commands}, None))

    def answer(self, text: str | None = None, *, alert: bool = False) -> None:
        self.callback_text, self.callback_alert = text, alert

    async def flush(self, sender: Sender) -> None:
        """Send what was queued, once the transaction committed. The callback answer (which
        Telegram does not count as a message) goes at once, beside the chat actions; those
        go in order, each as a reply: ahead of bulk sends within the bot's one limit."""
        if self.callback_query_id is None:
            await self._actions(sender)
            return
        await asyncio.gather(self._answer_callback(sender), self._actions(sender))

    async def _answer_callback(self, sender: Sender) -> None:
        assert self.callback_query_id is not None
        sent = await sender.send(AnswerCallbackQuery(
            callback_query_id=self.callback_query_id,
            text=(self.callback_text or "")[:200] or None, show_alert=self.callback_alert))
        if not sent.ok:  # a late answer is harmless
            log.info("callback answer failed: %s", sent.error)

    async def _actions(self, sender: Sender) -> None:
        for kind, params, on_sent in self.actions:
            sent = await sender.send(await _method(kind, params), reply=True,
                                     person=self.person)
            if not sent.ok:
                # Effects are committed already; a lost reply is recovered by the person
                # pressing again or sending /checkin, so log the kind of failure only.
                log.warning("reply %s failed: %s", kind, sent.error)
            elif on_sent is not None and sent.message_id is not None:
                await on_sent(sent.message_id)


async def _method(kind: str, params: dict[str, Any]) -> TelegramMethod[Any]:
    """The Bot API call of one queued action; a file's content is made now."""
    if kind == "send":
        return SendMessage(**params)
    if kind == "edit":
        return UnreadEdit(**params)  # only whether it worked is read
    if kind == "delete":
        return DeleteMessage(**params)
    if kind == "commands":
        return set_commands(params["commands"], chat_id=params["chat_id"])
    params = dict(params)
    content, filename = params.pop("content"), params.pop("filename")
    try:
        data = content if isinstance(content, bytes) else await content()
    except Exception as exc:  # a failed render: say so, never a trace to the chat
        log.error("rendering a %s failed: %s", kind, type(exc).__name__)
        return SendMessage(chat_id=params["chat_id"], text=error_text("error.generic"))
    upload = BufferedInputFile(data, filename=filename)
    if kind == "photo":
        return SendPhoto(photo=upload, **params)
    return SendDocument(document=upload, **params)
