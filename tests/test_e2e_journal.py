"""Stories of a client's journal and own commands: writing over several messages, reading
back for five minutes, the plan, help, language and check-in time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from sqlalchemy import select

from bot.handlers.entries import render_entries
from bot.menus import menu
from bot.views.chat import TEXT_LIMIT
from journal.clock import FakeClock
from journal.entries import EntryView
from journal.i18n import gettext_for
from storage.crypto import MasterKeyring
from storage.models import ConversationRow, JournalEntryRow, OutboxRow
from storage.records import Client, Plan
from storage.uow import Store
from tests.conftest import Database
from tests.e2e import InProcessBot, bot_settings, eventually

CLINICIAN = 7101
CLIENT = 8101
CONTACT = "+1 555 0199, weekdays 9-17"
OFFICE = "+1 555 0100"


class World:
    def __init__(self, emu: Any, store: Store, clock: FakeClock, client: Client) -> None:
        self.emu, self.store, self.clock, self.client = emu, store, clock, client

    def text_of(self, message_id: int) -> str | None:
        """The current text of a visible message in the client's chat, None once deleted."""
        return next((m.text for m in self.emu.chat(CLIENT) if m.message_id == message_id), None)

    async def command(self, text: str, reply_contains: str) -> Any:
        sent = await self.emu.send_text(CLIENT, text)
        return await self.emu.wait_for_message(CLIENT, contains=reply_contains,
                                               after=sent.message_id)

    async def done(self) -> None:
        """/done: the progress message (above the command) turns into the neutral line."""
        await self.emu.send_command(CLIENT, "/done")
        await eventually(lambda: any(m.text.startswith("Saved.") and not m.buttons
                                     for m in self.emu.chat(CLIENT) if m.from_bot))

    async def client_now(self) -> Client:
        async with self.store.unit_of_work() as uow:
            client = await uow.clients.get(self.client.id)
        assert client is not None
        return client

    async def draft_text(self) -> str | None:
        async with self.store.unit_of_work() as uow:
            draft = await uow.journal.draft(self.client.id)
        return draft.text if draft else None

    async def write_part(self, text: str, *, hygiene: bool = True) -> None:
        """Send one part and wait until it is stored (and, with hygiene, gone from the chat)."""
        before = await self.draft_text() or ""
        sent = await self.emu.send_text(CLIENT, text)
        if hygiene:
            await eventually(lambda: any(m.message_id == sent.message_id
                                         for m in self.emu.deleted(CLIENT)))
        else:
            await self.emu.wait_for_message(CLIENT, contains="Saved (", after=sent.message_id)
        assert (await self.draft_text() or "") != before


@asynccontextmanager
async def running(emulator: Any, database: Database, ring: MasterKeyring, clock: FakeClock,
                  **settings: Any) -> AsyncIterator[World]:
    store = Store.open(database.url, ring)
    async with store.transaction() as uow:
        clinician = await uow.clinicians.add(telegram_id=CLINICIAN, name="Dr Lane",
                                             role="clinician", now=clock.now(), contact=CONTACT)
        client = await uow.clients.add_invited(clinician_id=clinician.id, language="en",
                                               timezone="Europe/Madrid", checkin_time="20:00",
                                               now=clock.now())
        client = await uow.clients.update(client.id, telegram_id=CLIENT, status="active",
                                          enrolled_at=clock.now())
    emulator.person(CLINICIAN, "Lane")
    emulator.person(CLIENT, "Sam", language_code="en")
    settings.setdefault("program_office_phone", OFFICE)
    bot = await InProcessBot(bot_settings(emulator, database.url, ring, **settings),
                             clock=clock).start()
    try:
        yield World(emulator, store, clock, client)
    finally:
        await bot.stop()
        await store.close()


@pytest.fixture
async def world(emulator: Any, sqlite_database: Database, ring: MasterKeyring,
                clock: FakeClock) -> AsyncIterator[World]:
    async with running(emulator, sqlite_database, ring, clock) as w:
        yield w


@pytest.fixture
def start_world(emulator: Any, sqlite_database: Database, ring: MasterKeyring,
                clock: FakeClock) -> Callable[..., Any]:
    def start(**settings: Any) -> Any:
        return running(emulator, sqlite_database, ring, clock, **settings)
    return start


