"""The bot: aiogram wired around the shared services (bot/composition.py), and its run loop.

Nothing is built at import time."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import socket
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

import aiohttp
from aiogram import Bot, Dispatcher
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramAPIError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.types import BotCommand, BotCommandScopeChat, User

from bot.commands import menu
from bot.composition import Services, build_services, email_fallback, open_store
from bot.delivery import DeliveryWorker
from bot.handlers import all_routers
from bot.middleware import UnitOfWorkMiddleware
from bot.ratelimit import RateLimiter, keep_share
from bot.runtime import (
    WebhookConfig,
    install_signal_handlers,
    poll,
    serve_webhook,
    sleep_or_stop,
)
from bot.session import TelegramSession
from bot.settings import Settings, SettingsError
from bot.startup_checks import check_audit_trail, check_keys_open_database
from journal.alerts.fallback import EmailFallback
from journal.clock import Clock, SystemClock, backoff
from journal.errors import safe_trace
from journal.i18n import LANGUAGES
from scheduler.runner import SchedulerRunner
from scheduler.ticks import Ticks
from storage.instances import Instances
from storage.migrate import upgrade
from storage.uow import Store

log = logging.getLogger(__name__)


@dataclass
class App:
    """The running bot: the shared services plus what only the Telegram side needs."""

    services: Services
    bot: Bot
    dispatcher: Dispatcher
    delivery: DeliveryWorker
    scheduler: SchedulerRunner | None = None
    email_fallback: EmailFallback | None = None  # None: no SMTP server configured
    instances: Instances | None = None  # None: SQLite, one instance by design

    @property
    def settings(self) -> Settings:
        return self.services.settings

    @property
    def clock(self) -> Clock:
        return self.services.clock

    @property
    def store(self) -> Store:
        return self.services.store

    async def close(self) -> None:
        await self.bot.session.close()
        if self.instances is not None:  # hands delivery over at once, not at a time-out
            await self.instances.close()
        await self.store.close()


def build_app(settings: Settings, *, clock: Clock | None = None, store: Store | None = None) -> App:
    """Wire aiogram around the services: the dispatcher and its handlers, delivery, and the
    scheduler's ticks."""
    clock = clock or SystemClock()
    services = build_services(settings, store or open_store(settings), clock)
    store = services.store
    session = TelegramSession(api=TelegramAPIServer.from_base(settings.telegram_api_url))
    bot = Bot(token=settings.require_token(), session=session)
    limiter = RateLimiter()  # every send of this bot keeps it: replies, delivery, menus
    # On PostgreSQL several instances may serve one bot: they share its limit and one of
    # them delivers the outbox (storage/instances.py).
    instances = Instances(settings.database_url) if store.postgres else None
    dp = Dispatcher()
    dp.workflow_data.update(services.by_name())  # handlers receive each service by name
    dp.update.outer_middleware(UnitOfWorkMiddleware(
        store, clock, limiter=limiter, staff_language=services.settings.default_language))
    for router in all_routers():
        dp.include_router(router)
    delivery = DeliveryWorker(store=store, bot=bot, clock=clock, alerts=services.alerts,
                              limiter=limiter, instances=instances,
                              lease=timedelta(seconds=settings.outbox_lease_seconds),
                              base_backoff=settings.delivery_base_backoff_seconds,
                              max_backoff=settings.delivery_max_backoff_seconds)
    runner = None
    if settings.scheduler_enabled:
        reminder = settings.reminder_delay_minutes
        ticks = Ticks(
            store=store, clock=clock, checkins=services.checkins, alerts=services.alerts,
            reminder_delay=timedelta(minutes=reminder) if reminder else None,
            lookback_days=settings.catchup_days,
            extra_steps=[services.discharge.retention_step])  # erase once retention has passed
        runner = SchedulerRunner(ticks, interval=timedelta(seconds=settings.tick_seconds))
    return App(services=services, bot=bot, dispatcher=dp, delivery=delivery, scheduler=runner,
               email_fallback=email_fallback(settings, store, clock), instances=instances)


class _TelegramDown(Exception):
    """getMe got no usable answer, for a reason that passes (5xx, 429, a time-out)."""

    def __init__(self, reason: str, retry_after: float = 0.0) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


