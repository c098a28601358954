"""The delivery worker: the outbox's only reader. Keeps Telegram's limits, never drops a row.

A transient failure (429, 5xx, a time-out, a refused connection) is retried with capped
exponential backoff for as long as the message is still useful; only a permanent answer
(a 400 that no retry can change) makes a row dead, and 403 is the clinical "blocked" signal.
A row that stopped being useful (its window closed, its alert was handled) expires."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from datetime import timedelta
from typing import Any, Final

from aiogram import Bot
from aiogram.methods import (
    DeleteMessage,
    EditMessageReplyMarkup,
    EditMessageText,
    SendMessage,
    TelegramMethod,
)

from bot.callbacks import render_buttons
from bot.menus import chat_menu
from bot.ratelimit import RateLimiter
from bot.sender import Outcome, Sender, Sent
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

# The Bot API calls an outbox row may make ("setMyCommands" is a "menu" row's, see _call).
_METHODS: Final[dict[str, type[TelegramMethod[Any]]]] = {
    "sendMessage": SendMessage,
    "editMessageText": EditMessageText,
    "editMessageReplyMarkup": EditMessageReplyMarkup,
    "deleteMessage": DeleteMessage,
}


class DeliveryWorker:
    def __init__(self, *, store: Store, clock: Clock, alerts: AlertService,
                 sender: Sender | None = None, bot: Bot | None = None,
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
        over (see `_take_over`).

        `sender`: the bot's one way to Telegram (bot/sender.py), shared with the replies;
        without one, the worker makes its own from `bot` and `limiter`."""
        if sender is None:
            assert bot is not None, "a sender, or a bot to make one for"
            sender = Sender(bot, limiter or RateLimiter())
        self._sender = sender
        self._limiter = sender.limiter
        self._store = store
        self._instances = instances
        self._alerts = alerts
        self._report = DeliveryReport(clock=clock)
        self._clock = clock
        self._batch = batch
        self._lease = lease
        self._base = base_backoff
        self._max_backoff = max_backoff
        self._poll = poll_interval
        self._woken = asyncio.Event()
        store.on_queued(self.wake)

    @property
    def limiter(self) -> RateLimiter:
        """Telegram's limits, which this worker's sender keeps."""
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
        """Send one row and record what Telegram's answer means for it."""
        sent = await self._sender.send(self._call(message))
        if sent.ok or (sent.outcome is Outcome.PERMANENT and message.kind == "menu"):
            # A menu for a chat that never talked to the bot: its /start sets it.
            telemetry.count("delivery_sent", kind=message.kind)
            await self._sent(message, sent.message_id)
            return "sent"
        telemetry.count("delivery_failures", error_class=sent.error)
        if sent.outcome is Outcome.RATE_LIMITED:
            await self._retry(message, f"429 retry after {sent.retry_after:g}s",
                              delay=sent.retry_after, count=False)
            return "pause"
        if sent.outcome is Outcome.BLOCKED:
            await self._blocked(message)
            return "blocked"
        if sent.outcome is Outcome.PERMANENT:
            # The request itself is wrong (a 400, an unknown method, too large): the same
            # request cannot succeed later.
            await self._retry(message, _error(sent), dead=True)
            return "dead"
        # Also 401 (a revoked token), 409 and a reply that is not JSON: the program is in
        # trouble, not the message, and the message still matters once it is fixed.
        await self._retry(message, sent.error, delay=self._backoff(message.attempts))
        return "retry"

    @staticmethod
    def _call(message: OutboxMessage) -> TelegramMethod[Any]:
        # The row's own chat, whatever its params say (the sender refuses any but a private
        # one, as a permanent answer).
        method, params = message.payload["method"], {**message.payload["params"],
                                                     "chat_id": message.chat_id}
        if method == "setMyCommands":
            return chat_menu(message.chat_id, params.get("menu"),
                             params.get("language") or "en")
        if "buttons" in params:
            params["reply_markup"] = render_buttons(params.pop("buttons"))
        # else a row queued before buttons were plain values may carry Telegram's own
        # reply_markup: it is sent as it is, so an upgrade loses no button.
        kind = _METHODS.get(method)
        if kind is None:
            raise ValueError(f"unknown outbox method {method}")
        return kind(**params)

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


def _error(sent: Sent[Any]) -> str:
    """What the row records of a refusal: the HTTP status's class and Telegram's words."""
    status = "400" if sent.error in ("TelegramBadRequest", "NotPrivateChat") else sent.error
    return f"{status} {sent.reason}"
