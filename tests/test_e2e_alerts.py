"""A clinician receives an alert, opens Details, acknowledges it; unacknowledged ones escalate."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from journal.alerts.rules import Finding
from journal.alerts.rules_file import load_rules
from journal.alerts.service import AlertService
from journal.checkin.questionnaire_file import load_questionnaire
from journal.clock import FakeClock
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
    assert "Critical alert" in alert.text and "self-harm" not in alert.text.lower()
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
                                 for m in emu.deleted(CLINICIAN)), timeout=20)


async def uow_events(uow: Any) -> list[Any]:
    from storage import audit

    return await audit.events(uow.session, uow.vault)


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
    assert "Critical alert" in escalated.text

    original = await emu.wait_for_message(CLINICIAN, contains="alert for client")
    tapped = await emu.press_button(CLINICIAN, original.message_id, text="Acknowledge")
    assert await emu.callback_answer(tapped) == "Acknowledged."
    asked = await emu.wait_for_message(CLINICIAN, contains="note of the action")
    # "Acknowledged." once: on the tap, not again in the message that asks for a note.
    assert "Acknowledged" not in asked.text
    assert sum(m.text.count("Acknowledged.") for m in emu.chat(CLINICIAN)) == 0
    sent = await emu.send_text(CLINICIAN, "Called the client; safety plan reviewed.")
    await emu.wait_for_message(CLINICIAN, contains="Note saved", after=sent.message_id)
    await eventually(lambda: any(m.message_id == sent.message_id for m in emu.deleted(CLINICIAN)))

    def handled(chat: int) -> bool:
        return any("acknowledged by Dr Lane" in m.text and m.button_texts == ["Details"]
                   for m in emu.chat(chat))

    await eventually(lambda: handled(CLINICIAN) and handled(SUPERVISOR), timeout=20)
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
                                  if "ESCALATED" in m.text]) == 3, timeout=30)


async def test_a_clinician_lowers_one_clients_threshold_and_only_that_client_alerts_sooner(
        world: dict[str, Any]) -> None:
    from datetime import date

    from journal.alerts.rules import DaySnapshot, evaluate

    emu, store = world["emu"], world["store"]
    sent = await emu.send_text(CLINICIAN, f"/threshold {world['client'].code}")
    listing = await emu.wait_for_message(CLINICIAN, contains="Thresholds", after=sent.message_id)
    assert "general_elevated: 6" in listing.text and "self_harm" not in listing.text
    sent = await emu.send_text(CLINICIAN, f"/threshold {world['client'].code} self_harm 9")
    await emu.wait_for_message(CLINICIAN, contains="no threshold", after=sent.message_id)
    sent = await emu.send_text(CLINICIAN, f"/threshold {world['client'].code} general_elevated ²")
    await emu.wait_for_message(CLINICIAN, contains="RULE NUMBER", after=sent.message_id)
    sent = await emu.send_text(CLINICIAN, f"/threshold {world['client'].code} general_elevated 4")
    await emu.wait_for_message(CLINICIAN, contains="is now 4", after=sent.message_id)
    sent = await emu.send_text(OTHER, f"/threshold {world['client'].code} general_elevated 1")
    await emu.wait_for_message(OTHER, contains="No client with that code", after=sent.message_id)

    async with store.unit_of_work() as uow:
        overrides = await uow.overrides.for_client(world["client"].id)
        actions = [e.action for e in await uow_events(uow)]
    assert overrides == {"general_elevated": 4} and "risk.override" in actions
    q = load_questionnaire()
    rules = load_rules(questionnaire=q)
    answers = {"victim_access": "no", "anger": 5, "sexual_thoughts": "some",
               "offending_thoughts": False, "supervision": "wanted", "coping": 5,
               "self_harm": False, "social_support": "no", "substances": "no"}
    today = DaySnapshot(date(2026, 3, 2), answers)
    mine = evaluate(rules, q, today, [], overrides=overrides)
    others = evaluate(rules, q, today, [])
    assert mine.indicators is not None and mine.indicators.value("general") == 4
    assert "general_elevated" in {f.rule_id for f in mine.findings}
    assert "general_elevated" not in {f.rule_id for f in others.findings}


def test_alert_messages_carry_reasons_only_when_the_program_asks_for_full_detail(
        clock: FakeClock) -> None:
    from storage.records import Alert

    q = load_questionnaire()
    alert = Alert(id="a1", client_id="c1", checkin_id=None, level="high", status="open",
                  detail={"reasons": ["LAPSE"]}, created_at=clock.now(), acknowledged_at=None,
                  acknowledged_by=None, escalations=0, next_escalation_at=None)
    minimal = AlertService(clock=clock, questionnaire=q, rules=load_rules(questionnaire=q))
    full = AlertService(clock=clock, questionnaire=q, rules=load_rules(questionnaire=q),
                        detail="full")
    assert "lapse" not in minimal.alert_text(alert, "K7Q-2F").lower()
    text = full.alert_text(alert, "K7Q-2F")
    assert "K7Q-2F" in text and "Reported a lapse" in text


async def test_supervisors_see_delivery_counts_and_clinicians_do_not(
        world: dict[str, Any]) -> None:
    emu = world["emu"]
    sent = await emu.send_text(SUPERVISOR, "/deliveries")
    reply = await emu.wait_for_message(SUPERVISOR, contains="Deliveries:", after=sent.message_id)
    assert "undeliverable" in reply.text
    sent = await emu.send_text(CLINICIAN, "/deliveries")
    await emu.wait_for_message(CLINICIAN, contains="not available", after=sent.message_id)