def _transient(exc: BaseException) -> bool:
    """A failure that Telegram being down or overloaded explains; waiting can fix it."""
    return isinstance(exc, (TelegramServerError, TelegramRetryAfter, TelegramNetworkError,
                            ClientDecodeError, OSError, TimeoutError))


def _unreachable(exc: BaseException) -> bool:
    """Nothing listens at the URL (connection refused, a name that does not resolve): on a
    first attempt that is a typo far more often than an outage."""
    cause = exc.__cause__ if isinstance(exc, TelegramNetworkError) else exc
    return isinstance(cause, (aiohttp.ClientConnectorError, ConnectionRefusedError,
                              socket.gaierror))


async def _get_me(bot: Bot, settings: Settings, *, first: bool = True) -> User:
    """Who the bot is. A token Telegram refuses, an answer no retry can change, or (on the
    first attempt) a URL where nothing listens stop the start with one line naming the
    setting (never the token, which is part of the URL); Telegram being down raises
    _TelegramDown, and the caller waits for it."""
    try:
        return await bot.get_me(request_timeout=20)
    except TelegramUnauthorizedError:
        raise SettingsError("STEADFAST_BOT_TOKEN was refused by Telegram (401 Unauthorized): "
                            "check the token BotFather gave") from None
    except Exception as exc:
        if first and _unreachable(exc):
            raise SettingsError(f"STEADFAST_TELEGRAM_API_URL {settings.telegram_api_url} does "
                                f"not answer ({type(exc).__name__})") from None
        if _transient(exc):
            wait = exc.retry_after if isinstance(exc, TelegramRetryAfter) else 0.0
            raise _TelegramDown(type(exc).__name__, wait) from None
        if isinstance(exc, TelegramAPIError):
            raise SettingsError(f"STEADFAST_TELEGRAM_API_URL {settings.telegram_api_url} "
                                f"refused getMe ({type(exc).__name__})") from None
        raise


def _backoff(settings: Settings, attempts: int) -> float:
    """The delivery backoff settings, for the other calls that wait for Telegram."""
    return backoff(attempts, base=settings.delivery_base_backoff_seconds,
                   cap=settings.delivery_max_backoff_seconds)


async def _get_me_or_stop(bot: Bot, settings: Settings, stop: asyncio.Event, *,
                          first: bool) -> User | None:
    """_get_me, or None as soon as the process is told to stop (a call in flight, up to
    its 20 s time-out, does not hold up a SIGTERM)."""
    call = asyncio.ensure_future(_get_me(bot, settings, first=first))
    stopped = asyncio.ensure_future(stop.wait())
    await asyncio.wait({call, stopped}, return_when=asyncio.FIRST_COMPLETED)
    stopped.cancel()
    if not call.done():
        call.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await call
        return None
    return call.result()


async def wait_for_telegram(bot: Bot, settings: Settings, stop: asyncio.Event,
                            down: _TelegramDown) -> User | None:
    """getMe again and again, with the delivery backoff and its jitter (or as long as a 429
    asks), until Telegram answers; None when the process was told to stop first."""
    attempts = 1
    while not stop.is_set():
        delay = max(_backoff(settings, attempts), down.retry_after)
        log.warning("Telegram did not answer getMe (%s, attempt %s); trying again in %.1fs",
                    down.reason, attempts, delay)
        await sleep_or_stop(stop, delay)
        if stop.is_set():
            break
        try:
            return await _get_me_or_stop(bot, settings, stop, first=False)
        except _TelegramDown as exc:
            down = exc
        attempts += 1
    return None


class _Paced:
    """Telegram calls for the command menus: one at a time, at most `per_second`, inside
    the delivery worker's limits (so menus for thousands of chats never crowd out an alert);
    a failure that passes is tried again with backoff until it succeeds or the stop."""

    def __init__(self, app: App, stop: asyncio.Event, per_second: float = 10.0) -> None:
        self._app, self._stop = app, stop
        self._interval = 1.0 / per_second
        self._attempts = 0

    async def call(self, chat_id: int, method: Callable[[], Awaitable[object]]) -> bool:
        """True once done; False when it cannot be (a permanent answer) or on the stop."""
        limiter = self._app.delivery.limiter
        while not self._stop.is_set():
            stamp = await limiter.acquire(chat_id)
            try:
                await method()
                self._attempts = 0
                return True
            except TelegramRetryAfter as exc:
                limiter.pause(exc.retry_after)
                delay = float(exc.retry_after)
            except Exception as exc:
                if not _transient(exc):
                    log.info("no command menu for one chat: %s", type(exc).__name__)
                    return False
                self._attempts += 1
                delay = _backoff(self._app.settings, self._attempts)
                if self._attempts in (1, 8, 64):
                    log.warning("command menus not set yet (%s); trying again in %.0fs",
                                type(exc).__name__, delay)
            finally:
                limiter.done(chat_id, stamp)
                await sleep_or_stop(self._stop, self._interval)
            await sleep_or_stop(self._stop, delay)
        return False


