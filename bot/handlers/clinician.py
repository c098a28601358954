"""Clinician and supervisor commands."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from bot.filters import Role
from bot.outgoing import Outgoing
from journal.enrolment import EnrolmentService
from journal.i18n import _
from journal.people import Person
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
    ).format(code=new.client_code, expires=shown_time(new.expires_at, enrolment.staff_timezone),
             link=link))
    # The note may be health detail: it was stored encrypted, so remove it from the chat.
    if command.args:
        out.delete(message.chat.id, message.message_id)


def build_router() -> Router:
    """A fresh router per application: aiogram attaches a router to one dispatcher."""
    router = Router(name=__name__)
    router.message.filter(Role("clinician", "supervisor"))
    router.callback_query.filter(Role("clinician", "supervisor"))
    router.message.register(invite, Command("invite"))
    return router
