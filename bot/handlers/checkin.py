"""The daily check-in in the chat: /checkin, the prompt's buttons, item buttons, typed answers."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message

from app.settings import Settings
from bot import callbacks as ck
from bot.callbacks import CheckInCb
from bot.filters import Role
from bot.outgoing import Outgoing
from bot.texts import crisis_message
from bot.views import checkin as view
from journal.checkin.service import CheckInService
from journal.checkin.view import CLOSED, Step
from journal.i18n import _
from journal.people import Person
from storage.uow import UnitOfWork


def show(out: Outgoing, chat_id: int, step: Step, checkins: CheckInService,
         settings: Settings, *, from_button: bool) -> None:
    """Queue what a step asks for: a notice, the crisis resources, the check-in message."""
    if step.notice is not None:
        if from_button:
            out.answer(_(step.notice))
        else:
            out.send(chat_id, _(step.notice))
    if step.view is None:
        return
    if step.retire is not None:
        out.edit(chat_id, step.retire, view.moved_text())
    if step.crisis:
        out.send(chat_id, crisis_message(
            phone=settings.crisis_phone, text_line=settings.crisis_text,
            office=settings.program_office_phone, clinician_contact=step.clinician_contact))
    text, markup = view.render(step.view)
    if step.edit is not None:
        out.edit(chat_id, step.edit, text, markup)
    else:
        assert step.checkin_id is not None
        out.send(chat_id, text, markup, on_sent=checkins.remember_message(step.checkin_id))


async def checkin_command(message: Message, person: Person, uow: UnitOfWork, out: Outgoing,
                          checkins: CheckInService, settings: Settings) -> None:
    assert person.client is not None
    step = await checkins.start_or_continue(uow, person.client)
    show(out, message.chat.id, step, checkins, settings, from_button=False)


async def checkin_button(query: CallbackQuery, callback_data: CheckInCb, person: Person,
                         uow: UnitOfWork, out: Outgoing, checkins: CheckInService,
                         settings: Settings) -> None:
    client = person.client
    assert client is not None
    chat_id = query.message.chat.id if query.message else query.from_user.id
    message_id = query.message.message_id if query.message else None
    day = ck.day_from_code(callback_data.day)
    if day is None:
        out.answer(_(CLOSED))
        return
    action, v, n = callback_data.action, callback_data.v, callback_data.n
    if action == ck.LATER:
        step = await checkins.later(uow, client, day, message_id or 0)
        if step.notice is None and message_id is not None:
            out.edit(chat_id, message_id, view.later_text(step.later_minutes))
        show(out, chat_id, step, checkins, settings, from_button=True)
        return
    if action == ck.START:
        step = await checkins.start_or_continue(uow, client, day=day, message_id=message_id)
    elif action == ck.ANSWER:
        step = await checkins.answer(uow, client, day, v, n, message_id=message_id)
    elif action == ck.TOGGLE:
        step = await checkins.toggle(uow, client, day, v, n, message_id=message_id)
    elif action == ck.DONE:
        step = await checkins.confirm(uow, client, day, v, message_id=message_id)
    elif action == ck.SKIP:
        step = await checkins.skip(uow, client, day, v, message_id=message_id)
    elif action == ck.BACK:
        step = await checkins.back(uow, client, day, v, message_id=message_id)
    elif action == ck.CHANGE:
        step = await checkins.change(uow, client, day, v, message_id=message_id)
    elif action == ck.PICK:
        step = await checkins.pick(uow, client, day, v, n, message_id=message_id)
    elif action == ck.SUMMARY:
        step = await checkins.to_summary(uow, client, day, v, message_id=message_id)
    elif action == ck.SUBMIT:
        step = await checkins.submit(uow, client, day, v, message_id=message_id)
    else:
        step = Step(notice=CLOSED)
    show(out, chat_id, step, checkins, settings, from_button=True)


async def awaiting_checkin_text(message: Message, person: Person, uow: UnitOfWork,
                                checkins: CheckInService) -> bool:
    """A typed message answers the check-in only while a free-text item is showing."""
    text = message.text or ""
    return (bool(text) and not text.startswith("/") and person.client is not None
            and await checkins.awaiting_text(uow, person.client))


async def checkin_text(message: Message, person: Person, uow: UnitOfWork, out: Outgoing,
                       checkins: CheckInService, settings: Settings) -> None:
    assert person.client is not None
    step = await checkins.answer_text(uow, person.client, message.text or "")
    if step.view is not None:
        # Saved (the reply goes out after the commit): take the words out of the chat.
        if settings.chat_hygiene:
            out.delete(message.chat.id, message.message_id)
        out.send(message.chat.id, view.saved_text())
    show(out, message.chat.id, step, checkins, settings, from_button=False)


async def checkin_showing_buttons(message: Message, person: Person, uow: UnitOfWork,
                                  checkins: CheckInService) -> bool:
    text = message.text or ""
    return (bool(text) and not text.startswith("/") and person.client is not None
            and await checkins.showing_buttons(uow, person.client))


async def use_the_buttons(message: Message, out: Outgoing) -> None:
    """Typed text while a button item shows is not kept; say how to answer instead."""
    out.send(message.chat.id, _("I did not keep that message. Please answer with the buttons "
                                "of the check-in message above, or send /checkin to see it "
                                "again."))


def build_router() -> Router:
    """A fresh router per application: aiogram attaches a router to one dispatcher."""
    router = Router(name=__name__)
    router.message.filter(Role("client"))
    router.callback_query.filter(Role("client"))
    router.message.register(checkin_command, Command("checkin"))
    router.callback_query.register(checkin_button, CheckInCb.filter())
    router.message.register(checkin_text, F.text, awaiting_checkin_text)
    router.message.register(use_the_buttons, F.text, checkin_showing_buttons)
    return router
