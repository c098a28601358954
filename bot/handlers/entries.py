"""The client's own journal in the chat: /journal, typed entries, /done, /entries."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command, Filter
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from babel.dates import format_datetime

from bot.callbacks import JournalCb
from bot.ephemeral import Ephemeral
from bot.filters import Role, chat_of, client_of
from bot.outgoing import Outgoing
from bot.views.chat import TEXT_LIMIT, cut_to, keyboard, utf16_length
from journal.clock import Clock
from journal.entries import EntryView, JournalService, OpenEntry
from journal.i18n import _, current_language, ngettext
from journal.people import Person
from storage.uow import Store, UnitOfWork


class Writing(Filter):
    """The client has a journal entry open, so their next messages belong to it."""

    async def __call__(self, message: Message, person: Person, uow: UnitOfWork,
                       journaling: JournalService) -> bool:
        return (person.client is not None
                and await journaling.open_entry(uow, person.client) is not None)



def _journal_keyboard(entry_id: str) -> InlineKeyboardMarkup:
    return keyboard([[(_("Done"), JournalCb(action="done", entry=entry_id).pack()),
                       (_("Cancel"), JournalCb(action="cancel", entry=entry_id).pack())]])


def _progress(entry: OpenEntry, hygiene: bool) -> str:
    if entry.parts == 0:
        text = _("Your journal is open. Write as much as you like, in one message or several. "
                 "Only text is kept.")
        if hygiene:
            text += " " + _("Each message is removed from this chat once it is saved.")
        return text + "\n\n" + _("Press Done when you are finished.")
    if entry.resumed:
        return ngettext(
            "Your unfinished entry is open again ({n} part saved so far). Write more, or "
            "press Done when you are finished.",
            "Your unfinished entry is open again ({n} parts saved so far). Write more, or "
            "press Done when you are finished.", entry.parts).format(n=entry.parts)
    return ngettext(
        "Saved ({n} part so far). Write more, or press Done when you are finished.",
        "Saved ({n} parts so far). Write more, or press Done when you are finished.",
        entry.parts).format(n=entry.parts)


async def start_journal(message: Message, person: Person, uow: UnitOfWork, out: Outgoing,
                        journaling: JournalService) -> None:
    client = client_of(person)
    entry = await journaling.start(uow, client)
    if entry.previous_status_message_id:
        out.delete(message.chat.id, entry.previous_status_message_id)
    out.send(message.chat.id, _progress(entry, journaling.hygiene),
             _journal_keyboard(entry.entry_id),
             on_sent=journaling.remember_status_message(client, entry.entry_id))


async def journal_text(message: Message, person: Person, uow: UnitOfWork, out: Outgoing,
                       journaling: JournalService) -> None:
    """One more part of the open entry. It is committed before the message leaves the chat;
    the progress message is edited in place, so the chat holds one neutral line."""
    client = client_of(person)
    entry = await journaling.append(uow, client, message.text or "")
    chat_id = message.chat.id
    text, markup = _progress(entry, journaling.hygiene), _journal_keyboard(entry.entry_id)
    if journaling.hygiene:
        out.delete(chat_id, message.message_id)
    if journaling.hygiene and entry.status_message_id:
        out.edit(chat_id, entry.status_message_id, text, markup)
        return
    # Without hygiene the client's messages stay, so the buttons move below the newest one.
    if entry.status_message_id:
        out.delete(chat_id, entry.status_message_id)
    out.send(chat_id, text, markup,
             on_sent=journaling.remember_status_message(client, entry.entry_id))


async def journal_other(message: Message, out: Outgoing) -> None:
    """A sticker, photo or voice message while writing: not kept, and the entry is intact."""
    out.send(message.chat.id, _("Only text is kept in your journal, so this was not saved. "
                                "Your entry is still open: write more, or press Done when you "
                                "are finished."))


async def finish_journal(message: Message, person: Person, uow: UnitOfWork, out: Outgoing,
                         journaling: JournalService) -> None:
    """/done: the same as the Done button."""
    entry = await journaling.finish(uow, client_of(person))
    _show_closed(out, message.chat.id, entry.status_message_id, _saved())


async def journal_button(query: CallbackQuery, callback_data: JournalCb, person: Person,
                         uow: UnitOfWork, out: Outgoing, journaling: JournalService) -> None:
    client = client_of(person)
    chat_id = query.message.chat.id if query.message else chat_of(client)
    message_id = query.message.message_id if query.message else None
    action, entry_id = callback_data.action, callback_data.entry
    if action == "done":
        await journaling.finish(uow, client, entry_id)
        _show_closed(out, chat_id, message_id, _saved())
    elif action == "discard":
        await journaling.discard(uow, client, entry_id)
        _show_closed(out, chat_id, message_id, _("Discarded. Nothing from this entry was kept."))
    elif action == "cancel":
        parts = await journaling.parts(uow, client, entry_id)
        if parts == 0:  # nothing written: no need to ask
            await journaling.discard(uow, client, entry_id)
            _show_closed(out, chat_id, message_id, _("Closed. Nothing was kept."))
            return
        if message_id is not None:
            out.edit(chat_id, message_id, _(
                "Discard this entry? What you wrote in it will not be kept."), keyboard([[
                    (_("Yes, discard"), JournalCb(action="discard", entry=entry_id).pack()),
                    (_("No, keep writing"), JournalCb(action="keep", entry=entry_id).pack())]]))
    elif action == "keep":
        parts = await journaling.parts(uow, client, entry_id)
        if message_id is not None:
            out.edit(chat_id, message_id,
                     _progress(OpenEntry(entry_id, parts, message_id), journaling.hygiene),
                     _journal_keyboard(entry_id))
    else:
        out.answer(_("This button is no longer active."))


def _saved() -> str:
    return _("Saved. You can read your recent entries with /entries.")


def _show_closed(out: Outgoing, chat_id: int, message_id: int | None, text: str) -> None:
    if message_id is not None:
        out.edit(chat_id, message_id, text)  # no markup: the buttons go away
    else:
        out.send(chat_id, text)


def _journal_view(store: Store, clock: Clock, journaling: JournalService) -> Ephemeral:
    """Messages showing the journal or the plan go after the journal's view time."""
    return Ephemeral(store, clock, journaling.view_ttl)


