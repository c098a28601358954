"""Notes on an alert are kept, never replaced: the clinician who acknowledged it and the
supervisor who acknowledged their escalated copy later each leave a note, and Details
shows both, each under its author; a single note of old becomes the first of the list."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from alembic import command
from sqlalchemy import text

from journal.clock import FakeClock
from storage.crypto import MasterKeyring, seal
from storage.migrate import alembic_config
from storage.uow import Store
from tests.conftest import Database
from tests.e2e import eventually
from tests.helpers import make_client, make_clinician
from tests.test_e2e_alerts import (  # noqa: F401 (the fixture, by name)
    CLINICIAN,
    SUPERVISOR,
    raise_critical,
    world,
)

FIRST = "Called the client; safety plan reviewed."
SECOND = "Spoke with Dr Lane; a visit is booked for Monday."


async def test_a_supervisors_later_note_is_added_and_details_show_both_under_their_authors(
        world: dict[str, Any]) -> None:  # noqa: F811
    emu, clock, store = world["emu"], world["clock"], world["store"]
    alert_id = await raise_critical(world)
    original = await emu.wait_for_message(CLINICIAN, contains="alert for client")
    clock.advance(minutes=16)
    async with store.transaction() as uow:
        assert await world["alerts"].escalate_due(uow) == 1
    escalated = await emu.wait_for_message(SUPERVISOR, contains="ESCALATED")

    # The supervisor's copy still shows Acknowledge when they press it: its edit to
    # "handled" has not reached Telegram yet (held back here by failing edits a while).
    emu.outage("editMessageText")
    await emu.press_button(CLINICIAN, original.message_id, text="Acknowledge")
    await emu.wait_for_message(CLINICIAN, contains="note of the action")
    sent = await emu.send_text(CLINICIAN, FIRST)
    await emu.wait_for_message(CLINICIAN, contains="Note saved", after=sent.message_id)

    clock.advance(minutes=30)
    await emu.press_button(SUPERVISOR, escalated.message_id, text="Acknowledge")
    await emu.wait_for_message(SUPERVISOR, contains="added to the alert's notes")
    sent = await emu.send_text(SUPERVISOR, SECOND)
    await emu.wait_for_message(SUPERVISOR, contains="Note saved", after=sent.message_id)
    emu.end_outage()
    clock.advance(minutes=10)  # the edits' retries fall due

    await eventually(lambda: any(m.button_texts == ["Details"] and m.message_id
                                 == original.message_id for m in emu.chat(CLINICIAN)),
                     timeout=20)
    await emu.press_button(CLINICIAN, original.message_id, text="Details")
    details = await emu.wait_for_message(CLINICIAN, contains="Details for client")
    assert details.text.index(FIRST) < details.text.index(SECOND)
    lane = next(line for line in details.text.splitlines() if FIRST in line)
    sup = next(line for line in details.text.splitlines() if SECOND in line)
    # Each under its author and the time it was left, in the reader's zone (labelled).
    assert lane.startswith("Note by Dr Lane, ") and "UTC" in lane
    assert sup.startswith("Note by Dr Sup, ") and "UTC" in sup and sup != lane

    async with store.unit_of_work() as uow:
        notes = [e for e in await uow.audit_events() if e.action == "alert.note"]
    assert [e.detail for e in notes] == [f"note 1 added to alert {alert_id}",
                                         f"note 2 added to alert {alert_id}"]
    assert all(FIRST not in e.detail and SECOND not in e.detail for e in notes)


async def test_a_single_note_of_old_becomes_the_first_of_the_list(
        database: Database, ring: MasterKeyring, clock: FakeClock) -> None:
    store = Store.open(database.url, ring)
    try:
        lane = await make_clinician(store, clock, telegram_id=7101, name="Dr Lane")
        client = await make_client(store, clock, lane, telegram_id=8101)
        async with store.transaction() as uow:
            alert = await uow.alerts.add(client_id=client.id, checkin_id=None, level="high",
                                         detail={"reasons": []}, now=clock.now(),
                                         next_escalation_at=None)
            key = await uow.vault.client_key(client.id)
        acknowledged = clock.now() + timedelta(minutes=20)
        # With the keys: the way back to 0007 opens what 0009 sealed, and up seals it again.
        # The store is opened anew on each side, as a program's processes would be.
        config = alembic_config(database.url, ring)
        await store.close()
        await asyncio.to_thread(command.downgrade, config, "0007")
        store = Store.open(database.url, ring)
        # As 0007 kept it: one note in the alert row, sealed for the alert's own id.
        old = seal(key, b'"Phoned the client."', place="alerts.ack_note", row_id=alert.id,
                   owner=client.id)
        async with store.transaction() as uow:
            await uow.session.execute(
                text("UPDATE alerts SET status = 'acknowledged', acknowledged_by = :by, "
                     "acknowledged_at = :at, ack_note_ct = :note WHERE id = :id"),
                {"by": lane.id, "at": acknowledged, "note": old, "id": alert.id})
        await store.close()
        await asyncio.to_thread(command.upgrade, config, "head")
        store = Store.open(database.url, ring)
        async with store.transaction() as uow:
            migrated = await uow.alerts.get(alert.id)
            assert migrated is not None
            assert [(n.author_id, n.at, n.text) for n in migrated.notes] == [
                (lane.id, acknowledged, "Phoned the client.")]
            await uow.alerts.add_note(alert.id, client.id, "Second look.", by=lane.id,
                                      now=acknowledged + timedelta(hours=1))
            both = await uow.alerts.get(alert.id)
        assert both is not None
        assert [n.text for n in both.notes] == ["Phoned the client.", "Second look."]
    finally:
        await store.close()
