"""Erasure is complete: after a client is erased nothing in the database names them outside
their shredded records, and their invite can no longer enrol anybody."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, or_, select

from journal.administration import AdminService
from journal.clock import FakeClock
from journal.dead_letters import DeliveryReport
from journal.discharge import DischargeService
from storage.crypto import MasterKeyring
from storage.models import AlertCopyRow, AlertRow, ClientRow, ConversationRow, InviteRow, OutboxRow
from storage.uow import Store
from tests.conftest import Database
from tests.e2e import InProcessBot, bot_settings
from tests.helpers import make_client, make_clinician

pytestmark = pytest.mark.faults

CLINICIAN, SUPERVISOR, CLIENT = 7101, 7102, 8101


async def _rows_about(store: Store, client_id: str, telegram_id: int) -> list[Any]:
    async with store.unit_of_work() as uow:
        return list(await uow.session.scalars(select(OutboxRow).where(
            or_(OutboxRow.client_id == client_id,
                OutboxRow.chat_index == await uow.vault.telegram_index(telegram_id)))))


async def test_erasing_a_client_leaves_no_outbox_row_invite_or_open_alert_about_them(
        store: Store, clock: FakeClock) -> None:
    clinician = await make_clinician(store, clock, telegram_id=CLINICIAN)
    await make_clinician(store, clock, telegram_id=SUPERVISOR, role="supervisor", name="Dr Sup")
    sam = await make_client(store, clock, clinician, telegram_id=CLIENT)
    other = await make_client(store, clock, clinician, telegram_id=CLIENT + 50)
    async with store.transaction() as uow:
        # An alert about Sam whose copy is queued, a prompt to Sam, a reading of Sam's that
        # died (its payload and row name Sam's chat), a dead-letter notice about it, an
        # invite still open for Sam's record, and a conversation half done.
        alert = await uow.alerts.add(client_id=sam.id, checkin_id=None, level="high",
                                     detail={"reasons": ["LAPSE"]}, now=clock.now(),
                                     next_escalation_at=clock.now() + timedelta(minutes=60))
        copy = await uow.outbox.add(chat_id=CLINICIAN, kind="alert", method="sendMessage",
                                    params={"text": f"High alert for client {sam.code}"},
                                    now=clock.now(), client_id=sam.id)
        assert copy is not None
        await uow.alerts.add_copy(alert.id, copy, CLINICIAN)
        await uow.outbox.add(chat_id=CLIENT, kind="prompt", method="sendMessage",
                             params={"text": "Time for your check-in"}, now=clock.now(),
                             client_id=sam.id)
        dead = await uow.outbox.add(chat_id=CLIENT, kind="journal-view", method="sendMessage",
                                    params={"text": "journal words"}, now=clock.now())
        assert dead is not None
        await uow.outbox.mark_retry(dead, at=clock.now(), error="400 chat not found", dead=True)
        message = await uow.outbox.get(dead, clock.now())
        assert message is not None
        await DeliveryReport(clock=clock).dead_letter(uow, replace(message, client_id=sam.id),
                                                      "400 chat not found")
        await uow.invites.add(code_hash="h" * 64, clinician_id=clinician.id, client_id=sam.id,
                              note="private note", now=clock.now(), ttl=timedelta(hours=72))
        await uow.conversations.set(CLIENT, "journal", {"entry": "x"}, clock.now())
        await uow.outbox.add(chat_id=CLIENT + 50, kind="prompt", method="sendMessage",
                             params={"text": "Time for your check-in"}, now=clock.now(),
                             client_id=other.id)
    assert len(await _rows_about(store, sam.id, CLIENT)) == 4  # copy, prompt, dead, notice

    receipt = await AdminService(store=store, clock=clock).erase_client(sam.code)
    assert receipt.key_destroyed

    assert await _rows_about(store, sam.id, CLIENT) == []
    async with store.unit_of_work() as uow:
        s = uow.session
        assert await s.scalar(select(func.count()).select_from(AlertCopyRow)) == 0
        invite = await s.scalar(select(InviteRow).where(InviteRow.client_id == sam.id))
        assert invite is not None and invite.note_ct is None and invite.expires_at <= clock.now()
        alert_row = await s.get(AlertRow, alert.id)
        assert alert_row is not None
        assert alert_row.status == "closed" and alert_row.next_escalation_at is None
        assert await s.get(ConversationRow, await uow.vault.telegram_index(CLIENT)) is None
        erased = await s.get(ClientRow, sam.id)
        assert erased is not None and erased.status == "erased"
        assert erased.telegram_index is None and erased.telegram_id_ct is None
        # Another client's messages are untouched.
        others = await s.scalars(select(OutboxRow).where(OutboxRow.client_id == other.id))
        assert len(list(others)) == 1
        # Nothing left escalates about the erased client.
        assert await uow.alerts.due_escalations(clock.now() + timedelta(days=1)) == []


async def test_the_retention_erase_is_as_complete_as_the_administrators(
        store: Store, clock: FakeClock) -> None:
    clinician = await make_clinician(store, clock, telegram_id=CLINICIAN)
    sam = await make_client(store, clock, clinician, telegram_id=CLIENT)
    discharge = DischargeService(clock=clock, retention=timedelta(days=1))
    async with store.transaction() as uow:
        await discharge.discharge(uow, clinician, sam.code)
        await uow.outbox.add(chat_id=CLINICIAN, kind="notice", method="sendMessage",
                             params={"text": f"client {sam.code} discharged"}, now=clock.now(),
                             client_id=sam.id)
    clock.advance(timedelta(days=2))
    async with store.transaction() as uow:
        assert await discharge.erase_due(uow) == 1
    assert await _rows_about(store, sam.id, CLIENT) == []


# -- the invite of an erased client ---------------------------------------------------------

@pytest.fixture
async def world(emulator: Any, sqlite_database: Database, ring: MasterKeyring,
                clock: FakeClock) -> AsyncIterator[dict[str, Any]]:
    store = Store.open(sqlite_database.url, ring)
    await make_clinician(store, clock, telegram_id=CLINICIAN, name="Dr Lane")
    emulator.person(CLINICIAN, "Lane")
    bot = await InProcessBot(bot_settings(emulator, sqlite_database.url, ring),
                             clock=clock).start()
    try:
        yield {"emu": emulator, "store": store, "clock": clock}
    finally:
        await bot.stop()
        await store.close()


async def _invite(emu: Any) -> tuple[str, str]:
    sent = await emu.send_text(CLINICIAN, "/invite")
    reply = await emu.wait_for_message(CLINICIAN, contains="t.me/", after=sent.message_id)
    link = re.search(r"\?start=([A-Za-z0-9_-]+)", reply.text)
    code = re.search(r"[A-Z0-9]{3}-[A-Z0-9]{2}", reply.text)
    assert link and code, reply.text
    return link.group(1), code.group(0)


async def _client_state(store: Store, code: str) -> tuple[str, int | None]:
    async with store.unit_of_work() as uow:
        row = await uow.session.scalar(select(ClientRow).where(ClientRow.code == code))
        assert row is not None
        return row.status, row.telegram_index or row.telegram_id_ct


async def test_an_invite_opened_after_its_client_was_erased_enrols_nobody(
        world: dict[str, Any]) -> None:
    emu, store, clock = world["emu"], world["store"], world["clock"]
    emu.person(CLIENT, "Sam")
    link, code = await _invite(emu)
    await AdminService(store=store, clock=clock).erase_client(code)

    sent = await emu.send_command(CLIENT, f"/start {link}")
    reply = await emu.wait_for_message(CLIENT, after=sent.message_id, from_bot=True)
    assert "no longer valid" in reply.text and "clinician" in reply.text
    assert "agree" not in reply.text.lower()
    assert await _client_state(store, code) == ("erased", None)


async def test_a_client_erased_while_their_person_is_enrolling_is_not_brought_back(
        world: dict[str, Any]) -> None:
    emu, store, clock = world["emu"], world["store"], world["clock"]
    emu.person(CLIENT, "Sam")
    link, code = await _invite(emu)
    await emu.send_command(CLIENT, f"/start {link}")
    consent = await emu.wait_for_message(CLIENT, contains="encrypted", from_bot=True)
    await emu.press_button(CLIENT, consent.message_id, text="I agree")
    await emu.wait_for_message(CLIENT, contains="language", from_bot=True)
    await emu.press_button(CLIENT, consent.message_id, text="English")
    await emu.wait_for_message(CLIENT, contains="time zone", from_bot=True)
    await emu.press_button(CLIENT, consent.message_id, text="Europe/Madrid")
    await emu.wait_for_message(CLIENT, contains="what time", from_bot=True)

    await AdminService(store=store, clock=clock).erase_client(code)
    query = await emu.press_button(CLIENT, consent.message_id, text="20:00")
    assert "no longer valid" in await emu.callback_answer(query)
    assert not any("client code" in m.text for m in emu.chat(CLIENT))
    assert await _client_state(store, code) == ("erased", None)
