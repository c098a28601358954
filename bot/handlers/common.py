"""What every role shares: /start, /help, and the answer to anything nobody else handles."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandStart
from aiogram.types import CallbackQuery, Message

from bot.menus import menu
from bot.outgoing import Outgoing
from bot.texts import NOT_FOR_YOU, UNKNOWN_PERSON
from journal.i18n import _, current_language
from journal.people import Person


def neutral_line(out: Outgoing, chat_id: int) -> None:
    out.send(chat_id, _(UNKNOWN_PERSON))


async def start(message: Message, person: Person, out: Outgoing) -> None:
    if person.kind == "client":
        out.send(message.chat.id, _("Welcome back. Use /checkin for today's check-in, "
                                    "/journal to write, and /help for help and crisis "
                                    "contacts."))
    elif person.is_staff:
        out.send(message.chat.id, _("Hello. Use /invite to invite a client, /alerts for open "
                                    "alerts, and /help for everything else."))
    else:
        neutral_line(out, message.chat.id)
        return
    # Telegram accepts a chat's own menu only once the person has talked to the bot.
    out.commands(message.chat.id, menu(person.kind, current_language.get()))


async def staff_help(message: Message, person: Person, out: Outgoing) -> None:
    if not person.is_staff:  # clients have their own /help with crisis contacts
        neutral_line(out, message.chat.id)
        return
    out.send(message.chat.id, _(
        "/invite [private note]: create a single-use invite link for a new client\n"
        "/alerts: your open alerts\n"
        "/schedule CODE HH:MM [days] [window HH:MM-HH:MM]: a client's check-in time and days\n"
        "/pause CODE hospital|custody|other, /resume CODE: pause or resume check-ins\n"
        "/caseload: your clients, most in need first\n"
        "/client CODE: a client's summary with a chart, and their history page by page\n"
        "/report CODE [days]: a session report as a PDF (default 30 days)\n"
        "/plan CODE: see or change a client's relapse prevention plan\n"
        "/discharge CODE: end a client's monitoring (asks to confirm)\n"
        "/reassign CODE TELEGRAM_ID: supervisors move a client to another clinician\n\n"
        "Alerts arrive here without health details; press Details to see the reasons."))


async def anything_else(message: Message, person: Person | None, out: Outgoing) -> None:
    if person is None or person.kind == "unknown":
        neutral_line(out, message.chat.id)
    elif (message.text or "").startswith("/"):
        out.send(message.chat.id, _(NOT_FOR_YOU))
    elif person.kind == "client":
        out.send(message.chat.id, _("I keep nothing you send here unless you are in a check-in "
                                    "or writing your journal. Use /checkin or /journal."))
    else:
        out.send(message.chat.id, _("Use /help to see what you can do here."))


async def stale_button(query: CallbackQuery, person: Person | None, out: Outgoing) -> None:
    if person is None or person.kind == "unknown":
        out.answer(_(UNKNOWN_PERSON))
    else:
        out.answer(_("This button is no longer active."))


def build_router() -> Router:
    """A fresh router per application: aiogram attaches a router to one dispatcher."""
    router = Router(name=__name__)
    router.message.register(start, CommandStart())
    router.message.register(staff_help, Command("help"))
    router.message.register(anything_else)
    router.callback_query.register(stale_button)
    return router