async def register_commands(app: App, stop: asyncio.Event | None = None) -> None:
    """Menus by Telegram's scopes: the client menu is the default scope's (once bare and
    once per language), and only staff get a chat's own. So a start makes a few calls
    whatever the caseload; a role that changes while the bot runs gets its chat's menu
    through the outbox (kind "menu"). Runs beside the bot: Telegram failing here is retried
    later and never stops or delays the start."""
    stop = stop or asyncio.Event()
    paced = _Paced(app, stop)
    try:
        default = app.settings.default_language
        await paced.call(0, functools.partial(
            app.bot.set_my_commands, _commands(menu("client", default))))
        for language in LANGUAGES:
            if stop.is_set():
                return
            await paced.call(0, functools.partial(
                app.bot.set_my_commands, _commands(menu("client", language)),
                language_code=language))
        staff = await _staff(app, stop)
        for chat_id, role in staff:
            await paced.call(chat_id, functools.partial(
                app.bot.set_my_commands, _commands(menu(role, default)),
                scope=BotCommandScopeChat(chat_id=chat_id)))
            if stop.is_set():
                return
        log.info("command menus done: %s languages, %s staff chats", len(LANGUAGES), len(staff))
    except Exception as exc:  # the menus are a convenience: nothing else may suffer for them
        log.error("command menus could not be set: %s", safe_trace(exc))


def _commands(items: list[tuple[str, str]]) -> list[BotCommand]:
    return [BotCommand(command=name, description=text) for name, text in items]


async def _staff(app: App, stop: asyncio.Event) -> list[tuple[int, str]]:
    """(chat, role) of every active clinician and supervisor: a handful, not the caseload."""
    attempts = 0
    while True:
        try:
            async with app.store.unit_of_work() as uow:
                staff = await uow.clinicians.everyone()
            return [(c.telegram_id, c.role) for c in staff if c.active]
        except Exception as exc:  # the database may be down for a moment: try again later
            attempts += 1
            log.warning("command menus wait for the database: %s", type(exc).__name__)
            await sleep_or_stop(stop, _backoff(app.settings, attempts))
            if stop.is_set():
                return []


def _watching(app: App, stop: asyncio.Event, webhook: WebhookConfig | None
              ) -> list[asyncio.Task[None]]:
    """Metrics are counted from the start when on; while polling, /metrics, /healthz and
    /readyz get a small server of their own at STEADFAST_METRICS_PORT (with --webhook they
    are on the webhook server)."""
    settings = app.settings
    if settings.metrics_enabled:
        from bot.observability import enable

        enable()
    if webhook is not None:
        return []
    if settings.metrics_port is None:
        if settings.metrics_enabled:
            log.warning("metrics are on but not served: set STEADFAST_METRICS_PORT to serve "
                        "them while polling")
        return []
    from bot.observability import serve

    return [asyncio.create_task(serve(app.services, stop, host=settings.metrics_host,
                                      port=settings.metrics_port), name="metrics")]


def workspace_routes(services: Services, *, webhook: bool) -> list[Callable[..., None]]:
    """The workspace's route adder when it is on: with a webhook on the webhook's server
    (WEB_PORT or WEB_PUBLIC_URL set), with polling on its own port (WEB_PORT set)."""
    settings = services.settings
    if not settings.web_enabled:
        return []
    if not webhook and settings.web_port is None:
        log.warning("the workspace is off in polling mode until STEADFAST_WEB_PORT is set")
        return []
    from bot.workspace.app import workspace

    return [workspace(services)]


