"""Enrolment: deep link, consent, language, time zone and check-in time."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import CommandObject, CommandStart
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

from bot.callbacks import EnrolCb
from bot.filters import Role
from bot.menus import menu
from bot.outgoing import Outgoing
from bot.texts import error_text
from journal.enrolment import (
    CHECKIN_TIMES,
    COMMON_TIMEZONES,
    EnrolmentService,
    EnrolmentStep,
)
from journal.i18n import LANGUAGE_NAMES, N_, _, current_language
from journal.people import Person
from storage.uow import UnitOfWork

# What the person reads first: about sixty words, a minute's reading; "More" shows CONSENT.
CONSENT_SHORT = N_(
    "Welcome. Before anything is stored:\n\n"
    "• Your check-in answers and journal are kept encrypted.\n"
    "• Your clinician reads them. If an answer shows high risk and no one responds in time, "
    "a program supervisor sees the alert.\n"
    "• Telegram chats are not end-to-end encrypted, so written answers leave this chat once "
    "saved.\n"
    "• You can ask for your data to be erased at any time.\n\n"
    "Do you agree?")
CONSENT = N_(
    "Welcome. Before anything is stored, please read this.\n\n"
    "What is collected: your answers to a short daily check-in about how you are doing, "
    "the coping steps you used, and anything you choose to write in your journal.\n\n"
    "Who sees it: your clinician. If an answer shows you may be at high risk and your "
    "clinician does not respond in time, a supervisor of the program sees the alert too.\n\n"
    "How it is kept: everything you answer or write is stored encrypted. Telegram carries "
    "this chat, and Telegram chats are not end-to-end encrypted, so the bot removes your "
    "written answers from the chat once they are saved.\n\n"
    "Your rights: you can ask your clinician at any time to erase your data; erasure "
    "destroys the key that unlocks it.\n\n"
    "Do you agree?")


def _kb(rows: list[list[tuple[str, EnrolCb]]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[
        [InlineKeyboardButton(text=text, callback_data=cb.pack()) for text, cb in row]
        for row in rows])


def render_step(step: EnrolmentStep, *, full: bool = False
                ) -> tuple[str, InlineKeyboardMarkup]:
    """The step's text and buttons; the consent short, or in `full` after "More"."""
    current_language.set(step.language)
    if step.state == "consent":
        other = "en" if step.language == "es" else "es"
        rows = [[(_("I agree"), EnrolCb(action="agree")),
                 (_("No, thanks"), EnrolCb(action="decline"))]]
        if not full:
            rows.append([(_("More"), EnrolCb(action="more"))])
        rows.append([(LANGUAGE_NAMES[other], EnrolCb(action="consent_lang", value=other))])
        return _(CONSENT if full else CONSENT_SHORT), _kb(rows)
    if step.state == "language":
        return _("Thank you. Which language would you like the bot to use?"), _kb([
            [(name, EnrolCb(action="language", value=code))
             for code, name in LANGUAGE_NAMES.items()]])
    if step.state == "timezone":
        buttons = [(zone.replace("_", " "), EnrolCb(action="tz", value=zone))
                   for zone in COMMON_TIMEZONES]
        return (_("Which time zone do you live in? Pick one, or send its name, for example "
                  "Europe/Berlin."),
                _kb([buttons[i:i + 2] for i in range(0, len(buttons), 2)]))
    buttons = [(t, EnrolCb(action="time", value=t.replace(":", ""))) for t in CHECKIN_TIMES]
    return (_("At what time each day would you like your check-in? Pick one, or send a time "
              "such as 19:30."), _kb([buttons]))


async def open_invite(message: Message, command: CommandObject, uow: UnitOfWork, out: Outgoing,
                      enrolment: EnrolmentService) -> None:
    assert message.from_user is not None
    check = await enrolment.open_invite(uow, message.from_user.id, command.args or "",
                                        message.from_user.language_code)
    if check.step is None:
        out.send(message.chat.id, error_text(check.problem or "invite.wrong"))
        return
    text, markup = render_step(check.step)
    out.send(message.chat.id, text, markup)


