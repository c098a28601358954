"""Reaching Telegram at a start: getMe, a refusal said in one line naming the setting, and
waiting (with the delivery backoff) while Telegram is down."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket

import aiohttp
from aiogram import Bot
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramAPIError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.types import User

from app.lifecycle import sleep_or_stop
from app.settings import Settings, SettingsError
from journal.clock import backoff

log = logging.getLogger(__name__)


class TelegramDown(Exception):
    """getMe got no usable answer, for a reason that passes (5xx, 429, a time-out)."""

    def __init__(self, reason: str, retry_after: float = 0.0) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


def transient(exc: BaseException) -> bool:
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
    TelegramDown, and the caller waits for it."""
    try:
        return await bot.get_me(request_timeout=20)
    except TelegramUnauthorizedError:
        raise SettingsError("STEADFAST_BOT_TOKEN was refused by Telegram (401 Unauthorized): "
                            "check the token BotFather gave") from None
    except Exception as exc:
        if first and _unreachable(exc):
            raise SettingsError(f"STEADFAST_TELEGRAM_API_URL {settings.telegram_api_url} does "
                                f"not answer ({type(exc).__name__})") from None
        if transient(exc):
            wait = exc.retry_after if isinstance(exc, TelegramRetryAfter) else 0.0
            raise TelegramDown(type(exc).__name__, wait) from None
        if isinstance(exc, TelegramAPIError):
            raise SettingsError(f"STEADFAST_TELEGRAM_API_URL {settings.telegram_api_url} "
                                f"refused getMe ({type(exc).__name__})") from None
        raise


def retry_delay(settings: Settings, attempts: int) -> float:
    """The delivery backoff settings, for the other calls that wait for Telegram."""
    return backoff(attempts, base=settings.delivery_base_backoff_seconds,
                   cap=settings.delivery_max_backoff_seconds)


async def get_me_or_stop(bot: Bot, settings: Settings, stop: asyncio.Event, *,
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


# Like polling's getUpdates after a failure: once an outage is over, a bot that started
# during it serves within seconds, not after a delivery backoff of up to minutes.
GET_ME_MAX_WAIT = 5.0


async def wait_for_telegram(bot: Bot, settings: Settings, stop: asyncio.Event,
                            down: TelegramDown) -> User | None:
    """getMe again and again, with the delivery backoff and its jitter capped at
    GET_ME_MAX_WAIT (or as long as a 429 asks), until Telegram answers; None when the
    process was told to stop first."""
    attempts = 1
    while not stop.is_set():
        delay = max(backoff(attempts, base=settings.delivery_base_backoff_seconds,
                            cap=min(settings.delivery_max_backoff_seconds, GET_ME_MAX_WAIT)),
                    down.retry_after)
        log.warning("Telegram did not answer getMe (%s, attempt %s); trying again in %.1fs",
                    down.reason, attempts, delay)
        await sleep_or_stop(stop, delay)
        if stop.is_set():
            break
        try:
            return await get_me_or_stop(bot, settings, stop, first=False)
        except TelegramDown as exc:
            down = exc
        attempts += 1
    return None


