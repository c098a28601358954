"""The command menu each role sees, registered per chat so nobody sees another role's: the
menus as data, and their registration at a start (by Telegram's scopes, paced)."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Protocol

from aiogram.methods import DeleteMyCommands, SetMyCommands
from aiogram.types import BotCommand, BotCommandScopeChat

from app.lifecycle import sleep_or_stop
from bot.connect import retry_delay
from bot.sender import Outcome
from journal.errors import safe_trace
from journal.i18n import LANGUAGES, N_, gettext_for

if TYPE_CHECKING:
    from app.settings import Settings
    from bot.sender import Sender
    from storage.uow import Store


class App(Protocol):
    """What registering the menus needs of the running bot (bot/dispatcher.py's App has it):
    named here rather than imported, since the dispatcher's handlers import the menus."""

    @property
    def sender(self) -> Sender: ...
    @property
    def settings(self) -> Settings: ...
    @property
    def store(self) -> Store: ...

log = logging.getLogger(__name__)

CLIENT = (
    ("checkin", N_("Today's check-in")),
    ("journal", N_("Write in your journal")),
    ("entries", N_("Read your recent journal entries")),
    ("plan", N_("Your relapse prevention plan")),
    ("mydata", N_("A copy of your own record")),
    ("now", N_("At risk right now: your own steps")),
    ("progress", N_("Your check-ins: where you are and what comes next")),
    ("appointments", N_("Your next appointments")),
    ("homework", N_("Your tasks between sessions")),
    ("help", N_("Help and crisis contacts")),
    ("language", N_("Change language")),
    ("time", N_("Change check-in time")),
    ("sharing", N_("What is shared, and who looked at your information")),
)
CLINICIAN = (
    ("invite", N_("Invite a new client")),
    ("alerts", N_("Open alerts")),
    ("threshold", N_("A client's alert thresholds")),
    ("schedule", N_("Set a client's check-in time and days")),
    ("pause", N_("Pause a client's check-ins")),
    ("resume", N_("Resume a client's check-ins")),
    ("phase", N_("A client's phase and what stepping down asks")),
    ("stepdown", N_("Propose a client's step down")),
    ("stepup", N_("Step a client up, with a reason")),
    ("rate", N_("Rate a client's areas of concern")),
    ("appointment", N_("Record an appointment for a client")),
    ("appointments", N_("A client's appointments and answers")),
    ("attendance", N_("Record a client's attendance")),
    ("homework", N_("Give or review homework")),
    ("caseload", N_("Your clients, most in need first")),
    ("client", N_("A client's summary and history")),
    ("report", N_("A client's session report (PDF)")),
    ("plan", N_("See or change a client's RP plan")),
    ("discharge", N_("Discharge a client")),
    ("team", N_("Propose sharing with a client's supervising officer")),
    ("progress", N_("Review and send a monthly progress report")),
    ("workspace", N_("Open the workspace pages")),
    ("language", N_("Your language for alerts, summaries and reports")),
    ("help", N_("What you can do here")),
)
SUPERVISOR = (*CLINICIAN, ("deliveries", N_("Messages that could not be delivered")),
              ("reassign", N_("Move a client to another clinician")),
              ("approve", N_("Approve a proposed step down")))


# A supervising officer's: only what clients agreed to share with them.
OFFICER = (
    ("supervisees", N_("Clients who share information with you")),
    ("supervisee", N_("One client who shares information with you")),
    ("workspace", N_("Open the workspace pages")),
    ("language", N_("Your language")),
    ("help", N_("What you can do here")),
)


def menu(kind: str, language: str) -> list[tuple[str, str]]:
    table = {"client": CLIENT, "clinician": CLINICIAN, "supervisor": SUPERVISOR,
             "officer": OFFICER}.get(kind, ())
    return [(name, gettext_for(language, text)) for name, text in table]


def set_commands(items: list[tuple[str, str]], *, chat_id: int | None = None,
                 language_code: str | None = None) -> SetMyCommands:
    """The one way a menu becomes Telegram's call: `items` as the chat's own menu, or with
    no chat the default scope's (for those whose Telegram speaks `language_code`)."""
    return SetMyCommands(
        commands=[BotCommand(command=name, description=text) for name, text in items],
        scope=None if chat_id is None else BotCommandScopeChat(chat_id=chat_id),
        language_code=language_code)


def chat_menu(chat_id: int, role: str | None, language: str
              ) -> SetMyCommands | DeleteMyCommands:
    """A chat's own menu for `role` in `language`; with no role the chat's own menu
    removed, so the default scope's shows again."""
    if role:
        return set_commands(menu(role, language), chat_id=chat_id)
    return DeleteMyCommands(scope=BotCommandScopeChat(chat_id=chat_id))


async def _until_set(app: App, stop: asyncio.Event, call: SetMyCommands) -> bool:
    """One menu call, tried again with the delivery backoff while Telegram's answer is one
    that passes (so menus never crowd out an alert, they go as bulk sends); False when it
    cannot be done (a permanent answer) or on the stop."""
    attempts = 0
    while not stop.is_set():
        sent = await app.sender.send(call)
        if sent.ok:
            return True
        if sent.outcome in (Outcome.PERMANENT, Outcome.BLOCKED):
            log.info("no command menu for one chat: %s", sent.error)
            return False
        attempts += 1
        delay = max(retry_delay(app.settings, attempts), sent.retry_after)
        if attempts in (1, 8, 64):
            log.warning("command menus not set yet (%s); trying again in %.0fs", sent.error,
                        delay)
        await sleep_or_stop(stop, delay)
    return False


async def register_commands(app: App, stop: asyncio.Event | None = None) -> None:
    """Menus by Telegram's scopes: the client menu is the default scope's (once bare and
    once per language), and only staff get a chat's own. So a start makes a few calls
    whatever the caseload; a role that changes while the bot runs gets its chat's menu
    through the outbox (kind "menu"). Runs beside the bot: Telegram failing here is retried
    later and never stops or delays the start."""
    stop = stop or asyncio.Event()
    try:
        default = app.settings.default_language
        await _until_set(app, stop, set_commands(menu("client", default)))
        for language in LANGUAGES:
            if stop.is_set():
                return
            await _until_set(app, stop, set_commands(menu("client", language),
                                                     language_code=language))
        staff = await _staff(app, stop)
        for chat_id, role in staff:
            await _until_set(app, stop, set_commands(menu(role, default), chat_id=chat_id))
            if stop.is_set():
                return
        log.info("command menus done: %s languages, %s staff chats", len(LANGUAGES), len(staff))
    except Exception as exc:  # the menus are a convenience: nothing else may suffer for them
        log.error("command menus could not be set: %s", safe_trace(exc))


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