async def enrolment_button(query: CallbackQuery, callback_data: EnrolCb, uow: UnitOfWork,
                           out: Outgoing, enrolment: EnrolmentService) -> None:
    who = query.from_user.id
    message = query.message
    chat_id = message.chat.id if message else who
    action, value = callback_data.action, callback_data.value
    if action == "decline":
        current_language.set(await enrolment.decline(uow, who))
        _edit_or_send(out, query, _("Understood. Nothing has been stored. If you change your "
                                    "mind, open the invite link again while it is valid."))
        return
    if action == "time":
        await _finish(uow, out, enrolment, query, value[:2] + ":" + value[2:])
        return
    if action == "more":
        current = await enrolment.current_step(uow, who)
        if current is None or current.state != "consent":
            out.answer(error_text("enrol.stale"))
            return
        text, markup = render_step(current, full=True)
        _edit_or_send(out, query, text, markup, chat_id=chat_id)
        return
    step = {
        "agree": lambda: enrolment.agree(uow, who),
        "consent_lang": lambda: enrolment.switch_consent_language(uow, who, value),
        "language": lambda: enrolment.choose_language(uow, who, value),
        "tz": lambda: enrolment.choose_timezone(uow, who, value),
    }.get(action)
    if step is None:
        out.answer(error_text("enrol.stale"))
        return
    text, markup = render_step(await step())
    _edit_or_send(out, query, text, markup, chat_id=chat_id)


async def enrolment_text(message: Message, uow: UnitOfWork, out: Outgoing,
                         enrolment: EnrolmentService, person: Person) -> None:
    """Typed time zones and times during enrolment; anything else from a stranger gets the
    neutral line and nothing more."""
    step = await enrolment.current_step(uow, person.telegram_id)
    if step is None or step.state not in ("timezone", "time"):
        from bot.handlers.common import neutral_line

        neutral_line(out, message.chat.id)
        return
    current_language.set(step.language)
    if step.state == "timezone":
        text, markup = render_step(await enrolment.choose_timezone(uow, person.telegram_id,
                                                                   message.text or ""))
        out.send(message.chat.id, text, markup)
        return
    await _finish(uow, out, enrolment, message, message.text or "")


async def _finish(uow: UnitOfWork, out: Outgoing, enrolment: EnrolmentService,
                  source: Message | CallbackQuery, text: str) -> None:
    assert source.from_user is not None
    client, clinician = await enrolment.choose_time(uow, source.from_user.id, text)
    current_language.set(client.language)
    done = _(
        "You are enrolled. Your client code is {code}: this is the name your clinician sees "
        "here.\n\nYour daily check-in comes at {time} ({timezone}). It takes about two "
        "minutes. You can also start it any time with /checkin, write in your journal with "
        "/journal, and see help and crisis contacts with /help."
    ).format(code=client.code, time=client.checkin_time, timezone=client.timezone)
    _edit_or_send(out, source, done)
    out.commands(source.from_user.id, menu("client", client.language))


def _edit_or_send(out: Outgoing, source: Message | CallbackQuery, text: str,
                  markup: InlineKeyboardMarkup | None = None, *, chat_id: int | None = None
                  ) -> None:
    if isinstance(source, CallbackQuery) and source.message is not None:
        out.edit(source.message.chat.id, source.message.message_id, text, markup)
    else:
        assert source.from_user is not None
        out.send(chat_id or source.from_user.id, text, markup)


def build_router() -> Router:
    """A fresh router per application: aiogram attaches a router to one dispatcher."""
    router = Router(name=__name__)
    router.message.filter(Role("unknown"))
    router.callback_query.filter(Role("unknown"))
    router.message.register(open_invite, CommandStart(deep_link=True))
    router.callback_query.register(enrolment_button, EnrolCb.filter())
    router.message.register(enrolment_text, F.text)
    return router
