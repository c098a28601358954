"""A clinician receives an alert, opens Details, acknowledges it; unacknowledged ones escalate."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from journal.alerts import AlertService
from journal.clock import FakeClock
from journal.questionnaire import load_questionnaire
from journal.risk import Finding, load_rules
from storage.crypto import MasterKeyring
from storage.models import AlertRow
from storage.records import Client
from storage.uow import Store
from tests.conftest import Database
from tests.e2e import InProcessBot, bot_settings, eventually
from tests.helpers import make_client, make_clinician

CLINICIAN, OTHER, SUPERVISOR, CLIENT = 7001, 7003, 7002, 8001


@pytest.fixture
async def world(emulator: Any, sqlite_database: Database, ring: MasterKeyring,
                clock: FakeClock) -> AsyncIterator[dict[str, Any]]:
    store = Store.open(sqlite_database.url, ring)
    clinician = await make_clinician(store, clock, telegram_id=CLINICIAN, name="Dr Lane")
    await make_clinician(store, clock, telegram_id=OTHER, name="Dr Other")
    await make_clinician(store, clock, telegram_id=SUPERVISOR, name="Dr Sup", role="supervisor")
    client = await make_client(store, clock, clinician, telegram_id=CLIENT)
    for user, name in ((CLINICIAN, "Lane"), (OTHER, "Other"), (SUPERVISOR, "Sup"),
                       (CLIENT, "Sam")):
        emulator.person(user, name)
        await emulator.send_text(user, "/start")
    q = load_questionnaire()
    alerts = AlertService(clock=clock, questionnaire=q, rules=load_rules(questionnaire=q))
    bot = await InProcessBot(bot_settings(emulator, sqlite_database.url, ring),
                             clock=clock).start()
    try:
        yield {"emu": emulator, "store": store, "clock": clock, "client": client,
               "alerts": alerts}
    finally:
        await bot.stop()
        await store.close()


async def raise_critical(world: dict[str, Any]) -> str:
    client: Client = world["client"]
    async with world["store"].transaction() as uow:
        alert = await world["alerts"].raise_alert(
            uow, client, findings=[Finding("self_harm", "critical", "SELF_HARM")],
            checkin_id=None, answers={"self_harm": True})
    return str(alert.id)


async def test_details_are_shown_on_request_then_deleted_and_audited(world: dict[str, Any]) -> None:
    emu, clock, store = world["emu"], world["clock"], world["store"]
    await raise_critical(world)
    alert = await emu.wait_for_message(CLINICIAN, contains="alert for client")
    assert "CRITICAL" in alert.text and "self-harm" not in alert.text.lower()
    await emu.press_button(CLINICIAN, alert.message_id, text="Details")
    details = await emu.wait_for_message(CLINICIAN, contains="Details for client")
    assert "self-harm" in details.text.lower()
    async with store.unit_of_work() as uow:
        actions = [e.action for e in await uow_events(uow)]
    assert "alert.details" in actions

    clock.advance(minutes=9)
    await emu.send_text(CLINICIAN, "/alerts")  # some activity; the details stay a while
    await emu.wait_for_message(CLINICIAN, contains="alert for client", after=details.message_id)
    assert any(m.message_id == details.message_id for m in emu.chat(CLINICIAN))
    clock.advance(minutes=2)
    await eventually(lambda: any(m.message_id == details.message_id
                                 for m in emu.deleted(CLINICIAN)), timeout=5)


async def uow_events(uow: Any) -> list[Any]:
    from storage import audit

    return await audit.events(uow.session)


async def test_another_clinician_cannot_open_or_acknowledge_the_alert(
        world: dict[str, Any]) -> None:
    emu = world["emu"]
    alert_id = await raise_critical(world)
    await emu.wait_for_message(CLINICIAN, contains="alert for client")
    # Dr Other has the same buttons only through /alerts, which lists only their clients.
    sent = await emu.send_text(OTHER, "/alerts")
    await emu.wait_for_message(OTHER, contains="No open alerts", after=sent.message_id)
    async with world["store"].unit_of_work() as uow:
        other = await uow.clinicians.by_telegram_id(OTHER)
        with pytest.raises(Exception) as excinfo:
            await world["alerts"].acknowledge(uow, other, alert_id)
    assert "no such alert" in str(excinfo.value)


async def test_acknowledging_stops_escalation_and_marks_every_copy_handled(
        world: dict[str, Any]) -> None:
    emu, clock, store = world["emu"], world["clock"], world["store"]
    await raise_critical(world)
    await emu.wait_for_message(CLINICIAN, contains="alert for client")

    clock.advance(minutes=14)
    async with store.transaction() as uow:
        assert await world["alerts"].escalate_due(uow) == 0
    clock.advance(minutes=2)
    async with store.transaction() as uow:
        assert await world["alerts"].escalate_due(uow) == 1
    escalated = await emu.wait_for_message(SUPERVISOR, contains="ESCALATED")
    assert "CRITICAL" in escalated.text

    original = await emu.wait_for_message(CLINICIAN, contains="alert for client")
    await emu.press_button(CLINICIAN, original.message_id, text="Acknowledge")
    await emu.wait_for_message(CLINICIAN, contains="note of the action")
    sent = await emu.send_text(CLINICIAN, "Called the client; safety plan reviewed.")
    await emu.wait_for_message(CLINICIAN, contains="Note saved", after=sent.message_id)
    await eventually(lambda: any(m.message_id == sent.message_id for m in emu.deleted(CLINICIAN)))

    def handled(chat: int) -> bool:
        return any("acknowledged by Dr Lane" in m.text and m.button_texts == ["Details"]
                   for m in emu.chat(chat))

    await eventually(lambda: handled(CLINICIAN) and handled(SUPERVISOR), timeout=5)
    async with store.unit_of_work() as uow:
        row = (await uow.session.execute(select(AlertRow.status, AlertRow.acknowledged_by,
                                                AlertRow.next_escalation_at))).one()
        alert = (await uow.alerts.open_for([world["client"].id]))
    assert row.status == "acknowledged" and row.next_escalation_at is None
    assert alert == []
    clock.advance(minutes=30)
    async with store.transaction() as uow:
        assert await world["alerts"].escalate_due(uow) == 0


async def test_unacknowledged_alerts_escalate_up_to_the_cap(world: dict[str, Any]) -> None:
    clock, store = world["clock"], world["store"]
    await raise_critical(world)
    for _ in range(5):
        clock.advance(minutes=16)
        async with store.transaction() as uow:
            await world["alerts"].escalate_due(uow)
    async with store.unit_of_work() as uow:
        escalations = await uow.session.scalar(select(AlertRow.escalations))
    assert escalations == 3
    await eventually(lambda: len([m for m in world["emu"].chat(SUPERVISOR)
                                  if "ESCALATED" in m.text]) == 3, timeout=10)
