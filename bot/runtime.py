"""Running the bot: long polling or a webhook server, and a clean stop on SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable
from dataclasses import dataclass

from aiogram import Bot, Dispatcher
from aiogram.exceptions import TelegramConflictError, TelegramNetworkError, TelegramServerError
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web

from bot.middleware import TransientFailure

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WebhookConfig:
    host: str
    port: int
    path: str
    secret: str
    public_url: str | None = None  # when set, setWebhook is called with it


def install_signal_handlers(stop: asyncio.Event,
                            reload_keys: Callable[[], object] | None = None) -> None:
    """SIGTERM/SIGINT stop cleanly; SIGHUP reads the master key file again."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if reload_keys is not None:
        loop.add_signal_handler(signal.SIGHUP, reload_keys)


async def poll(bot: Bot, dp: Dispatcher, stop: asyncio.Event, *, poll_seconds: int = 10) -> None:
    """Long polling that confirms an update only after its transaction committed.

    aiogram's own loop confirms updates as it reads them (aiogram #1397), so a crash loses
    them; here the offset moves past an update only once it was handled, and a redelivered
    update is recognised by its recorded id."""
    offset: int | None = None
    allowed = dp.resolve_used_update_types()
    backoff = 1.0
    while not stop.is_set():
        fetch = asyncio.ensure_future(
            bot.get_updates(offset=offset, timeout=poll_seconds, allowed_updates=allowed,
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
            await _sleep_or_stop(stop, 5)
            continue
        except (TelegramNetworkError, TelegramServerError, OSError) as exc:
            log.warning("getUpdates failed (%s); retrying in %.0fs", type(exc).__name__, backoff)
            await _sleep_or_stop(stop, backoff)
            backoff = min(backoff * 2, 30)
            continue
        backoff = 1.0
        for update in updates:
            while True:  # an in-flight update is always finished, even after a stop signal
                try:
                    await dp.feed_update(bot, update)
                    break
                except TransientFailure:
                    if stop.is_set():
                        return  # not confirmed: it will be delivered again after restart
                    await _sleep_or_stop(stop, 2)
                except Exception as exc:
                    log.error("update %s failed outside the handlers: %s", update.update_id,
                              type(exc).__name__)
                    break
            offset = update.update_id + 1
    if offset is not None:  # confirm what was handled, so a restart does not re-read it
        try:
            await bot.get_updates(offset=offset, timeout=0, limit=1, request_timeout=5)
        except Exception as exc:
            log.info("could not confirm the last offset on stop: %s", type(exc).__name__)


async def serve_webhook(bot: Bot, dp: Dispatcher, config: WebhookConfig, stop: asyncio.Event,
                        *, started: asyncio.Event | None = None, **data: object) -> None:
    app = web.Application()
    # handle_in_background=False: Telegram gets 200 only after the update's transaction
    # committed; a failure answers 500 and Telegram delivers the update again.
    SimpleRequestHandler(dispatcher=dp, bot=bot, secret_token=config.secret,
                         handle_in_background=False, **data).register(app, path=config.path)
    runner = web.AppRunner(app, shutdown_timeout=30)
    await runner.setup()
    site = web.TCPSite(runner, config.host, config.port)
    await site.start()
    if config.public_url:
        await bot.set_webhook(config.public_url, secret_token=config.secret,
                              allowed_updates=dp.resolve_used_update_types())
    log.info("webhook listening on %s:%s%s", config.host, config.port, config.path)
    if started is not None:
        started.set()
    try:
        await stop.wait()
    finally:
        await runner.cleanup()  # stops accepting, lets requests in flight finish


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
