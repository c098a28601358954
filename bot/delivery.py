"""The delivery worker: the outbox's only reader. Keeps Telegram's limits, never drops a row.

A transient failure (429, 5xx, a time-out, a refused connection) is retried with capped
exponential backoff for as long as the message is still useful; only a permanent answer
(a 400 that no retry can change) makes a row dead, and 403 is the clinical "blocked" signal.
A row that stopped being useful (its window closed, its alert was handled) expires."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from datetime import timedelta
from typing import Any

from aiogram import Bot
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramAPIError,
    TelegramBadRequest,
    TelegramEntityTooLarge,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
)

from bot.callbacks import render_buttons
from bot.chats import private_chat
from bot.ratelimit import RateLimiter
from journal import telemetry
from journal.alerts.service import AlertService
from journal.clock import Clock, backoff
from journal.dead_letters import DeliveryReport
from journal.errors import safe_trace
from storage.instances import Instances
from storage.records import OutboxMessage
from storage.uow import Store

log = logging.getLogger(__name__)

__all__ = ["DeliveryWorker", "RateLimiter"]


class DeliveryWorker:
    def __init__(self, *, store: Store, bot: Bot, clock: Clock, alerts: AlertService,
                 limiter: RateLimiter | None = None, instances: Instances | None = None,
                 batch: int = 30, lease: timedelta = timedelta(seconds=60),
                 base_backoff: float = 1.0, max_backoff: float = 300.0,
                 poll_interval: float = 1.5) -> None:
        """`poll_interval`: how often an idle worker looks for rows nobody woke it for
        (queued by another process, or due later); a commit in this process that queued a
        row wakes it at once (`wake()`, which `Store.on_queued` calls).

        `instances`: with several instances on one PostgreSQL database only the one holding
        the delivery lock delivers (so the bot's bulk sends keep one pace); the others ask
        for the lock at every poll and the first to get it after its holder died takes
        over (see `_take_over`)."""
        self._store = store
        self._instances = instances
        self._alerts = alerts
        self._report = DeliveryReport(clock=clock)
        self._bot = bot
        self._clock = clock
        self._limiter = limiter or RateLimiter()
        self._batch = batch
        self._lease = lease
        self._base = base_backoff
        self._max_backoff = max_backoff
        self._poll = poll_interval
        self._woken = asyncio.Event()
        store.on_queued(self.wake)

    @property
    def limiter(self) -> RateLimiter:
        """Telegram's limits, for every other caller that sends on this bot's behalf."""
        return self._limiter

    def wake(self) -> None:
        """A row was queued: look now rather than at the next poll."""
        self._woken.set()

    async def run(self, stop: asyncio.Event) -> None:
        stopped = asyncio.ensure_future(stop.wait())
        try:
            while not stop.is_set():
                self._woken.clear()  # a row queued from here on wakes the next wait
                try:
                    sent = await self.deliver_due() if await self._lead() else 0
                except Exception as exc:  # the worker must outlive any one failure
                    log.error("delivery pass failed: %s", safe_trace(exc))
                    sent = 0
                if sent:
                    continue
                woken = asyncio.ensure_future(self._woken.wait())
                # Nothing due: wait for a queued row, the stop, or the poll.
                await asyncio.wait({woken, stopped}, timeout=self._poll,
                                   return_when=asyncio.FIRST_COMPLETED)
                woken.cancel()
        finally:
            stopped.cancel()

    async def _lead(self) -> bool:
        """Whether this instance delivers now; taking over when it just became the one."""
        if self._instances is None:
            return True
        was = self._instances.leading
        if not await self._instances.lead():
            return False
        if not was:
            await self._take_over()
        return True

    async def _take_over(self) -> None:
        """Only the lock's holder claims rows, so any claim still standing is the previous
        holder's, which died or lost its connection: they go back to the queue now, not
        when their lease runs out. (A holder that lost only its connection may have been
        sending one of them: that message can arrive twice, never not at all.)

        The first send waits one chat interval: the previous holder's last message to a
        chat may have reached Telegram a moment ago (or that very message, sent just before
        a SIGKILL and never recorded, is among the claims returned), and this instance
        does not know which chat it was."""
        async with self._store.transaction() as uow:
            returned = await uow.outbox.release_claims()
        log.info("this instance delivers the outbox now; %s claim(s) of the previous one "
                 "returned to the queue", returned)
        await asyncio.sleep(self._limiter.chat_interval)

    async def deliver_due(self) -> int:
        """One pass: claim what is due, send it in order, record each result."""
        async with self._store.transaction() as uow:
            now = self._clock.now()
            expired = await uow.outbox.expire_stale(now)
            messages = await uow.outbox.claim_due(now, limit=self._batch, lease=self._lease)
        if expired:
            log.info("%s outbox message(s) expired unsent: no longer useful", expired)
        if not messages:
            return 0
        # Messages for one chat go out in order; chats are interleaved so one busy chat
        # does not hold up everybody else behind its one-per-second limit.
        by_chat: dict[int, deque[OutboxMessage]] = {}
        for message in messages:
            by_chat.setdefault(message.chat_id, deque()).append(message)
        done = 0
        while by_chat:
            chat_id = min(by_chat, key=self._limiter.chat_ready_in)
            message = by_chat[chat_id].popleft()
            if not by_chat[chat_id]:
                del by_chat[chat_id]
            outcome = await self._deliver(message)
            done += 1
            if outcome == "pause":  # 429: everything else waits too; hand the rest back
                async with self._store.transaction() as uow:
                    for rest in [m for q in by_chat.values() for m in q]:
                        await uow.outbox.mark_retry(rest.id, at=self._clock.now(),
                                                    error="held back after 429",
                                                    count_attempt=False)
                break
        return done

    async def _deliver(self, message: OutboxMessage) -> str:
        try:
            sent_id = await self._counted_send(message)
        except TelegramRetryAfter as exc:
            self._limiter.pause(exc.retry_after)
            await self._retry(message, f"429 retry after {exc.retry_after}s",
                              delay=float(exc.retry_after), count=False)
            return "pause"
        except TelegramForbiddenError:
            await self._blocked(message)
            return "blocked"
        except TelegramBadRequest as exc:
            if "not found" in exc.message and message.payload["method"] == "deleteMessage":
                await self._sent(message, None)  # already gone is what we wanted
                return "sent"
            if "not modified" in exc.message:
                await self._sent(message, None)
                return "sent"
            await self._retry(message, "400 " + _reason(exc.message), dead=True)
            return "dead"  # a permanent answer: the same request cannot succeed later
        except (TelegramNotFound, TelegramEntityTooLarge) as exc:
            await self._retry(message, f"{exc.__class__.__name__} " + _reason(exc.message),
                              dead=True)
            return "dead"  # the method or the payload itself is wrong: no retry can help
        except (TimeoutError, TelegramServerError, TelegramNetworkError, ClientDecodeError,
                TelegramAPIError, OSError) as exc:
            # Also 401 (a revoked token), 409 and a reply that is not JSON: the program is in
            # trouble, not the message, and the message still matters once it is fixed.
            await self._retry(message, type(exc).__name__, delay=self._backoff(message.attempts))
            return "retry"
        await self._sent(message, sent_id)
        return "sent"

    async def _counted_send(self, message: OutboxMessage) -> int | None:
        """`_send`, counted for the metrics: sent by kind, failed by the error's class."""
        try:
            sent_id = await self._send(message)
        except Exception as exc:
            if not _already_done(exc, message):
                telemetry.count("delivery_failures", error_class=type(exc).__name__)
            raise
        telemetry.count("delivery_sent", kind=message.kind)
        return sent_id

    async def _send(self, message: OutboxMessage) -> int | None:
        stamp = await self._limiter.acquire(message.chat_id)
        try:
            return await self._call(message.chat_id, message.payload)
        finally:
            self._limiter.done(message.chat_id, stamp)

    async def _call(self, chat_id: int, payload: dict[str, Any]) -> int | None:
        # The row's own chat, and only a private one, whatever its params say.
        method, params = payload["method"], {**payload["params"], "chat_id": private_chat(chat_id)}
        if "buttons" in params:
            params["reply_markup"] = render_buttons(params.pop("buttons"))
        # else a row queued before buttons were plain values may carry Telegram's own
        # reply_markup: it is sent as it is, so an upgrade loses no button.
        if method == "sendMessage":
            return (await self._bot.send_message(**params)).message_id
        if method == "editMessageText":
            await self._bot.edit_message_text(**params)
            return None
        if method == "editMessageReplyMarkup":
            await self._bot.edit_message_reply_markup(**params)
            return None
        if method == "deleteMessage":
            await self._bot.delete_message(**params)
            return None
        if method == "setMyCommands":
            await _set_menu(self._bot, params)
            return None
        raise ValueError(f"unknown outbox method {method}")

    def _backoff(self, attempts: int) -> float:
        return backoff(attempts, base=self._base, cap=self._max_backoff)

    async def _sent(self, message: OutboxMessage, sent_id: int | None) -> None:
        async with self._store.transaction() as uow:
            await uow.outbox.mark_sent(message.id, now=self._clock.now(), sent_message_id=sent_id)
            if message.kind == "alert" and sent_id is not None:
                await self._alerts.copy_delivered(uow, message.id, message.chat_id, sent_id)

    async def _retry(self, message: OutboxMessage, error: str, *, delay: float = 0.0,
                     count: bool = True, dead: bool = False) -> None:
        async with self._store.transaction() as uow:
            await uow.outbox.mark_retry(message.id, error=error, dead=dead, count_attempt=count,
                                        at=self._clock.now() + timedelta(seconds=delay))
            if dead:
                await self._report.dead_letter(uow, message, error)
        if dead:
            telemetry.count("dead_letters")
            log.error("outbox message %s (%s) is dead after %s attempts: %s", message.id,
                      message.kind, message.attempts + 1, error)
        elif count and message.attempts + 1 in (8, 64, 512):  # a long outage, said sparingly
            log.warning("outbox message %s (%s) still undelivered after %s attempts: %s",
                        message.id, message.kind, message.attempts + 1, error)

    async def _blocked(self, message: OutboxMessage) -> None:
        """403: the person blocked the bot. Retrying cannot help; the clinician must know."""
        async with self._store.transaction() as uow:
            await uow.outbox.mark_retry(message.id, at=self._clock.now(),
                                        error="403 blocked by the user", dead=True)
            await self._alerts.client_blocked(uow, message.chat_id)


def _already_done(exc: Exception, message: OutboxMessage) -> bool:
    """A 400 that says the wanted state is there already (deleted, not modified): a
    success, not a failure to count."""
    return isinstance(exc, TelegramBadRequest) and (
        "not modified" in exc.message
        or ("not found" in exc.message and message.payload["method"] == "deleteMessage"))


def _reason(description: str) -> str:
    # Telegram's descriptions name the problem, not the content; keep them short anyway.
    return description.split(":", 1)[-1].strip()[:80]


async def _set_menu(bot: Bot, params: dict[str, Any]) -> None:
    """A "menu" row: the chat's own command menu for a role ("menu", "language"), or with
    no role the chat's own menu removed, so the default scope's shows again. A chat that
    has never talked to the bot has no menu of its own yet: its /start sets it."""
    from aiogram.types import BotCommand, BotCommandScopeChat

    from bot.menus import menu

    scope = BotCommandScopeChat(chat_id=params["chat_id"])
    with contextlib.suppress(TelegramBadRequest):
        if params.get("menu"):
            await bot.set_my_commands(
                [BotCommand(command=name, description=text)
                 for name, text in menu(params["menu"], params.get("language") or "en")],
                scope=scope)
        else:
            await bot.delete_my_commands(scope=scope)
