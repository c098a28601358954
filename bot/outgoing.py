"""Replies collected while an update is handled and sent only after its transaction commits.

Committing first means a person is never told "saved" about something that was not, and
a crash between commit and send loses a reply, never an answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest, TelegramRetryAfter
from aiogram.types import (
    BotCommand,
    BotCommandScopeChat,
    BufferedInputFile,
    InlineKeyboardMarkup,
)

from bot.chats import private_chat
from bot.texts import error_text

if TYPE_CHECKING:
    from bot.ratelimit import RateLimiter

log = logging.getLogger(__name__)

# New messages keep the chat's one-a-second interval; edits, deletions and menus in place
# count only against the bot's overall limit (as Telegram counts them).
_NEW_MESSAGES = frozenset({"send", "photo", "document"})

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

    async def flush(self, bot: Bot, limiter: RateLimiter | None = None) -> None:
        """Send what was queued, once the transaction committed. The callback answer (which
        Telegram does not count as a message) goes at once, beside the chat actions; those
        go in order, each within the bot's one `limiter` as a reply, ahead of bulk sends."""
        if self.callback_query_id is None:
            await self._actions(bot, limiter)
            return
        await asyncio.gather(self._answer_callback(bot), self._actions(bot, limiter))

    async def _answer_callback(self, bot: Bot) -> None:
        assert self.callback_query_id is not None
        try:
            await bot.answer_callback_query(self.callback_query_id,
                                            text=(self.callback_text or "")[:200] or None,
                                            show_alert=self.callback_alert)
        except TelegramAPIError as exc:  # a late answer is harmless
            log.info("callback answer failed: %s", type(exc).__name__)

    async def _actions(self, bot: Bot, limiter: RateLimiter | None) -> None:
        for kind, params, on_sent in self.actions:
            try:
                chat_id = private_chat(params["chat_id"], self.person)
                await self._paced(bot, limiter, chat_id, kind, params, on_sent)
            except TelegramAPIError as exc:
                # Effects are committed already; a lost reply is recovered by the person
                # pressing again or sending /checkin, so log the kind of failure only.
                log.warning("reply %s failed: %s", kind, type(exc).__name__)

    async def _paced(self, bot: Bot, limiter: RateLimiter | None, chat_id: int, kind: str,
                     params: dict[str, Any], on_sent: SentHook | None) -> None:
        if limiter is None:
            await self._do(bot, kind, params, on_sent)
            return
        for attempt in (1, 2):  # a 429 (another process sending too) is waited out once
            stamp = await limiter.acquire(chat_id, per_chat=kind in _NEW_MESSAGES, reply=True)
            try:
                await self._do(bot, kind, params, on_sent)
                return
            except TelegramRetryAfter as exc:
                limiter.pause(exc.retry_after)
                if attempt == 2:
                    raise
            finally:
                limiter.done(chat_id, stamp)

    @staticmethod
    async def _do(bot: Bot, kind: str, params: dict[str, Any], on_sent: SentHook | None) -> None:
        if kind == "send":
            message = await bot.send_message(**params)
            if on_sent is not None:
                await on_sent(message.message_id)
        elif kind in ("photo", "document"):
            params = dict(params)
            content, filename = params.pop("content"), params.pop("filename")
            try:
                data = content if isinstance(content, bytes) else await content()
            except Exception as exc:  # a failed render: say so, never a trace to the chat
                log.error("rendering a %s failed: %s", kind, type(exc).__name__)
                await bot.send_message(chat_id=params["chat_id"],
                                       text=error_text("error.generic"))
                return
            upload = BufferedInputFile(data, filename=filename)
            sent = await (bot.send_photo(photo=upload, **params) if kind == "photo"
                          else bot.send_document(document=upload, **params))
            if on_sent is not None:
                await on_sent(sent.message_id)
        elif kind == "edit":
            try:
                await bot.edit_message_text(**params)
            except TelegramBadRequest as exc:
                if "not modified" not in exc.message:
                    raise
        elif kind == "delete":
            with contextlib.suppress(TelegramBadRequest):  # already gone, or over 48 hours old
                await bot.delete_message(**params)
        elif kind == "commands":
            await bot.set_my_commands(
                [BotCommand(command=c, description=d) for c, d in params["commands"]],
                scope=BotCommandScopeChat(chat_id=params["chat_id"]))