async def test_an_entry_written_over_three_messages_is_saved_encrypted_and_leaves_the_chat(
        world: World) -> None:
    emu = world.emu
    status = await world.command("/journal", "Your journal is open")
    parts = ["Felt low after the call with my brother.",
             "I noticed I wanted to stay up online late, which is on my warning list.",
             "Called my sponsor instead and went to bed. Ok now."]
    for n, part in enumerate(parts, 1):
        await world.write_part(part)
        await eventually(lambda n=n: f"Saved ({n} part" in (world.text_of(status.message_id)
                                                             or ""))
    await emu.press_button(CLIENT, status.message_id, text="Done")
    await eventually(lambda: (world.text_of(status.message_id) or "").startswith("Saved."))

    async with world.store.unit_of_work() as uow:
        saved = await uow.journal.recent(world.client.id)
        assert [e.text for e in saved] == ["\n\n".join(parts)]
        assert await uow.journal.draft(world.client.id) is None
        raw = list(await uow.session.scalars(select(JournalEntryRow.body_ct)))
        assert await uow.session.scalar(select(ConversationRow)) is None
    assert len(raw) == 1
    for part in parts:
        assert part.encode() not in raw[0]
    for word in ("brother", "online", "sponsor"):
        assert word.encode() not in raw[0]
    visible = [m.text for m in emu.chat(CLIENT)]
    assert not any(part in text for part in parts for text in visible)
    assert {m.text for m in emu.deleted(CLIENT)} == set(parts)
    # One neutral line stays where the entry was written: no buttons, no words of it.
    final = next(m for m in emu.chat(CLIENT) if m.message_id == status.message_id)
    assert final.buttons == [] and final.text.startswith("Saved.")


async def test_with_chat_hygiene_off_the_messages_stay(start_world: Callable[..., Any]) -> None:
    async with start_world(chat_hygiene=False) as world:
        emu = world.emu
        await world.command("/journal", "Your journal is open")
        await world.write_part("first thought", hygiene=False)
        await world.write_part("second thought", hygiene=False)
        # the progress message moved below the newest part: one set of buttons, at the end
        with_buttons = [m for m in emu.chat(CLIENT) if m.buttons]
        assert len(with_buttons) == 1 and with_buttons[0] == emu.chat(CLIENT)[-1]
        await world.done()
        visible = [m.text for m in emu.chat(CLIENT)]
        assert "first thought" in visible and "second thought" in visible
        assert not [m for m in emu.deleted(CLIENT) if not m.from_bot]
        async with world.store.unit_of_work() as uow:
            assert [e.text for e in await uow.journal.recent(world.client.id)] == [
                "first thought\n\nsecond thought"]


async def test_entries_are_shown_newest_first_and_removed_after_five_minutes(
        world: World) -> None:
    emu, clock = world.emu, world.clock
    async with world.store.transaction() as uow:
        await uow.journal.write(client_id=world.client.id, text="An older entry.",
                                now=clock.now())
    clock.advance(hours=26)
    async with world.store.transaction() as uow:
        await uow.journal.write(client_id=world.client.id, text="Yesterday went better.",
                                now=clock.now())
    view = await world.command("/entries", "Yesterday went better.")
    assert view.text.index("Yesterday went better.") < view.text.index("An older entry.")
    # saved at 09:00 and 11:00 UTC: shown in the client's zone, Madrid (UTC+1 in March)
    assert "Mon 2 Mar 2026, 10:00" in view.text and "Tue 3 Mar 2026, 12:00" in view.text
    assert "5 minutes" in view.text

    async def removal_queued() -> bool:  # queued once the message exists, just after it
        async with world.store.unit_of_work() as uow:
            return bool(await uow.session.scalar(select(OutboxRow.id).where(
                OutboxRow.kind == "delete", OutboxRow.status == "queued")))

    await eventually(removal_queued)  # its five minutes count from this clock reading
    clock.advance(minutes=4)
    await asyncio.sleep(2)  # the delivery worker looks every 1.5 s: nothing may go yet
    assert world.text_of(view.message_id) is not None
    clock.advance(minutes=1, seconds=1)
    await eventually(lambda: world.text_of(view.message_id) is None)
    assert view.message_id in {m.message_id for m in emu.deleted(CLIENT)}


async def test_long_entries_fit_one_message_politely(world: World) -> None:
    async with world.store.transaction() as uow:
        for n in range(5):
            world.clock.advance(minutes=1)
            await uow.journal.write(client_id=world.client.id, text=f"entry {n} " + "é" * 3990,
                                    now=world.clock.now())
    view = await world.command("/entries", "Your recent journal entries")
    assert "entry 4" in view.text and "[shortened]" in view.text
    assert "Older entries did not fit" in view.text and "entry 0" not in view.text


