"""Client commands: the journal (/journal, /done, /entries), /plan, /help, /language, /time."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command, Filter
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from babel.dates import format_datetime

from bot.callbacks import JournalCb, LanguageCb, TimeCb
from bot.ephemeral import Ephemeral
from bot.filters import Role
from bot.menus import menu
from bot.outgoing import Outgoing
from bot.texts import crisis_message
from journal.checkin.schedule import OutsideWindow, within_window
from journal.clock import Clock
from journal.enrolment import CHECKIN_TIMES
from journal.entries import EntryView, JournalService, OpenEntry
from journal.i18n import LANGUAGE_NAMES, N_, _, current_language, ngettext
from journal.people import Person
from journal.preferences import PreferencesService
from storage.records import Client, Plan
from storage.uow import Store, UnitOfWork

TEXT_LIMIT = 4096  # Telegram's limit for one message, in UTF-16 code units
# One sentence per language, so each catalogue says it in its own words.
LANGUAGE_CHANGED = {
    "en": N_("Done. I will write to you in English from now on."),
    "es": N_("Done. I will write to you in Spanish from now on."),
}


# ---------------------------------------------------------------------- filters


class Writing(Filter):
    """The client has a journal entry open, so their next messages belong to it."""

    async def __call__(self, message: Message, person: Person, uow: UnitOfWork,
                       journaling: JournalService) -> bool:
        return (person.client is not None
                and await journaling.open_entry(uow, person.client) is not None)


class AwaitingTime(Filter):
    """The client asked to change their check-in time and may type one."""

    async def __call__(self, message: Message, person: Person, uow: UnitOfWork,
                       preferences: PreferencesService) -> bool:
        return await preferences.waiting_for_time(uow, person.telegram_id)


# ---------------------------------------------------------------------- journal


def _journal_keyboard(entry_id: str) -> InlineKeyboardMarkup:
    return _keyboard([[(_("Done"), JournalCb(action="done", entry=entry_id).pack()),
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
    client = _client(person)
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
    client = _client(person)
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
    entry = await journaling.finish(uow, _client(person))
    _show_closed(out, message.chat.id, entry.status_message_id, _saved())


async def journal_button(query: CallbackQuery, callback_data: JournalCb, person: Person,
                         uow: UnitOfWork, out: Outgoing, journaling: JournalService) -> None:
    client = _client(person)
    chat_id = query.message.chat.id if query.message else _chat(client)
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
                "Discard this entry? What you wrote in it will not be kept."), _keyboard([[
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
    client = _client(person)
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
    budget = limit - _utf16(header) - _utf16(more)
    blocks: list[str] = []
    for entry in entries:
        title = "\n\n— " + format_datetime(entry.written_at, "EEE d MMM y, HH:mm",
                                           tzinfo=entry.written_at.tzinfo,
                                           locale=current_language.get()) + "\n"
        block = title + entry.text
        if _utf16(block) <= budget:
            blocks.append(block)
            budget -= _utf16(block)
            continue
        room = budget - _utf16(title) - _utf16(shortened)
        if room >= 100:  # a shortened entry is worth showing only if something of it shows
            blocks.append(title + _cut(entry.text, room).rstrip() + shortened)
        break
    if len(blocks) < len(entries):
        blocks.append(more)
    return header + "".join(blocks)


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _cut(text: str, units: int) -> str:
    # Cutting the UTF-16 form may split a surrogate pair; "ignore" drops the half.
    return text.encode("utf-16-le")[: max(0, units) * 2].decode("utf-16-le", errors="ignore")


# ---------------------------------------------------------------------- plan and help


def render_plan(plan: Plan) -> str:
    if plan.is_empty:
        return _("Your relapse prevention plan is still empty. Your clinician fills it in with "
                 "you during your sessions: your warning signs, the coping steps that help you, "
                 "and the people you can call. Once it is written, you will find it here.")
    sections = [_("Your relapse prevention plan")]
    for title, items in ((_("Warning signs"), plan.warning_signs),
                         (_("Coping steps"), plan.coping_steps),
                         (_("Support people"), plan.support_people)):
        lines = [f"• {item}" for item in items] or [_("Not written yet.")]
        sections.append(title + "\n" + "\n".join(lines))
    text = "\n\n".join(sections)
    if _utf16(text) > TEXT_LIMIT:
        text = _cut(text, TEXT_LIMIT - 1).rstrip() + "…"
    return text


async def show_plan(message: Message, person: Person, uow: UnitOfWork, out: Outgoing,
                    preferences: PreferencesService, journaling: JournalService, store: Store,
                    clock: Clock) -> None:
    client = _client(person)
    plan = await preferences.plan(uow, client)
    if plan.is_empty:
        out.send(message.chat.id, render_plan(plan))
        return
    # Warning signs are as private as the journal: the view goes away like a journal reading.
    out.send(message.chat.id, render_plan(plan) + "\n\n" + _(
        "This message is removed after a few minutes, so your plan does not stay on the "
        "screen. Send /plan to see it again."),
        on_sent=_journal_view(store, clock, journaling).hook(message.chat.id,
                                                             client_id=client.id))


async def show_help(message: Message, person: Person, uow: UnitOfWork, out: Outgoing,
                    preferences: PreferencesService) -> None:
    support = await preferences.support(uow, _client(person))
    clinician = ", ".join(part for part in (support.clinician_name, support.clinician_contact)
                          if part)
    crisis = crisis_message(phone=support.crisis_phone, text_line=support.crisis_text,
                            office=support.office_phone, clinician_contact=clinician,
                            clinician_told=False)
    commands = "\n".join(f"/{name}: {description}"
                         for name, description in menu("client", current_language.get())
                         if name != "help")
    out.send(message.chat.id, crisis + "\n\n" + _("What you can do here:") + "\n" + commands)


# ---------------------------------------------------------------------- preferences


async def ask_language(message: Message, out: Outgoing) -> None:
    out.send(message.chat.id, _("Which language would you like the bot to use?"), _keyboard([[
        (name, LanguageCb(language=code).pack()) for code, name in LANGUAGE_NAMES.items()]]))


async def language_button(query: CallbackQuery, callback_data: LanguageCb, person: Person,
                          uow: UnitOfWork, out: Outgoing, preferences: PreferencesService
                          ) -> None:
    client = await preferences.change_language(uow, _client(person), callback_data.language)
    current_language.set(client.language)
    text = _(LANGUAGE_CHANGED[client.language])
    if query.message is not None:
        out.edit(query.message.chat.id, query.message.message_id, text)
    else:
        out.send(_chat(client), text)
    out.commands(_chat(client), menu("client", client.language))


async def ask_time(message: Message, person: Person, uow: UnitOfWork, out: Outgoing,
                   preferences: PreferencesService) -> None:
    client = _client(person)
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
    out.send(message.chat.id, text, _keyboard([times, [(
        _("Keep {time}").format(time=client.checkin_time), TimeCb(value="keep").pack())]]))


async def time_button(query: CallbackQuery, callback_data: TimeCb, person: Person,
                      uow: UnitOfWork, out: Outgoing, preferences: PreferencesService) -> None:
    client = _client(person)
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
        out.send(_chat(client), text)


async def typed_time(message: Message, person: Person, uow: UnitOfWork, out: Outgoing,
                     preferences: PreferencesService) -> None:
    try:
        client = await preferences.choose_time(uow, _client(person), message.text or "")
    except OutsideWindow as outside:
        out.send(message.chat.id, _outside_window(outside, _client(person)))
        return
    out.send(message.chat.id, _time_changed(client))


def _outside_window(outside: OutsideWindow, client: Client) -> str:
    return _("Your clinician has set your check-in to fall between {start} and {end} "
             "({timezone}). Please choose a time in that range, such as {start}.").format(
        start=outside.start, end=outside.end, timezone=client.timezone)


def _time_changed(client: Client) -> str:
    return _("Done. Your daily check-in now comes at {time} ({timezone}).").format(
        time=client.checkin_time, timezone=client.timezone)


# ---------------------------------------------------------------------- helpers


def _keyboard(rows: list[list[tuple[str, str]]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[
        [InlineKeyboardButton(text=text, callback_data=data) for text, data in row]
        for row in rows])


def _client(person: Person) -> Client:
    assert person.client is not None  # the router's Role("client") filter guarantees it
    return person.client


def _chat(client: Client) -> int:
    assert client.telegram_id is not None
    return client.telegram_id


def build_router() -> Router:
    """A fresh router per application: aiogram attaches a router to one dispatcher."""
    router = Router(name=__name__)
    router.message.filter(Role("client"))
    router.callback_query.filter(Role("client"))
    router.message.register(start_journal, Command("journal"))
    router.message.register(finish_journal, Command("done"))
    router.message.register(show_entries, Command("entries"))
    router.message.register(show_plan, Command("plan"))
    router.message.register(show_help, Command("help"))
    router.message.register(ask_language, Command("language"))
    router.message.register(ask_time, Command("time"))
    router.callback_query.register(journal_button, JournalCb.filter())
    router.callback_query.register(language_button, LanguageCb.filter())
    router.callback_query.register(time_button, TimeCb.filter())
    # Commands never become journal text; anything else typed is kept only while waiting.
    router.message.register(typed_time, F.text, ~F.text.startswith("/"), AwaitingTime())
    router.message.register(journal_text, F.text, ~F.text.startswith("/"), Writing())
    router.message.register(journal_other, ~F.text, Writing())
    return router
