"""Update intake: long polling (each update confirmed only after its transaction committed)
or the webhook server, one person's updates always in order."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.dispatcher.middlewares.user_context import UserContextMiddleware
from aiogram.exceptions import (
    TelegramConflictError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import TelegramMethod
from aiogram.types import Update
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web
from pydantic import ValidationError

from app.lifecycle import sleep_or_stop
from app.server import RouteAdder, build_server, make_runner
from bot.middleware import TransientFailure

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WebhookConfig:
    host: str
    port: int
    path: str
    secret: str
    public_url: str | None = None  # when set, setWebhook is called with it


class GetRawUpdates(TelegramMethod[list[dict[str, Any]]]):
    """getUpdates without aiogram's parsing: aiogram validates the whole list at once, so
    one update it cannot read would fail every poll, and pydantic's error quotes the input
    (a client's journal text included). Each update is read on its own by `read_update`."""

    __returning__ = list[dict[str, Any]]
    __api_method__ = "getUpdates"

    offset: int | None = None
    limit: int | None = None
    timeout: int | None = None
    allowed_updates: list[str] | None = None


def update_types(dp: Dispatcher) -> list[str]:
    """What the handlers use, and what the private-chat guard must see to leave a group or
    channel the bot was added to."""
    return sorted({*dp.resolve_used_update_types(), "message", "callback_query",
                   "my_chat_member", "channel_post"})


def update_id_of(raw: object) -> int | None:
    value = raw.get("update_id") if isinstance(raw, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def read_update(bot: Bot, raw: object) -> Update | None:
    """One update as aiogram's type, or None (logged by id and error type, never content)
    when it cannot be read: it is then confirmed and skipped like a handled one."""
    try:
        return Update.model_validate(raw, context={"bot": bot})
    except ValidationError as exc:
        log.error("update %s could not be read and was skipped: %s", update_id_of(raw),
                  type(exc).__name__)
        return None


class _Watermark:
    """Which fetched updates are finished, so the offset confirmed to Telegram never passes
    one that is not: the next offset is the oldest unfinished update's id, or one past the
    newest fetched when all are finished."""

    def __init__(self) -> None:
        self.newest: int | None = None
        self.unfinished: set[int] = set()
        self.changed = asyncio.Event()

    def fetched(self, update_id: int) -> bool:
        """True for an update not fetched before in this process (a fetch from an offset
        behind updates still in flight returns those again)."""
        if self.newest is not None and update_id <= self.newest:
            return False
        self.newest = update_id
        self.unfinished.add(update_id)
        return True

    def finish(self, update_id: int) -> None:
        oldest = update_id == min(self.unfinished, default=None)
        self.unfinished.discard(update_id)
        if oldest:  # the offset moved: worth asking Telegram again (and confirming)
            self.changed.set()

    @property
    def offset(self) -> int | None:
        if self.unfinished:
            return min(self.unfinished)
        return None if self.newest is None else self.newest + 1


def person_key(update: Update) -> int | None:
    """Whose update this is: the sender (from_user), else the chat. One person's updates
    are handled one at a time, in the order Telegram numbered them."""
    context = UserContextMiddleware.resolve_event_context(update)
    if context.user is not None:
        return context.user.id
    return context.chat.id if context.chat is not None else None


class _Lanes:
    """Updates handled concurrently, at most `concurrency` at once, one person's in order."""

    def __init__(self, bot: Bot, dp: Dispatcher, stop: asyncio.Event, marks: _Watermark, *,
                 concurrency: int) -> None:
        self._bot = bot
        self._dp = dp
        self._stop = stop
        self._marks = marks
        self._slots = asyncio.Semaphore(concurrency)
        self._last: dict[int | None, asyncio.Task[bool]] = {}
        self.tasks: set[asyncio.Task[bool]] = set()

    def start(self, update: Update) -> None:
        key = person_key(update)
        task = asyncio.create_task(self._handle(update, self._last.get(key)),
                                   name=f"update-{update.update_id}")
        self._last[key] = task
        self.tasks.add(task)

        def done(finished: asyncio.Task[bool]) -> None:
            self.tasks.discard(finished)
            if self._last.get(key) is finished:
                del self._last[key]

        task.add_done_callback(done)

    async def _handle(self, update: Update, before: asyncio.Task[bool] | None) -> bool:
        """True once the update is finished (committed, skipped or failed for good). An
        update whose predecessor of the same person did not finish is not begun either, so
        after a restart that person's updates come again in their order."""
        if before is not None and not await before:
            return False
        async with self._slots:
            if self._stop.is_set():
                return False  # not begun: delivered again after the restart
            while True:  # an update once begun is finished, even after a stop signal
                try:
                    await self._dp.feed_update(self._bot, update)
                    break
                except TransientFailure:
                    if self._stop.is_set():
                        return False  # not confirmed: it will be delivered again
                    await sleep_or_stop(self._stop, 2)
                except Exception as exc:  # confirmed and skipped: it must not come back
                    log.error("update %s failed outside the handlers: %s", update.update_id,
                              type(exc).__name__)
                    break
        self._marks.finish(update.update_id)
        return True


async def poll(bot: Bot, dp: Dispatcher, stop: asyncio.Event, *, poll_seconds: int = 10,
               concurrency: int = 8, stop_seconds: float = 20.0) -> None:
    """Long polling that confirms an update only after its transaction committed.

    aiogram's own loop confirms updates as it reads them (aiogram #1397), so a crash loses
    them; here the offset moves only up to the oldest update not yet finished, and a
    redelivered update is recognised by its recorded id. Up to `concurrency` updates are
    handled at once (one person's one after the other), and the next batch is fetched
    while they run; at most `4 * concurrency` fetched updates wait unfinished."""
    marks = _Watermark()
    lanes = _Lanes(bot, dp, stop, marks, concurrency=concurrency)
    allowed = update_types(dp)
    backoff = 1.0
    try:
        while not stop.is_set():
            marks.changed.clear()
            if len(marks.unfinished) >= 4 * concurrency:  # enough in hand: let them finish
                await _changed_or_stop(marks, stop, 1.0)
                continue
            # Behind updates still in flight, Telegram answers at once with them again:
            # then wait until the oldest finishes (or 0.1 s) before asking once more, as
            # each such answer repeats every unconfirmed update.
            waiting = bool(marks.unfinished)
            fetch = asyncio.ensure_future(bot(
                GetRawUpdates(offset=marks.offset, timeout=0 if waiting else poll_seconds,
                              allowed_updates=allowed),
                request_timeout=poll_seconds + 10))
            stopped = asyncio.ensure_future(stop.wait())
            await asyncio.wait({fetch, stopped}, return_when=asyncio.FIRST_COMPLETED)
            stopped.cancel()
            if not fetch.done():
                fetch.cancel()
                break
            try:
                updates = fetch.result()
            except TelegramConflictError:
                log.error("another consumer holds the updates (webhook set?); retrying")
                await sleep_or_stop(stop, 5)
                continue
            except (TelegramNetworkError, TelegramServerError, OSError) as exc:
                log.warning("getUpdates failed (%s); retrying in %.0fs", type(exc).__name__,
                            backoff)
                await sleep_or_stop(stop, backoff)
                backoff = min(backoff * 2, 5)  # an outage over, updates flow within seconds
                continue
            backoff = 1.0
            fresh = 0
            for raw in updates:
                update_id = update_id_of(raw)
                if update_id is None or not marks.fetched(update_id):
                    continue
                fresh += 1
                update = read_update(bot, raw)
                if update is None:
                    marks.finish(update_id)  # confirmed and skipped
                else:
                    lanes.start(update)
            if not fresh and marks.unfinished:
                await _changed_or_stop(marks, stop, 0.1)
    finally:
        await _finish_in_flight(lanes, stop_seconds)
    if marks.offset is not None:  # confirm what finished, so a restart does not re-read it
        try:
            await bot(GetRawUpdates(offset=marks.offset, timeout=0, limit=1), request_timeout=5)
        except Exception as exc:
            log.info("could not confirm the last offset on stop: %s", type(exc).__name__)


async def _changed_or_stop(marks: _Watermark, stop: asyncio.Event, seconds: float) -> None:
    """Wait until the offset moves, the process is told to stop, or `seconds` passed."""
    waits = {asyncio.ensure_future(marks.changed.wait()), asyncio.ensure_future(stop.wait())}
    _, pending = await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()


async def _finish_in_flight(lanes: _Lanes, seconds: float) -> None:
    """Updates begun are finished (within `seconds`); those not begun stay unconfirmed."""
    if not lanes.tasks:
        return
    _, late = await asyncio.wait(set(lanes.tasks), timeout=seconds)
    if late:
        log.warning("%d update(s) still in flight at stop; they will be delivered again",
                    len(late))
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)


class WebhookHandler(SimpleRequestHandler):
    """Telegram gets 200 only after the update's transaction committed (handled in the
    foreground); TransientFailure (the database is down) answers 500, so Telegram delivers
    the update again. An update that cannot be read, or whose handling failed otherwise,
    answers 200: redelivering it would fail the same way, for hours."""

    def __init__(self, *, dispatcher: Dispatcher, bot: Bot, secret_token: str,
                 **data: Any) -> None:
        super().__init__(dispatcher=dispatcher, bot=bot, secret_token=secret_token,
                         handle_in_background=False, **data)

    async def _handle_request(self, bot: Bot, request: web.Request) -> web.Response:
        try:
            raw = await request.json(loads=bot.session.json_loads)
        except ValueError as exc:
            log.error("a webhook body that is not JSON was skipped: %s", type(exc).__name__)
            return web.json_response({})
        update = read_update(bot, raw)
        if update is None:
            return web.json_response({})
        try:
            result = await self.dispatcher.feed_update(bot, update, **self.data)
        except TransientFailure:
            return web.Response(status=500, text="try again later")
        except Exception as exc:
            log.error("update %s failed outside the handlers: %s", update.update_id,
                      type(exc).__name__)
            return web.json_response({})
        method = result if isinstance(result, TelegramMethod) else None
        return web.Response(body=self._build_response_writer(bot=bot, result=method))


async def serve_webhook(bot: Bot, dp: Dispatcher, config: WebhookConfig, stop: asyncio.Event,
                        *, started: asyncio.Event | None = None,
                        routes: Sequence[RouteAdder] = (), **data: object) -> None:
    """The webhook, and beside it on the same server whatever `routes` add (the
    workspace pages)."""

    def webhook(app: web.Application) -> None:
        WebhookHandler(dispatcher=dp, bot=bot, secret_token=config.secret,
                       **data).register(app, path=config.path)

    app = build_server([webhook, *routes])
    runner = make_runner(app)
    await runner.setup()
    site = web.TCPSite(runner, config.host, config.port)
    await site.start()
    setting: asyncio.Task[None] | None = None
    if config.public_url:
        try:
            await _set_webhook(bot, dp, config)
        except (TelegramNetworkError, TelegramServerError, TelegramRetryAfter, OSError) as exc:
            # Telegram is down: serve anyway (a webhook set before still delivers here once
            # it is back) and set it again in the background.
            log.warning("setWebhook failed (%s); trying again in the background",
                        type(exc).__name__)
            setting = asyncio.create_task(_set_webhook_later(bot, dp, config, stop))
    log.info("webhook listening on %s:%s%s", config.host, config.port, config.path)
    if started is not None:
        started.set()
    try:
        await stop.wait()
    finally:
        if setting is not None:
            setting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await setting
        await runner.cleanup()  # stops accepting, lets requests in flight finish


async def _set_webhook(bot: Bot, dp: Dispatcher, config: WebhookConfig) -> None:
    assert config.public_url is not None
    await bot.set_webhook(config.public_url, secret_token=config.secret,
                          allowed_updates=update_types(dp))


async def _set_webhook_later(bot: Bot, dp: Dispatcher, config: WebhookConfig,
                             stop: asyncio.Event) -> None:
    backoff = 1.0
    while not stop.is_set():
        await sleep_or_stop(stop, backoff)
        try:
            await _set_webhook(bot, dp, config)
        except TelegramRetryAfter as exc:
            backoff = float(exc.retry_after)
        except (TelegramNetworkError, TelegramServerError, OSError) as exc:
            backoff = min(backoff * 2, 60)
            log.warning("setWebhook failed (%s); trying again in %.0fs", type(exc).__name__,
                        backoff)
        except Exception as exc:  # a refusal no retry changes: said, and not repeated
            log.error("setWebhook refused: %s", type(exc).__name__)
            return
        else:
            log.info("webhook set")
            return
