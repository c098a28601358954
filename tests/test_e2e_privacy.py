"""What a client writes stays in encrypted columns: not in logs (even at DEBUG), not in the
database file, not left in the chat."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import pytest

from journal.clock import FakeClock
from storage.crypto import MasterKeyring
from storage.uow import Store
from tests.conftest import Database
from tests.e2e import InProcessBot, bot_settings, eventually
from tests.helpers import make_clinician
from tests.stories import Phone, enrolled_client

CLINICIAN, CLIENT = 7001, 8001


async def test_a_canary_typed_in_the_chat_reaches_no_log_file_or_chat(
        emulator: Any, sqlite_database: Database, ring: MasterKeyring, clock: FakeClock,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)  # every library's debug output, aiogram's and aiohttp's too
    canary = f"CANARY-{uuid.uuid4().hex}"
    store = Store.open(sqlite_database.url, ring)
    clinician = await make_clinician(store, clock, telegram_id=CLINICIAN)
    client = await enrolled_client(store, clock, clinician, CLIENT)
    emulator.person(CLINICIAN, "Lane")
    emulator.person(CLIENT, "Sam")
    bot = await InProcessBot(bot_settings(emulator, sqlite_database.url, ring,
                                          scheduler_enabled=False), clock=clock).start()
    try:
        # A journal entry in two parts.
        sent = await emulator.send_command(CLIENT, "/journal")
        await emulator.wait_for_message(CLIENT, contains="Done", after=sent.message_id)
        for part in (f"first {canary}", f"second {canary}"):
            await emulator.send_text(CLIENT, part)
        await eventually(lambda: len(emulator.deleted(CLIENT)) >= 2)
        status = await emulator.wait_for_message(CLIENT, contains="2 parts")
        await emulator.press_button(CLIENT, status.message_id, text="Done")
        # The same words typed as a check-in answer.
        phone = Phone(emulator, CLIENT)
        await phone.checkin()
        for label in ("No", "2", "None", "No", "7", "No", "No", "No", "Yes"):
            await phone.press(label)
        await phone.type(f"what happened {canary}")
        await eventually(lambda: len(emulator.deleted(CLIENT)) >= 3)
    finally:
        await bot.stop()

    async with store.unit_of_work() as uow:
        entries = await uow.journal.recent(client.id)
    assert entries and canary in entries[0].text  # it was stored, readable with the key
    await store.close()

    assert "is handled" in caplog.text  # aiogram's own update log was captured...
    assert canary not in caplog.text  # ...and nothing in any log quotes what was typed
    needle = canary.encode()
    assert sqlite_database.path is not None
    for path in (sqlite_database.path, sqlite_database.path.with_name("steadfast.db-wal")):
        if path.exists():
            assert needle not in path.read_bytes(), path.name
    visible = [m.text for m in emulator.chat(CLIENT)]
    assert not any(canary in text for text in visible)  # hygiene removed every copy
