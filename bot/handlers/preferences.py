"""The client's own settings: /language and /time (a button or a typed time)."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command, Filter
from aiogram.types import CallbackQuery, Message

from bot.callbacks import LanguageCb, TimeCb
from bot.filters import Role, chat_of, client_of
from bot.menus import menu
from bot.outgoing import Outgoing
from bot.views.chat import keyboard
from journal.checkin.schedule import OutsideWindow, within_window
from journal.enrolment import CHECKIN_TIMES
from journal.i18n import LANGUAGE_NAMES, N_, _, current_language
from journal.people import Person
from journal.preferences import PreferencesService
from storage.records import Client
from storage.uow import UnitOfWork

# One sentence per language, so each catalogue says it in its own words.
LANGUAGE_CHANGED = {
    "en": N_("Done. I will write to you in English from now on."),
    "es": N_("Done. I will write to you in Spanish from now on."),
}


class AwaitingTime(Filter):
    """The client asked to change their check-in time and may type one."""

    async def __call__(self, message: Message, person: Person, uow: UnitOfWork,
                       preferences: PreferencesService) -> bool:
        return await preferences.waiting_for_time(uow, person.telegram_id)



async def ask_language(message: Message, out: Outgoing) -> None:
    out.send(message.chat.id, _("Which language would you like the bot to use?"), keyboard([[
        (name, LanguageCb(language=code).pack()) for code, name in LANGUAGE_NAMES.items()]]))


async def language_button(query: CallbackQuery, callback_data: LanguageCb, person: Person,
                          uow: UnitOfWork, out: Outgoing, preferences: PreferencesService
                          ) -> None:
    client = await preferences.change_language(uow, client_of(person), callback_data.language)
    current_language.set(client.language)
    text = _(LANGUAGE_CHANGED[client.language])
    if query.message is not None:
        out.edit(query.message.chat.id, query.message.message_id, text)
    else:
        out.send(chat_of(client), text)
    out.commands(chat_of(client), menu("client", client.language))


async def ask_time(message: Message, person: Person, uow: UnitOfWork, out: Outgoing,
                   preferences: PreferencesService) -> None:
    client = client_of(person)
    await preferences.ask_time(uow, client)
    start, end = client.window_start, client.window_end
    # Only times the clinician's window allows are offered.
    offered = [t for t in CHECKIN_TIMES if within_window(t, start, end)] or [start or "20:00"]
    times = [(t, TimeCb(value=t.replace(":", "")).pack()) for t in offered]
    text = _("Your daily check-in comes at {time} ({timezone}). Pick a new time, or send one "
             "such as 19:30.").format(time=client.checkin_time, timezone=client.timezone)
    if start and end:
        text += "\n" + _("Your clinician asks for a time between {start} and {end} "
                          "({timezone}).").format(start=start, end=end,
                                                  timezone=client.timezone)
    out.send(message.chat.id, text, keyboard([times, [(
        _("Keep {time}").format(time=client.checkin_time), TimeCb(value="keep").pack())]]))


async def time_button(query: CallbackQuery, callback_data: TimeCb, person: Person,
                      uow: UnitOfWork, out: Outgoing, preferences: PreferencesService) -> None:
    client = client_of(person)
    if callback_data.value == "keep":
        client = await preferences.keep_time(uow, client)
        text = _("Your check-in time stays at {time} ({timezone}).").format(
            time=client.checkin_time, timezone=client.timezone)
    else:
        value = callback_data.value
        try:
            client = await preferences.choose_time(uow, client, value[:2] + ":" + value[2:])
        except OutsideWindow as outside:
            out.answer(_outside_window(outside, client), alert=True)
            return
        text = _time_changed(client)
    if query.message is not None:
        out.edit(query.message.chat.id, query.message.message_id, text)
    else:
        out.send(chat_of(client), text)


async def typed_time(message: Message, person: Person, uow: UnitOfWork, out: Outgoing,
                     preferences: PreferencesService) -> None:
    try:
        client = await preferences.choose_time(uow, client_of(person), message.text or "")
    except OutsideWindow as outside:
        out.send(message.chat.id, _outside_window(outside, client_of(person)))
        return
    out.send(message.chat.id, _time_changed(client))


def _outside_window(outside: OutsideWindow, client: Client) -> str:
    return _("Your clinician has set your check-in to fall between {start} and {end} "
             "({timezone}). Please choose a time in that range, such as {start}.").format(
        start=outside.start, end=outside.end, timezone=client.timezone)


def _time_changed(client: Client) -> str:
    return _("Done. Your daily check-in now comes at {time} ({timezone}).").format(
        time=client.checkin_time, timezone=client.timezone)


def build_router() -> Router:
    """A fresh router per application: aiogram attaches a router to one dispatcher."""
    router = Router(name=__name__)
    router.message.filter(Role("client"))
    router.callback_query.filter(Role("client"))
    router.message.register(ask_language, Command("language"))
    router.message.register(ask_time, Command("time"))
    router.callback_query.register(language_button, LanguageCb.filter())
    router.callback_query.register(time_button, TimeCb.filter())
    # Commands never become a time; anything else typed is read only while one is awaited.
    router.message.register(typed_time, F.text, ~F.text.startswith("/"), AwaitingTime())
    return router