async def run_bot(settings: Settings, *, webhook: WebhookConfig | None = None,
                  stop: asyncio.Event | None = None, clock: Clock | None = None,
                  migrate: bool = True, handle_signals: bool = True,
                  ready: asyncio.Event | None = None) -> None:
    """Migrate, start delivery, serve updates until SIGTERM/SIGINT, then close everything.

    Telegram down at the start (5xx, 429, time-outs) does not stop it: delivery, the
    scheduler and the e-mail fallback run while getMe is tried again, and updates are served
    once Telegram answers."""
    if migrate:
        await asyncio.to_thread(upgrade, settings.database_url)
    app = build_app(settings, clock=clock)
    stop = stop or asyncio.Event()
    me: User | None = None
    down: _TelegramDown | None = None
    try:  # a start refused for its settings says only why, not that it stopped
        await check_keys_open_database(app.store, settings)
        await check_audit_trail(app.store, app.services.clock.now())
        if handle_signals:  # from here on a SIGTERM stops cleanly, even while Telegram is down
            install_signal_handlers(stop, reload_keys=app.store.reload_keys)
        try:
            me = await _get_me_or_stop(app.bot, settings, stop, first=True)
        except _TelegramDown as exc:
            down = exc
        if me is None and down is None:  # stopped during the first getMe
            await app.close()
            log.info("Steadfast stopped cleanly")
            return
    except BaseException:
        await app.close()
        raise
    tasks: list[asyncio.Task[None]] = []
    try:
        tasks.extend(_watching(app, stop, webhook))
        if app.instances is not None:
            tasks.append(asyncio.create_task(
                keep_share(app.delivery.limiter, app.instances, stop), name="rate-share"))
        tasks.append(asyncio.create_task(app.delivery.run(stop), name="delivery"))
        routes = workspace_routes(app.services, webhook=webhook is not None)
        if routes:  # health, and metrics when on, are served beside the pages too
            from bot.observability import add_routes

            routes.insert(0, functools.partial(add_routes, services=app.services))
        if routes and webhook is None:
            assert settings.web_port is not None
            from bot.workspace.server import build_server, serve

            tasks.append(asyncio.create_task(serve(
                build_server(routes), settings.web_host, settings.web_port, stop,
                what="workspace"), name="workspace"))
        if app.email_fallback is not None:
            from bot.mail import run_fallback

            tasks.append(asyncio.create_task(run_fallback(app.email_fallback, stop),
                                             name="email-fallback"))
        else:
            log.warning("e-mail fallback is off: STEADFAST_SMTP_HOST is not set")
        if me is None:
            assert down is not None
            log.warning("waiting for Telegram at STEADFAST_TELEGRAM_API_URL %s (getMe: %s); "
                        "delivery, the scheduler and the e-mail fallback run meanwhile, "
                        "updates are served once it answers", settings.telegram_api_url, down.reason)
            if app.scheduler is not None:
                app.scheduler.start()
            me = await wait_for_telegram(app.bot, settings, stop, down)
            if me is None:
                return  # stopped while waiting
            log.info("Telegram answers again")
        app.dispatcher["bot_username"] = me.username or "bot"
        tasks.append(asyncio.create_task(register_commands(app, stop), name="command-menus"))
        started = asyncio.Event()
        username = me.username

        async def announce() -> None:
            await started.wait()
            if app.scheduler is not None:  # ticks begin once updates are served (at once
                # while Telegram is down: see above); start() twice is one start
                app.scheduler.start()
            log.info("Steadfast is running as @%s (%s)", username,
                     "webhook" if webhook else "polling")
            if ready is not None:
                ready.set()

        tasks.append(asyncio.create_task(announce(), name="announce"))
        if webhook is None:
            started.set()
            await poll(app.bot, app.dispatcher, stop, concurrency=settings.update_concurrency)
        else:
            if not routes:  # the webhook's server has health, and metrics when on
                from bot.observability import add_routes

                routes = [functools.partial(add_routes, services=app.services)]
            await serve_webhook(app.bot, app.dispatcher, webhook, stop, started=started,
                                routes=routes)
    finally:
        stop.set()
        if app.scheduler is not None:  # no tick may still run when the store closes
            await app.scheduler.stop()
        for task in tasks:
            try:
                await asyncio.wait_for(task, timeout=10)
            except (TimeoutError, asyncio.CancelledError):
                task.cancel()
        renderer = sys.modules.get("journal.review.renderer")
        if renderer is not None:  # a chart or a report was drawn: stop its worker process
            renderer.RENDERER.close()
        await app.close()
        log.info("Steadfast stopped cleanly")
