"""Fault stories: Steadfast acts only in a person's own private chat. In a group, supergroup
or channel nothing with data arrives, nothing is stored, and the bot leaves."""

from __future__ import annotations

import logging
import secrets
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.chats import NotPrivateChat, private_chat
from bot.outgoing import Outgoing
from journal.clock import FakeClock
from storage.crypto import MasterKeyring
from storage.models import Base, OutboxRow
from storage.uow import Store
from tests.conftest import Database
from tests.e2e import InProcessBot, bot_settings, eventually
from tests.helpers import make_clinician
from tests.stories import enrolled_client

pytestmark = pytest.mark.faults

CLINICIAN, CLIENT = 7001, 8001
NEUTRAL = {"en": "Steadfast works only in a private chat with you.",
           "es": "Steadfast solo funciona en un chat privado contigo."}


async def row_counts(store: Store) -> dict[str, int]:
    async with store.unit_of_work() as uow:
        return {table.name: int(await uow.session.scalar(
            select(func.count()).select_from(table)) or 0)
            for table in Base.metadata.sorted_tables}


def group_calls(emulator: Any, chat_id: int) -> list[tuple[str, str]]:
    """Every call the bot made that addressed this chat, as (method, text)."""
    return [(c.method, str(c.params.get("text", ""))) for c in emulator.calls
            if c.chat_id == chat_id]


def button_in_group(chat_id: int, user: dict[str, Any], data: str) -> dict[str, Any]:
    """A press on a check-in button of a message in a group (as an older version of the bot
    could have left one there)."""
    message = {"message_id": 3, "date": 1700000000, "text": "How was today?",
               "chat": {"id": chat_id, "type": "supergroup", "title": "Old"},
               "from": {"id": 123456, "is_bot": True, "first_name": "Steadfast"},
               "reply_markup": {"inline_keyboard": [[{"text": "No", "callback_data": data}]]}}
    return {"callback_query": {"id": str(secrets.randbits(62)), "from": user,
                               "chat_instance": "1", "message": message, "data": data}}


async def test_nothing_with_data_reaches_a_group_and_the_bot_leaves_while_private_chats_work(
        emulator: Any, sqlite_database: Database, ring: MasterKeyring, clock: FakeClock,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    store = Store.open(sqlite_database.url, ring)
    clinician = await make_clinician(store, clock, telegram_id=CLINICIAN)
    client = await enrolled_client(store, clock, clinician, CLIENT, language="es")
    lane, sam = emulator.person(CLINICIAN, "Lane"), emulator.person(CLIENT, "Sam")
    bot = await InProcessBot(bot_settings(emulator, sqlite_database.url, ring,
                                          scheduler_enabled=False), clock=clock).start()
    try:
        before = await row_counts(store)
        # The bot is already in each of these (added before it knew better).
        tried = {
            -1001: (CLINICIAN, f"/client {client.code}", "en"),
            -1002: (CLINICIAN, f"/plan {client.code}", "en"),
            -1003: (CLINICIAN, "/alerts", "en"),
            -1004: (CLIENT, "/checkin", "es"),
            -1005: (CLIENT, "Today I felt the urge again", "es"),
        }
        for chat_id, (who, text, _) in tried.items():
            emulator.group(chat_id, f"Group {chat_id}", kind="supergroup", with_bot=True)
            await emulator.send_group_text(chat_id, who, text)
        # A button pressed in a group, the bot added to a new group, a channel post.
        emulator.group(-1006, "Old", kind="supergroup", with_bot=True)
        press = button_in_group(-1006, sam.user_json(), "ck:a:1:0")
        emulator.inject_update(press)
        emulator.group(-1007, "New group")
        emulator.add_bot_to_group(-1007, by=CLINICIAN)
        emulator.group(-1008, "Announcements", kind="channel", with_bot=True)
        await emulator.channel_post(-1008, f"Client {client.code} did well")

        groups = [*tried, -1006, -1007, -1008]
        await eventually(lambda: all(not emulator.group(g).bot_is_member for g in groups),
                         timeout=15)
        answer = await emulator.callback_answer(press["callback_query"]["id"])
        assert answer == NEUTRAL["es"]  # a pop-up only Sam sees, in Sam's language

        for chat_id in groups:
            said = [m.text for m in emulator.chat(chat_id) if m.from_bot]
            language = tried[chat_id][2] if chat_id in tried else "en"
            expected = [] if chat_id in (-1006, -1008) else [NEUTRAL[language]]
            assert said == expected, (chat_id, said)  # at most one line, and no data
            # Nothing else ever addressed the group: no photo, no edit, no menu.
            assert [m for m, _ in group_calls(emulator, chat_id)] == [
                "sendMessage"] * len(expected) + ["leaveChat"], chat_id
        assert await row_counts(store) == before  # nothing was stored, not even update ids
        assert client.code not in caplog.text

        # The same people in their own private chats are served as always.
        await emulator.send_text(CLINICIAN, f"/client {client.code}")
        summary = await emulator.wait_for_message(CLINICIAN, contains=client.code, timeout=15)
        await eventually(lambda: any(m.photo for m in emulator.chat(CLINICIAN)), timeout=15)
        sent = await emulator.send_command(CLIENT, "/checkin")
        await emulator.wait_for_message(CLIENT, contains=" de ", after=sent.message_id,
                                        timeout=15)
        assert summary.chat_id == lane.user_id
    finally:
        await bot.stop()
        await store.close()


async def test_a_reply_or_outbox_row_for_another_chat_is_refused_on_the_way_out(
        emulator: Any, sqlite_database: Database, ring: MasterKeyring,
        clock: FakeClock) -> None:
    from bot.dispatcher import build_app

    emulator.person(CLIENT, "Sam")
    await emulator.send_text(CLIENT, "hello")  # Telegram knows Sam's private chat
    emulator.group(-1001, "Group", with_bot=True)
    app = build_app(bot_settings(emulator, sqlite_database.url, ring,
                                 scheduler_enabled=False), clock=clock)
    try:
        # A reply to Sam's update may go to Sam's own chat only.
        out = Outgoing(person=CLIENT)
        out.send(-1001, "summary of a client")
        out.send(CLINICIAN, "someone else's private chat")
        out.send(CLIENT, "your own chat")
        await out.flush(app.sender)
        assert [c.chat_id for c in emulator.calls_of("sendMessage")] == [CLIENT]

        # An outbox row addressed to a group goes dead without a call to Telegram.
        async with app.store.transaction() as uow:
            await uow.outbox.add(chat_id=-1001, kind="alert", method="sendMessage",
                                 params={"text": "an alert"}, now=clock.now())
        await app.delivery.deliver_due()
        async with app.store.unit_of_work() as uow:
            status = await uow.session.scalar(select(OutboxRow.status).where(
                OutboxRow.chat_index == await uow.vault.telegram_index(-1001)))
        assert status == "dead"
        assert emulator.chat(-1001) == [] and group_calls(emulator, -1001) == []
    finally:
        await app.close()

    with pytest.raises(NotPrivateChat):
        private_chat(-100123)
    assert private_chat(CLIENT, CLIENT) == CLIENT
