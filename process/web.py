"""`steadfast web`: the workspace alone, for programs that serve it apart from the bot.

It shares the bot's database (sessions, sign-in links and the outbox live there): a page's
acknowledgement queues the edits of the Telegram copies, and the bot delivers them."""

from __future__ import annotations

import asyncio
import functools
import logging

from app.checks import check_keys_open_database
from app.composition import build_services, open_store
from app.lifecycle import install_signal_handlers, wind_down
from app.server import build_server, serve
from app.settings import Settings
from journal.clock import Clock, SystemClock
from web.routes import workspace

log = logging.getLogger(__name__)


async def run_web(settings: Settings, host: str, port: int, *, stop: asyncio.Event | None = None,
                  clock: Clock | None = None, handle_signals: bool = True) -> None:
    store = open_store(settings)
    stop = stop or asyncio.Event()
    try:
        await check_keys_open_database(store, settings)
        services = build_services(settings, store, clock or SystemClock())
        if handle_signals:
            install_signal_handlers(stop, reload_keys=store.reload_keys)
        if settings.metrics_enabled:
            from app.observability import enable

            enable()
        from app.observability import add_routes

        await serve(build_server([functools.partial(add_routes, services=services),
                                  workspace(services)]), host, port, stop, what="workspace")
    finally:
        await wind_down(stop, ())
        await store.close()
        log.info("workspace stopped cleanly")