def test_entries_view_keeps_within_telegrams_limit_counting_utf16() -> None:
    from datetime import UTC, datetime

    moment = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    entries = [EntryView(moment, "🙂" * 3000), EntryView(moment, "short")]
    text = render_entries(entries, 5)
    assert len(text.encode("utf-16-le")) // 2 <= TEXT_LIMIT
    assert "[shortened]" in text and "Older entries" in text
    assert "short" not in text.split("[shortened]")[1]
    small = render_entries([EntryView(moment, "one"), EntryView(moment, "two")], 5)
    assert "Older entries" not in small and "[shortened]" not in small


async def test_the_plan_explains_itself_when_empty_and_shows_what_the_clinician_wrote(
        world: World) -> None:
    empty = await world.command("/plan", "still empty")
    assert "clinician writes it with you" in empty.text
    async with world.store.transaction() as uow:
        await uow.plans.put(Plan.from_sections(client_id=world.client.id,
                                 warning_signs=("Staying up online late", "Isolating"),
                                 coping_steps=("Call my sponsor", "Go for a walk"),
                                 support_people=("Maria (sister)",)),
                            by=None, now=world.clock.now())
    plan = await world.command("/plan", "My offence cycle")
    # A plan moved from three sections: its signs wait to be placed in a stage.
    for text in ("• Not placed in a stage yet: Staying up online late; Isolating",
                 "• Call my sponsor", "• Maria (sister)", "Coping strategies",
                 "Support people"):
        assert text in plan.text
    # The filled plan does not stay on a phone someone else might pick up.
    world.clock.advance(minutes=5, seconds=1)
    await eventually(lambda: world.text_of(plan.message_id) is None)
    assert world.text_of(empty.message_id) is not None  # the empty state has nothing private


async def test_help_shows_crisis_resources_and_the_clinicians_contact(world: World) -> None:
    reply = await world.command("/help", "Crisis line")
    assert "988" in reply.text and "741741" in reply.text and OFFICE in reply.text
    assert f"Your clinician: Dr Lane, {CONTACT}" in reply.text
    # nobody was alerted by asking for help, so the bot does not claim so
    assert "is being told" not in reply.text and "has been told" not in reply.text
    assert "/journal" in reply.text and "/plan" in reply.text


async def test_a_client_switches_to_spanish(world: World) -> None:
    emu = world.emu
    question = await world.command("/language", "Which language")
    before = len(emu.calls_of("setMyCommands"))
    await emu.press_button(CLIENT, question.message_id, text="Español")
    expected = gettext_for("es", "Done. I will write to you in Spanish from now on.")
    await eventually(lambda: world.text_of(question.message_id) == expected)
    assert (await world.client_now()).language == "es"
    calls = await eventually(lambda: [c for c in emu.calls_of("setMyCommands")[before:]
                                      if c.chat_id == CLIENT or
                                      (c.params.get("scope") or {}).get("chat_id") == CLIENT])
    commands = calls[-1].params["commands"]
    assert [(c["command"], c["description"]) for c in commands] == menu("client", "es")
    assert "journal" in emu.commands_for(CLIENT)


async def test_check_in_time_changes_by_typing_or_button_and_a_bad_time_changes_nothing(
        world: World) -> None:
    emu = world.emu
    await world.command("/time", "Pick a new time")
    bad = await emu.send_text(CLIENT, "25:00")
    await emu.wait_for_message(CLIENT, contains="Please send a time like", after=bad.message_id)
    assert (await world.client_now()).checkin_time == "20:00"
    await world.command("19:30", "now comes at 19:30 (Europe/Madrid)")
    assert (await world.client_now()).checkin_time == "19:30"
    # the conversation is over: a later "time" is not taken as one (nor stored)
    await world.command("07:00", "I keep nothing you send here")
    assert (await world.client_now()).checkin_time == "19:30"

    question = await world.command("/time", "comes at 19:30")
    await emu.press_button(CLIENT, question.message_id, text="08:00")
    await eventually(lambda: "now comes at 08:00" in (world.text_of(question.message_id) or ""))
    assert (await world.client_now()).checkin_time == "08:00"
    question = await world.command("/time", "comes at 08:00")
    await emu.press_button(CLIENT, question.message_id, text="Keep 08:00")
    await eventually(lambda: "stays at 08:00" in (world.text_of(question.message_id) or ""))
    # long after /time, a typed text is somebody's words, not a time
    await world.command("/time", "comes at 08:00")
    world.clock.advance(minutes=31)
    await world.command("09:00", "I keep nothing you send here")
    assert (await world.client_now()).checkin_time == "08:00"


