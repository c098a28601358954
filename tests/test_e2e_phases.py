"""Stories of treatment phases through the emulator on a fake clock: a client who meets a
daily phase's criteria is proposed by their clinician, approved by a supervisor, told, and
prompted three days a week; a critical alert or a reported lapse steps them back up at once
and the next day's prompt comes; a proposal alone changes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from app.composition import build_services
from journal.clock import FakeClock
from storage.crypto import MasterKeyring
from storage.records import Client, Plan
from storage.uow import Store
from tests.conftest import Database
from tests.e2e import InProcessBot, bot_settings, eventually
from tests.helpers import make_clinician
from tests.stories import Phone, enrolled_client

CLINICIAN, OTHER, SUPERVISOR, SECOND_SUPERVISOR, CLIENT = 7001, 7003, 7002, 7004, 8001
MONDAY = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

PHASES = '''
id = "test-phases"
version = 1

[step_up]
alert_at_or_above = "critical"
alert_reasons = ["LAPSE"]
to = "previous"

[[phases]]
id = "daily"
name = { en = "Daily", es = "Diaria" }
days = "every_day"
[phases.step_down]
min_days = 4
min_adherence = 0.75
no_alert_at_or_above = "high"
no_alert_days = 4
plan_reviewed_days = 30

[[phases]]
id = "three"
name = { en = "Three days", es = "Tres días" }
days = "three_days"
[phases.step_down]
min_days = 30

[[phases]]
id = "weekly"
name = { en = "Weekly", es = "Semanal" }
days = "one_day"
'''


@pytest.fixture
async def world(emulator: Any, sqlite_database: Database, ring: MasterKeyring,
                tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    clock = FakeClock(MONDAY - timedelta(days=4))  # Thursday 26 February
    store = Store.open(sqlite_database.url, ring)
    clinician = await make_clinician(store, clock, telegram_id=CLINICIAN, name="Dr Lane")
    await make_clinician(store, clock, telegram_id=OTHER, name="Dr Other")
    await make_clinician(store, clock, telegram_id=SUPERVISOR, name="Dr Sup", role="supervisor")
    await make_clinician(store, clock, telegram_id=SECOND_SUPERVISOR, name="Dr Two",
                         role="supervisor")
    for user, name in ((CLINICIAN, "Lane"), (OTHER, "Other"), (SUPERVISOR, "Sup"),
                       (SECOND_SUPERVISOR, "Two"), (CLIENT, "Sam")):
        emulator.person(user, name)
        if user != CLIENT:
            await emulator.send_text(user, "/start")  # staff have opened the chat
    phases = tmp_path / "phases.toml"
    phases.write_text(PHASES, encoding="utf-8")
    # The scheduler's ticks run from the test, on the fake clock, never behind its back.
    settings = bot_settings(emulator, sqlite_database.url, ring, phases=phases,
                            scheduler_enabled=False)
    services = build_services(settings, store, clock)
    from scheduler.ticks import Ticks

    ticks = Ticks(store=store, clock=clock, checkins=services.checkins, alerts=services.alerts,
                  reminder_delay=None, phases=services.phases.phases)
    bot = await InProcessBot(settings, clock=clock).start()
    try:
        yield {"emu": emulator, "store": store, "clock": clock, "clinician": clinician,
               "phone": Phone(emulator, CLIENT), "ticks": ticks, "services": services}
    finally:
        await bot.stop()
        await store.close()


async def seeded_client(world: dict[str, Any], *, phase: str | None = None) -> Client:
    """Enrolled on Thursday 26 February with a plan, four days' check-ins submitted; the
    clock then moves to Monday 2 March, 09:00 UTC."""
    store, clock = world["store"], world["clock"]
    client = await enrolled_client(store, clock, world["clinician"], CLIENT)
    async with store.transaction() as uow:
        await uow.plans.put(Plan.from_sections(client.id, coping_steps=("Call a friend",)),
                            by=world["clinician"].id, now=clock.now())
        for back in range(4, 0, -1):
            day = date(2026, 3, 2) - timedelta(days=back)
            await uow.checkins.create(client_id=client.id, local_date=day, status="submitted",
                                      questionnaire_id="steadfast-daily",
                                      questionnaire_version="1", item_ids=(), now=clock.now())
        if phase is not None:
            days = world["services"].phases.phases.of(phase).days
            client = await uow.clients.update(client.id, phase=phase, phase_since=clock.now(),
                                              checkin_days=days)
    clock.set(MONDAY)
    return client


async def calm_checkin(phone: Phone, *, lapse: bool = False) -> None:
    """The default check-in answered quietly, submitted (a lapse reported when asked)."""
    await phone.checkin()
    for press in ("No", "2", "None", "No", "8", "No", "No", "No", "No", "Done"):
        await phone.press(press)
    await phone.press("Yes" if lapse else "No")
    if lapse:
        await phone.press("3")  # "I've blown it" feeling
    for press in ("Done", "7", "Skip", "Skip", "Submit"):
        await phone.press(press)


async def client_now(store: Store, client: Client) -> Client:
    async with store.unit_of_work() as uow:
        found = await uow.clients.get(client.id)
    assert found is not None
    return found


async def prompted_days(world: dict[str, Any], client: Client, until: datetime) -> list[date]:
    """Tick hour by hour until `until`; the local dates the client was prompted for."""
    clock, ticks, store = world["clock"], world["ticks"], world["store"]
    before: set[date] = set()
    async with store.unit_of_work() as uow:
        before = set(await uow.checkins.statuses(client.id, since=date(2026, 1, 1)))
    while clock.now() < until:
        clock.advance(hours=1)
        report = await ticks.run()
        assert report.failures == 0
    async with store.unit_of_work() as uow:
        after = await uow.checkins.statuses(client.id, since=date(2026, 1, 1))
    return sorted(set(after) - before)


async def steps(store: Store, client: Client) -> list[Any]:
    async with store.unit_of_work() as uow:
        return await uow.phases.steps(client.id)


async def test_earned_step_down_takes_a_proposal_and_a_supervisor_then_three_days_a_week(
        world: dict[str, Any]) -> None:
    emu, store, phone = world["emu"], world["store"], world["phone"]
    client = await seeded_client(world)

    await calm_checkin(phone)  # Monday: the fifth day done, the criteria met
    told = await emu.wait_for_message(CLINICIAN, contains="meets the criteria")
    assert client.code in told.text and "/stepdown" in told.text
    assert [s.state for s in await steps(store, client)] == ["told"]

    sent = await emu.send_text(CLINICIAN, f"/phase {client.code}")
    shown = await emu.wait_for_message(CLINICIAN, contains="To step down", after=sent.message_id)
    assert shown.text.count("✅") == 4 and "❌" not in shown.text

    sent = await emu.send_text(CLINICIAN, f"/stepdown {client.code} steady for a week")
    await emu.wait_for_message(CLINICIAN, contains="Nothing changes until a supervisor",
                               after=sent.message_id)
    notice = await emu.wait_for_message(SUPERVISOR, contains="proposes that client")
    assert "/approve" in notice.text and "steady" not in notice.text  # the reason stays sealed
    sent = await emu.send_text(SUPERVISOR, "/approve")
    waiting = await emu.wait_for_message(SUPERVISOR, contains="waiting for approval:",
                                         after=sent.message_id)
    assert f"{client.code}: Daily to Three days, proposed by Dr Lane" in waiting.text
    # A proposal alone changes nothing: the phase, the days and the prompts stay as they were.
    assert (await client_now(store, client)).checkin_days == "0123456"
    assert (await client_now(store, client)).phase is None
    # The clinician cannot approve (the same answer as an unknown code).
    sent = await emu.send_text(CLINICIAN, f"/approve {client.code}")
    await emu.wait_for_message(CLINICIAN, contains="No client with that code",
                               after=sent.message_id)

    sent = await emu.send_text(SUPERVISOR, f"/approve {client.code}")
    await emu.wait_for_message(SUPERVISOR, contains="Approved", after=sent.message_id)
    credit = await emu.wait_for_message(CLIENT, contains="Good news about your check-ins")
    first_line = credit.text.splitlines()[0]
    for word in ("treatment", "offence", "offending", "phase", "risk"):
        assert word not in first_line.lower()
    assert "5 of the 5 check-ins" in credit.text and "Mon, Wed, Fri" in credit.text
    await emu.wait_for_message(CLINICIAN, contains="approved by Dr Sup")
    moved = await client_now(store, client)
    assert moved.phase == "three" and moved.checkin_days == "024"
    recorded = [s for s in await steps(store, client) if s.state == "applied"]
    assert len(recorded) == 1 and recorded[0].reason == "steady for a week"
    assert recorded[0].criteria["done"] == 5 and all(
        c["met"] for c in recorded[0].criteria["criteria"])

    # Tuesday 3 March to Monday 9 March: prompted on Wednesday, Friday and Monday only.
    days = await prompted_days(world, client, datetime(2026, 3, 9, 21, 0, tzinfo=UTC))
    assert days == [date(2026, 3, 4), date(2026, 3, 6), date(2026, 3, 9)]
    # The earlier prompts went stale while the clock raced on; Monday's is delivered.
    await emu.wait_for_message(CLIENT, contains="Time for your check-in")

    sent = await emu.send_text(CLIENT, "/progress")
    progress = await emu.wait_for_message(CLIENT, contains="step 2 of 3", after=sent.message_id)
    assert "\"Weekly\"" in progress.text and "30 days in this step" in progress.text


async def test_a_supervisor_cannot_approve_their_own_proposal(world: dict[str, Any]) -> None:
    emu, store, phone = world["emu"], world["store"], world["phone"]
    client = await seeded_client(world)
    await calm_checkin(phone)
    await emu.wait_for_message(CLINICIAN, contains="meets the criteria")
    sent = await emu.send_text(SUPERVISOR, f"/stepdown {client.code}")
    await emu.wait_for_message(SUPERVISOR, contains="Proposed", after=sent.message_id)
    sent = await emu.send_text(SUPERVISOR, f"/approve {client.code}")
    await emu.wait_for_message(SUPERVISOR, contains="needs a second person",
                               after=sent.message_id)
    assert (await client_now(store, client)).phase is None
    await emu.wait_for_message(SECOND_SUPERVISOR, contains="proposes that client")
    sent = await emu.send_text(SECOND_SUPERVISOR, f"/approve {client.code}")
    await emu.wait_for_message(SECOND_SUPERVISOR, contains="Approved", after=sent.message_id)
    assert (await client_now(store, client)).phase == "three"


async def test_a_critical_alert_steps_back_up_at_once_and_the_next_day_is_prompted(
        world: dict[str, Any]) -> None:
    emu, store, phone = world["emu"], world["store"], world["phone"]
    client = await seeded_client(world, phase="three")  # Monday: a due day
    await phone.checkin()
    for press in ("No", "2", "None", "No", "8"):
        await phone.press(press)
    await phone.press("Yes")  # thoughts of self-harm: a critical alert, at once
    kind = await emu.wait_for_message(CLIENT, contains="A change to your check-ins")
    assert "not a punishment" in kind.text and "every day" in kind.text
    await emu.wait_for_message(CLINICIAN, contains="stepped up from Three days to Daily")
    await emu.wait_for_message(SUPERVISOR, contains="stepped up from Three days to Daily")
    moved = await client_now(store, client)
    assert moved.phase == "daily" and moved.checkin_days == "0123456"
    up = [s for s in await steps(store, client) if s.direction == "up"]
    assert len(up) == 1 and up[0].trigger == "rule:critical" and up[0].state == "applied"
    # Tuesday was not a due day on three days a week; now it is, and its prompt comes.
    days = await prompted_days(world, client, datetime(2026, 3, 3, 21, 0, tzinfo=UTC))
    assert date(2026, 3, 3) in days
    await eventually(lambda: any("Time for your check-in" in m.text for m in emu.chat(CLIENT)))


async def test_a_reported_lapse_steps_back_up_at_once_and_the_next_day_is_prompted(
        world: dict[str, Any]) -> None:
    emu, store, phone = world["emu"], world["store"], world["phone"]
    client = await seeded_client(world, phase="three")
    await calm_checkin(phone, lapse=True)
    await emu.wait_for_message(CLIENT, contains="A change to your check-ins")
    await emu.wait_for_message(CLINICIAN, contains="stepped up from Three days to Daily")
    moved = await client_now(store, client)
    assert moved.phase == "daily" and moved.checkin_days == "0123456"
    up = [s for s in await steps(store, client) if s.direction == "up"]
    assert [s.trigger for s in up] == ["rule:LAPSE"]
    days = await prompted_days(world, client, datetime(2026, 3, 3, 21, 0, tzinfo=UTC))
    assert date(2026, 3, 3) in days


async def test_phase_commands_answer_strangers_as_an_unknown_code(world: dict[str, Any]) -> None:
    emu, store = world["emu"], world["store"]
    client = await seeded_client(world, phase="three")
    for command in (f"/phase {client.code}", f"/stepdown {client.code}",
                    f"/stepup {client.code} worried", f"/approve {client.code}"):
        sent = await emu.send_text(OTHER, command)
        await emu.wait_for_message(OTHER, contains="No client with that code",
                                   after=sent.message_id)
    sent = await emu.send_text(CLINICIAN, f"/stepup {client.code}")
    await emu.wait_for_message(CLINICIAN, contains="Please give a reason", after=sent.message_id)
    sent = await emu.send_text(CLINICIAN, f"/stepdown {client.code}")
    await emu.wait_for_message(CLINICIAN, contains="does not meet the criteria",
                               after=sent.message_id)
    assert (await client_now(store, client)).phase == "three"
    # A clinician steps their client up at any time, with a reason kept sealed.
    sent = await emu.send_text(CLINICIAN, f"/stepup {client.code} missed two sessions")
    await emu.wait_for_message(CLINICIAN, contains="is now in \"Daily\"", after=sent.message_id)
    await emu.wait_for_message(SUPERVISOR, contains="stepped up from Three days to Daily by Dr Lane")
    up = [s for s in await steps(store, client) if s.direction == "up"]
    assert up[0].trigger == "clinician" and up[0].reason == "missed two sessions"
    # Staff commands are not the client's: /phase from the client is no command of theirs.
    sent = await emu.send_text(CLIENT, f"/phase {client.code}")
    reply = await emu.wait_for_message(CLIENT, after=sent.message_id)
    assert "Daily" not in reply.text and client.code not in reply.text


async def test_the_clinician_rates_in_the_chat_and_the_caseload_shows_the_phase(
        world: dict[str, Any]) -> None:
    emu, store = world["emu"], world["store"]
    client = await seeded_client(world, phase="three")
    await calm_checkin(world["phone"])  # a calm Monday: every area's self-report low
    domains = world["services"].phases.domains
    sent = await emu.send_text(CLINICIAN, f"/rate {client.code}")
    listing = await emu.wait_for_message(CLINICIAN, contains="in this order",
                                         after=sent.message_id)
    assert "1. Access to victims" in listing.text and "not a scored assessment" in listing.text
    sent = await emu.send_text(CLINICIAN, f"/rate {client.code} 01")
    await emu.wait_for_message(CLINICIAN, contains="one digit (0, 1 or 2)",
                               after=sent.message_id)
    digits = "2" + "0" * (len(domains) - 1)
    sent = await emu.send_text(CLINICIAN, f"/rate {client.code} {digits} seen at home visit")
    await emu.wait_for_message(CLINICIAN, contains="Rating saved", after=sent.message_id)
    async with store.unit_of_work() as uow:
        ratings = await uow.phases.ratings(client.id)
    assert len(ratings) == 1 and ratings[0].ratings[domains[0]] == 2
    assert ratings[0].note == "seen at home visit"
    sent = await emu.send_text(OTHER, f"/rate {client.code} {digits}")
    await emu.wait_for_message(OTHER, contains="No client with that code", after=sent.message_id)
    sent = await emu.send_text(CLINICIAN, "/caseload")
    shown = await emu.wait_for_message(CLINICIAN, contains="Phase: Three days",
                                       after=sent.message_id)
    assert "Rating overdue" not in shown.text
    sent = await emu.send_text(CLINICIAN, f"/client {client.code}")
    summary = await emu.wait_for_message(CLINICIAN, contains="Phase: Three days (2 of 3)",
                                         after=sent.message_id)
    assert "differ in 1 area" in summary.text  # rated 2 against a calm self-report
