"""The command menu each role sees, registered per chat so nobody sees another role's: the
menus as data, and their registration at a start (by Telegram's scopes, paced)."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from aiogram.exceptions import TelegramRetryAfter
from aiogram.types import BotCommand, BotCommandScopeChat

from app.lifecycle import sleep_or_stop
from bot.connect import retry_delay, transient
from journal.errors import safe_trace
from journal.i18n import LANGUAGES, N_, gettext_for

if TYPE_CHECKING:
    from bot.dispatcher import App

log = logging.getLogger(__name__)

CLIENT = (
    ("checkin", N_("Today's check-in")),
    ("journal", N_("Write in your journal")),
    ("entries", N_("Read your recent journal entries")),
    ("plan", N_("Your relapse prevention plan")),
    ("help", N_("Help and crisis contacts")),
    ("language", N_("Change language")),
    ("time", N_("Change check-in time")),
)
CLINICIAN = (
    ("invite", N_("Invite a new client")),
    ("alerts", N_("Open alerts")),
    ("threshold", N_("A client's alert thresholds")),
    ("schedule", N_("Set a client's check-in time and days")),
    ("pause", N_("Pause a client's check-ins")),
    ("resume", N_("Resume a client's check-ins")),
    ("caseload", N_("Your clients, most in need first")),
    ("client", N_("A client's summary and history")),
    ("report", N_("A client's session report (PDF)")),
    ("plan", N_("See or change a client's RP plan")),
    ("discharge", N_("Discharge a client")),
    ("workspace", N_("Open the workspace pages")),
    ("language", N_("Your language for alerts, summaries and reports")),
    ("help", N_("What you can do here")),
)
SUPERVISOR = (*CLINICIAN, ("deliveries", N_("Messages that could not be delivered")),
              ("reassign", N_("Move a client to another clinician")))


def menu(kind: str, language: str) -> list[tuple[str, str]]:
    table = {"client": CLIENT, "clinician": CLINICIAN, "supervisor": SUPERVISOR}.get(kind, ())
    return [(name, gettext_for(language, text)) for name, text in table]


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
                if not transient(exc):
                    log.info("no command menu for one chat: %s", type(exc).__name__)
                    return False
                self._attempts += 1
                delay = retry_delay(self._app.settings, self._attempts)
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
            await sleep_or_stop(stop, retry_delay(app.settings, attempts))
            if stop.is_set():
                return []



