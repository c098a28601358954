"""Clinician and supervisor commands."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

from bot.callbacks import LanguageCb
from bot.filters import Role
from bot.menus import menu
from bot.outgoing import Outgoing
from journal.enrolment import EnrolmentService
from journal.i18n import LANGUAGE_NAMES, N_, _, current_language
from journal.people import Person
from journal.preferences import PreferencesService
from journal.times import shown_time
from storage.uow import UnitOfWork


async def invite(message: Message, command: CommandObject, person: Person, uow: UnitOfWork,
                 out: Outgoing, enrolment: EnrolmentService, bot_username: str) -> None:
    assert person.clinician is not None
    new = await enrolment.create_invite(uow, person.clinician, command.args)
    link = f"https://t.me/{bot_username}?start={new.code}"
    out.send(message.chat.id, _(
        "Invite for client {code}. Give this link to the client in person; it works once "
        "and expires {expires}:\n\n{link}"
    ).format(code=new.client_code, expires=shown_time(
        new.expires_at, enrolment.staff_locale(person.clinician).timezone),
             link=link))
    # The note may be health detail: it was stored encrypted, so remove it from the chat.
    if command.args:
        out.delete(message.chat.id, message.message_id)


STAFF_LANGUAGE_CHANGED = {
    "en": N_("Done. Your alerts, summaries, reports and e-mails are in English from now on."),
    "es": N_("Done. Your alerts, summaries, reports and e-mails are in Spanish from now on."),
}


async def ask_language(message: Message, out: Outgoing) -> None:
    out.send(message.chat.id, _("Which language would you like for your alerts, summaries "
                                "and reports?"),
             InlineKeyboardMarkup(inline_keyboard=[[
                 InlineKeyboardButton(text=name, callback_data=LanguageCb(language=code).pack())
                 for code, name in LANGUAGE_NAMES.items()]]))


async def language_button(query: CallbackQuery, callback_data: LanguageCb, person: Person,
                          uow: UnitOfWork, out: Outgoing, preferences: PreferencesService
                          ) -> None:
    assert person.clinician is not None
    staff = await preferences.change_staff_language(uow, person.clinician,
                                                    callback_data.language)
    language = staff.language or callback_data.language
    current_language.set(language)
    text = _(STAFF_LANGUAGE_CHANGED[language])
    if query.message is not None:
        out.edit(query.message.chat.id, query.message.message_id, text)
    else:
        out.send(staff.telegram_id, text)
    out.commands(staff.telegram_id, menu(person.kind, language))


def build_router() -> Router:
    """A fresh router per application: aiogram attaches a router to one dispatcher."""
    router = Router(name=__name__)
    router.message.filter(Role("clinician", "supervisor"))
    router.callback_query.filter(Role("clinician", "supervisor"))
    router.message.register(invite, Command("invite"))
    router.message.register(ask_language, Command("language"))
    router.callback_query.register(language_button, LanguageCb.filter())
    return router