async def show_entries(message: Message, person: Person, uow: UnitOfWork, out: Outgoing,
                       journaling: JournalService, store: Store, clock: Clock) -> None:
    client = client_of(person)
    entries = await journaling.recent(uow, client)
    if not entries:
        out.send(message.chat.id, _("You have no saved journal entries yet. Write one with "
                                    "/journal."))
        return
    gone = _journal_view(store, clock, journaling)
    out.send(message.chat.id, render_entries(entries, gone.minutes),
             on_sent=gone.hook(message.chat.id, client_id=client.id))


def render_entries(entries: list[EntryView], minutes: int, limit: int = TEXT_LIMIT) -> str:
    """Newest first; when they do not all fit in one message, the last one shown is
    shortened and the older ones are left out, and the message says so."""
    header = ngettext(
        "Your recent journal entries, newest first. This message will be removed in "
        "{n} minute.",
        "Your recent journal entries, newest first. This message will be removed in "
        "{n} minutes.", minutes).format(n=minutes)
    more = "\n\n" + _("Older entries did not fit in this message. They are kept safely.")
    shortened = " " + _("[shortened]")
    budget = limit - utf16_length(header) - utf16_length(more)
    blocks: list[str] = []
    for entry in entries:
        title = "\n\n— " + format_datetime(entry.written_at, "EEE d MMM y, HH:mm",
                                           tzinfo=entry.written_at.tzinfo,
                                           locale=current_language.get()) + "\n"
        block = title + entry.text
        if utf16_length(block) <= budget:
            blocks.append(block)
            budget -= utf16_length(block)
            continue
        room = budget - utf16_length(title) - utf16_length(shortened)
        if room >= 100:  # a shortened entry is worth showing only if something of it shows
            blocks.append(title + cut_to(entry.text, room).rstrip() + shortened)
        break
    if len(blocks) < len(entries):
        blocks.append(more)
    return header + "".join(blocks)


def build_router() -> Router:
    """A fresh router per application: aiogram attaches a router to one dispatcher."""
    router = Router(name=__name__)
    router.message.filter(Role("client"))
    router.callback_query.filter(Role("client"))
    router.message.register(start_journal, Command("journal"))
    router.message.register(finish_journal, Command("done"))
    router.message.register(show_entries, Command("entries"))
    router.callback_query.register(journal_button, JournalCb.filter())
    # Commands never become journal text; anything else typed is kept only while writing.
    router.message.register(journal_text, F.text, ~F.text.startswith("/"), Writing())
    router.message.register(journal_other, ~F.text, Writing())
    return router
