"""`steadfast run`'s process: migrate, build the bot (bot/dispatcher.py), then run delivery,
the scheduler, the e-mail fallback, metrics and the workspace beside it until told to stop,
and stop them all through one path (app/lifecycle.py)."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable

from aiogram.types import User

from app.checks import check_audit_trail, check_keys_open_database, load_keyring
from app.composition import Services
from app.lifecycle import install_signal_handlers, wind_down
from app.settings import Settings
from bot.connect import TelegramDown, get_me_or_stop, wait_for_telegram
from bot.dispatcher import App, build_app
from bot.intake import WebhookConfig, poll, serve_webhook
from bot.menus import register_commands
from bot.ratelimit import keep_share
from journal.clock import Clock
from storage.migrate import upgrade

log = logging.getLogger(__name__)


def _watching(app: App, stop: asyncio.Event, webhook: WebhookConfig | None
              ) -> list[asyncio.Task[None]]:
    """Metrics are counted from the start when on; while polling, /metrics, /healthz and
    /readyz get a small server of their own at STEADFAST_METRICS_PORT (with --webhook they
    are on the webhook server)."""
    settings = app.settings
    if settings.metrics_enabled:
        from app.observability import enable

        enable()
    if webhook is not None:
        return []
    if settings.metrics_port is None:
        if settings.metrics_enabled:
            log.warning("metrics are on but not served: set STEADFAST_METRICS_PORT to serve "
                        "them while polling")
        return []
    from app.observability import serve

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
    from web.routes import workspace

    return [workspace(services)]


async def run_bot(settings: Settings, *, webhook: WebhookConfig | None = None,
                  stop: asyncio.Event | None = None, clock: Clock | None = None,
                  migrate: bool = True, handle_signals: bool = True,
                  ready: asyncio.Event | None = None) -> None:
    """Migrate, start delivery, serve updates until SIGTERM/SIGINT, then close everything.

    Telegram down at the start (5xx, 429, time-outs) does not stop it: delivery, the
    scheduler and the e-mail fallback run while getMe is tried again, and updates are served
    once Telegram answers."""
    if migrate:  # with the keys: a migration may seal what is stored (0009)
        await asyncio.to_thread(upgrade, settings.database_url, ring=load_keyring(settings))
    app = build_app(settings, clock=clock)
    stop = stop or asyncio.Event()
    me: User | None = None
    down: TelegramDown | None = None
    try:  # a start refused for its settings says only why, not that it stopped
        await check_keys_open_database(app.store, settings)
        await check_audit_trail(app.store, app.services.clock.now())
        if handle_signals:  # from here on a SIGTERM stops cleanly, even while Telegram is down
            install_signal_handlers(stop, reload_keys=app.store.reload_keys)
        try:
            me = await get_me_or_stop(app.bot, settings, stop, first=True)
        except TelegramDown as exc:
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
                keep_share(app.sender.limiter, app.instances, stop), name="rate-share"))
        tasks.append(asyncio.create_task(app.delivery.run(stop), name="delivery"))
        routes = workspace_routes(app.services, webhook=webhook is not None)
        if routes:  # health, and metrics when on, are served beside the pages too
            from app.observability import add_routes

            routes.insert(0, functools.partial(add_routes, services=app.services))
        if routes and webhook is None:
            assert settings.web_port is not None
            from app.server import build_server, serve

            tasks.append(asyncio.create_task(serve(
                build_server(routes), settings.web_host, settings.web_port, stop,
                what="workspace"), name="workspace"))
        if app.email_fallback is not None:
            from app.mail import run_fallback

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
                from app.observability import add_routes

                routes = [functools.partial(add_routes, services=app.services)]
            await serve_webhook(app.bot, app.dispatcher, webhook, stop, started=started,
                                routes=routes)
    finally:
        stop.set()
        if app.scheduler is not None:  # no tick may still run when the store closes
            await app.scheduler.stop()
        await wind_down(stop, tasks)
        await app.close()
        log.info("Steadfast stopped cleanly")
