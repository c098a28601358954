"""`steadfast web`: the workspace alone, for programs that serve it apart from the bot.

It shares the bot's database (sessions, sign-in links and the outbox live there): a page's
acknowledgement queues the edits of the Telegram copies, and the bot delivers them."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

from bot.composition import build_services, open_store
from bot.settings import Settings
from bot.startup_checks import check_keys_open_database
from bot.workspace.app import workspace
from bot.workspace.server import build_server, serve
from journal.clock import Clock, SystemClock

log = logging.getLogger(__name__)


async def run_web(settings: Settings, host: str, port: int, *, stop: asyncio.Event | None = None,
                  clock: Clock | None = None, handle_signals: bool = True) -> None:
    store = open_store(settings)
    stop = stop or asyncio.Event()
    try:
        await check_keys_open_database(store, settings)
        services = build_services(settings, store, clock or SystemClock())
        if handle_signals:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stop.set)
            loop.add_signal_handler(signal.SIGHUP, store.reload_keys)
        await serve(build_server([workspace(services)]), host, port, stop, what="workspace")
    finally:
        renderer = sys.modules.get("journal.review.renderer")
        if renderer is not None:  # a report was drawn: stop its worker process
            renderer.RENDERER.close()
        await store.close()
        log.info("workspace stopped cleanly")
