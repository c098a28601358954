"""/mydata: a client's copy of their own record, as a PDF and a JSON file, once they
confirm; one a day; the documents remove themselves like other sensitive views."""

from __future__ import annotations

from datetime import timedelta

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message

from app.settings import Settings
from bot.callbacks import MyDataCb
from bot.ephemeral import Ephemeral
from bot.filters import Role, chat_of, client_of
from bot.outgoing import Outgoing
from bot.views.chat import keyboard
from journal.clock import Clock
from journal.export.copy import ClientCopies, CopyTooSoon, build_copy_pdf, copy_filename
from journal.i18n import _, ngettext
from journal.people import Person
from journal.times import shown_time
from storage.uow import Store, UnitOfWork


def _too_soon(exc: CopyTooSoon, zone: str) -> str:
    return _("You had a copy of your record less than a day ago. You can ask for the next "
             "one from {when}.").format(when=shown_time(exc.next_at, zone))


async def ask(message: Message, person: Person, uow: UnitOfWork, out: Outgoing,
              copies: ClientCopies) -> None:
    client = client_of(person)
    try:
        await copies.check(uow, client)
    except CopyTooSoon as exc:
        out.send(message.chat.id, _too_soon(exc, client.timezone))
        return
    out.send(message.chat.id, _(
        "I can send you a copy of your own record: your check-in answers, your journal, "
        "your plan, the alerts raised about you (their level and time) and who looked at "
        "your record. It comes as a PDF and as a JSON file, and is removed from this chat "
        "after a few minutes. Your clinician is told that you made a copy, not what is in "
        "it. You can have one copy a day."), keyboard([[
            (_("Send my copy"), MyDataCb(action="yes").pack()),
            (_("Cancel"), MyDataCb(action="no").pack())]]))


async def answer(query: CallbackQuery, callback_data: MyDataCb, person: Person,
                 uow: UnitOfWork, out: Outgoing, copies: ClientCopies, store: Store,
                 clock: Clock, settings: Settings) -> None:
    client = client_of(person)
    chat_id = query.message.chat.id if query.message else chat_of(client)
    message_id = query.message.message_id if query.message else None
    if callback_data.action != "yes":
        if message_id is not None:
            out.edit(chat_id, message_id, _("Nothing was sent."))
        return
    try:
        copy = await copies.make(uow, client)
    except CopyTooSoon as exc:
        if message_id is not None:
            out.edit(chat_id, message_id, _too_soon(exc, client.timezone))
        return
    gone = Ephemeral(store, clock, timedelta(minutes=settings.detail_ttl_minutes))
    if message_id is not None:
        out.edit(chat_id, message_id, ngettext(
            "Here is your copy. Save it now if you want to keep it: it is removed from this "
            "chat in {n} minute.",
            "Here is your copy. Save it now if you want to keep it: it is removed from this "
            "chat in {n} minutes.", gone.minutes).format(n=gone.minutes))

    async def pdf() -> bytes:
        from journal.review.renderer import RENDERER

        return await RENDERER.run(build_copy_pdf, copy)

    out.send_document(chat_id, pdf, copy_filename(copy, "pdf"),
                      on_sent=gone.hook(chat_id, client_id=client.id))
    out.send_document(chat_id, copy.to_json(), copy_filename(copy, "json"),
                      on_sent=gone.hook(chat_id, client_id=client.id))


def build_router() -> Router:
    """A fresh router per application: aiogram attaches a router to one dispatcher."""
    router = Router(name=__name__)
    router.message.filter(Role("client"))
    router.callback_query.filter(Role("client"))
    router.message.register(ask, Command("mydata"))
    router.callback_query.register(answer, MyDataCb.filter())
    return router