async def test_changing_the_time_mid_entry_keeps_the_entry_open(world: World) -> None:
    await world.command("/journal", "Your journal is open")
    await world.write_part("before the time change")
    await world.command("/time", "Pick a new time")
    await world.command("21:15", "now comes at 21:15")
    await world.write_part("after it")
    await world.done()
    async with world.store.unit_of_work() as uow:
        assert [e.text for e in await uow.journal.recent(world.client.id)] == [
            "before the time change\n\nafter it"]


async def test_a_sticker_during_an_entry_gets_a_kind_answer_and_nothing_is_lost(
        world: World) -> None:
    emu = world.emu
    await world.command("/journal", "Your journal is open")
    await world.write_part("Something I want to keep.")
    sticker = await emu.send_sticker(CLIENT)
    await emu.wait_for_message(CLIENT, contains="Only text is kept", after=sticker.message_id)
    photo = await emu.send_photo(CLIENT, caption="a caption")
    await emu.wait_for_message(CLIENT, contains="Only text is kept", after=photo.message_id)
    assert await world.draft_text() == "Something I want to keep."
    await world.write_part("And more.")
    await world.done()
    async with world.store.unit_of_work() as uow:
        assert [e.text for e in await uow.journal.recent(world.client.id)] == [
            "Something I want to keep.\n\nAnd more."]


async def test_too_long_texts_get_a_clear_answer_and_stay_in_the_chat(world: World) -> None:
    emu = world.emu
    await world.command("/journal", "Your journal is open")
    huge = await emu.send_text(CLIENT, "x" * 4097)
    await emu.wait_for_message(CLIENT, contains="too long to keep", after=huge.message_id)
    assert await world.draft_text() == ""
    assert world.text_of(huge.message_id) is not None  # not stored, so not removed
    for n in range(4):
        await world.write_part(f"{n}" * 4000)
    fifth = await emu.send_text(CLIENT, "y" * 4000)
    await emu.wait_for_message(CLIENT, contains="This entry is full", after=fifth.message_id)
    assert len(await world.draft_text() or "") == 4 * 4000 + 3 * 2
    assert world.text_of(fifth.message_id) is not None


async def test_cancel_asks_first_then_discards_and_old_buttons_change_nothing(
        world: World) -> None:
    emu = world.emu
    status = await world.command("/journal", "Your journal is open")
    await world.write_part("not sure I want to keep this")
    await emu.press_button(CLIENT, status.message_id, text="Cancel")
    await eventually(lambda: "Discard this entry?" in (world.text_of(status.message_id) or ""))
    await emu.press_button(CLIENT, status.message_id, text="No, keep writing")
    await eventually(lambda: "Saved (1 part" in (world.text_of(status.message_id) or ""))
    await emu.press_button(CLIENT, status.message_id, text="Cancel")
    await eventually(lambda: "Discard this entry?" in (world.text_of(status.message_id) or ""))
    await emu.press_button(CLIENT, status.message_id, text="Yes, discard")
    await eventually(lambda: "Discarded" in (world.text_of(status.message_id) or ""))
    async with world.store.unit_of_work() as uow:
        assert await uow.journal.draft(world.client.id) is None
        assert await uow.journal.recent(world.client.id) == []
    # a text now is not journal text: nothing is stored
    await world.command("a stray thought", "I keep nothing you send here")
    await world.command("/done", "No journal entry is open")
    async with world.store.unit_of_work() as uow:
        statuses = list(await uow.session.scalars(select(JournalEntryRow.status)))
    assert statuses == []  # the discarded draft is gone, and the stray thought left no row

    # Done pressed twice in quick succession: one save; the second tap is told it is closed
    status = await world.command("/journal", "Your journal is open")
    await world.write_part("kept")
    first = await emu.press_button(CLIENT, status.message_id, text="Done")
    second = await emu.press_button(CLIENT, status.message_id, text="Done")
    assert await emu.callback_answer(first) == ""
    assert "already closed" in await emu.callback_answer(second)
    async with world.store.unit_of_work() as uow:
        assert [e.text for e in await uow.journal.recent(world.client.id)] == ["kept"]
