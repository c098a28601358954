"""The one way the bot talks to Telegram: every send, edit, deletion, callback answer and
command menu goes through `Sender.send`, which keeps the bot's rate limit, waits out a 429,
and says what Telegram's answer means once, as a `Sent`.

Callers keep their own policies on top of that answer (delivery backs off, dead-letters
and raises the blocked alert; a reply is dropped; menus try again later), but none of
them looks at an exception. getMe, getUpdates and setWebhook are not sends and stay with
bot/connect.py and bot/intake.py."""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from typing import Any, Final, Generic, TypeVar

from aiogram import Bot
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramAPIError,
    TelegramBadRequest,
    TelegramEntityTooLarge,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNotFound,
    TelegramRetryAfter,
)
from aiogram.methods import EditMessageText, TelegramMethod
from aiogram.types import Message

from bot.chats import private_chat
from bot.ratelimit import RateLimiter
from journal import telemetry

log = logging.getLogger(__name__)

T = TypeVar("T")

# New messages keep the chat's one-a-second interval besides the bot's overall limit; an
# edit, a deletion or a menu counts only against the overall limit (as Telegram counts).
NEW_MESSAGES: Final = frozenset({"sendMessage", "sendPhoto", "sendDocument"})
# Not counted by Telegram's flood limits at all: a late callback answer is no answer.
UNPACED: Final = frozenset({"answerCallbackQuery"})

# 400s that say the wanted state is there already, by the method that meets them.
_DONE_ALREADY: Final = (
    (("editMessageText", "editMessageReplyMarkup", "editMessageCaption"),
     "message is not modified"),
    (("deleteMessage",), "message to delete not found"),
)


class UnreadEdit(EditMessageText):
    """editMessageText whose answer nobody reads (a reply's edit: only whether it worked
    matters). Telegram answers an edit with the whole edited message, keyboard and all;
    aiogram builds a model of each of its parts, which cost more than the rest of the
    call, so this answer is kept as Telegram's plain JSON instead."""

    __returning__ = bool | dict[str, Any]


class Outcome(enum.StrEnum):
    """What an answer means, whatever the call: the labels of the `telegram_requests`
    metric too."""

    SENT = "sent"
    DONE_ALREADY = "done_already"  # "not modified", "to delete not found": as wanted
    RATE_LIMITED = "rate_limited"  # 429 again after one wait: try after `retry_after`
    TRANSIENT = "transient"  # 5xx, time-outs, network, 401, 409, an answer not JSON
    BLOCKED = "blocked"  # 403: the person blocked the bot (or it is not in that chat)
    PERMANENT = "permanent"  # a 400 (or 404, 413) the same request meets every time


@dataclass(frozen=True, slots=True)
class Sent(Generic[T]):
    """Telegram's answer to one call. `error` is the exception's type and `reason`
    Telegram's description shortened (it names the problem, not the content); both are
    empty when the call succeeded."""

    outcome: Outcome
    value: T | None = None
    error: str = ""
    reason: str = ""
    retry_after: float = 0.0

    @property
    def ok(self) -> bool:
        """Telegram did it, or it was done already."""
        return self.outcome in (Outcome.SENT, Outcome.DONE_ALREADY)

    @property
    def message_id(self) -> int | None:
        """The new message's id, for a send that made one."""
        return self.value.message_id if isinstance(self.value, Message) else None


def classify(method: str, exc: BaseException) -> Sent[Any]:
    """The one reading of a failed call. A 400 no retry can change is permanent, except
    those that mean the wanted state is there already; 401, 409 and an answer that is not
    JSON are the program's trouble, not the message's, so they count as transient."""
    error = type(exc).__name__
    reason = _reason(exc.message) if isinstance(exc, TelegramAPIError) else ""
    if isinstance(exc, TelegramRetryAfter):
        return Sent(Outcome.RATE_LIMITED, error=error, reason=reason,
                    retry_after=float(exc.retry_after))
    if isinstance(exc, TelegramForbiddenError):
        return Sent(Outcome.BLOCKED, error=error, reason=reason)
    if isinstance(exc, TelegramBadRequest):
        for methods, text in _DONE_ALREADY:
            if method in methods and text in exc.message:
                return Sent(Outcome.DONE_ALREADY, error=error, reason=reason)
        return Sent(Outcome.PERMANENT, error=error, reason=reason)
    # Before the network errors: aiogram makes a 413 one of them.
    if isinstance(exc, (TelegramNotFound, TelegramEntityTooLarge, TelegramMigrateToChat)):
        return Sent(Outcome.PERMANENT, error=error, reason=reason)
    return Sent(Outcome.TRANSIENT, error=error, reason=reason)


def _reason(description: str) -> str:
    return description.split(":", 1)[-1].strip()[:80]


def _chat_of(method: TelegramMethod[Any]) -> int | None:
    """The chat a call addresses: its chat_id, or a command menu's chat scope."""
    chat = getattr(method, "chat_id", None)
    if chat is None:
        chat = getattr(getattr(method, "scope", None), "chat_id", None)
    return chat


class Sender:
    """Every call of the bot, within its one `RateLimiter`: replies to an update
    (`reply=True`) before bulk sends, a new message also within its chat's interval, a 429
    waited out once (the whole bot pauses for its retry_after) and the call made again.

    Only a person's own private chat may be addressed (with `person`, that very person's):
    anything else is refused before it is sent, as a permanent answer. `anywhere=True` is
    for the one exception, the neutral line to a group the bot then leaves."""

    def __init__(self, bot: Bot, limiter: RateLimiter) -> None:
        self.bot = bot
        self.limiter = limiter

    async def send(self, method: TelegramMethod[T], *, reply: bool = False,
                   person: int | None = None, anywhere: bool = False) -> Sent[T]:
        name = method.__api_method__
        chat = _chat_of(method)
        try:
            if chat is not None and not anywhere:
                private_chat(chat, person)
            value = await self._call(name, method, chat if isinstance(chat, int) else 0, reply)
        except (TelegramAPIError, ClientDecodeError, OSError, TimeoutError) as exc:
            sent: Sent[T] = classify(name, exc)
        else:
            sent = Sent(Outcome.SENT, value)
        telemetry.count("telegram_requests", method=name, outcome=sent.outcome.value)
        return sent

    async def _call(self, name: str, method: TelegramMethod[T], chat: int, reply: bool) -> T:
        if name in UNPACED:
            return await self.bot(method)
        waited = False
        while True:
            stamp = await self.limiter.acquire(chat, per_chat=name in NEW_MESSAGES,
                                               reply=reply)
            try:
                return await self.bot(method)
            except TelegramRetryAfter as exc:  # another process (or Telegram) thinks we hurry
                self.limiter.pause(exc.retry_after)  # every send of the bot waits, not just this
                if waited:
                    raise
                waited = True
                telemetry.count("telegram_requests", method=name,
                                outcome=Outcome.RATE_LIMITED.value)
                log.info("%s answered 429; the bot waits %ss", name, exc.retry_after)
            finally:
                self.limiter.done(chat, stamp)
