"""Stories of clinicians reviewing in session: caseload, summary, history, plan, discharge,
reassignment, retention, and the access rule that holds under every command and button."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.callbacks import ReviewCb
from journal.alerts.rules import Finding, RiskRules
from journal.alerts.rules_file import load_rules
from journal.alerts.service import AlertService
from journal.checkin.questionnaire import Questionnaire, options_for
from journal.checkin.questionnaire_file import load_questionnaire
from journal.checkin.service import CheckInService
from journal.clock import FakeClock
from journal.discharge import DischargeService, NotMonitored
from journal.errors import NotAllowed, NotFound
from journal.review.adherence import Adherence, adherence, client_today, day_states
from journal.review.caseload import CaseloadEntry, CaseloadService, need_order
from journal.review.charts import png_size
from journal.review.plan import PlanFormatError, parse_plan
from journal.review.service import ReviewService
from scheduler.ticks import Ticks
from storage import audit
from storage.crypto import KeyErasedError, MasterKeyring
from storage.models import OutboxRow
from storage.records import CheckInDay, Client, Clinician, Plan
from storage.uow import Store
from telegram_emulator import BotAPIEmulator
from tests.conftest import Database
from tests.e2e import InProcessBot, bot_settings, eventually
from tests.helpers import make_clinician
from tests.review_seed import seed_history
from tests.stories import enrolled_client
from tests.test_audit_and_cli import cli

LANE, ORTIZ, SUPERVISOR = 7101, 7102, 7103
SAM, ALEX = 8101, 8102


@pytest.fixture(scope="module")
def q() -> Questionnaire:
    return load_questionnaire()


@pytest.fixture(scope="module")
def rules(q: Questionnaire) -> RiskRules:
    return load_rules(questionnaire=q)


def services(clock: FakeClock, q: Questionnaire, rules: RiskRules
             ) -> tuple[CaseloadService, ReviewService, DischargeService]:
    return (CaseloadService(clock=clock), ReviewService(clock=clock, questionnaire=q, rules=rules),
            DischargeService(clock=clock, retention=timedelta(days=365)))


async def events(store: Store, client_id: str) -> list[tuple[str, str]]:
    async with store.unit_of_work() as uow:
        return [(e.actor, e.action) for e in await audit.events(uow.session, uow.vault, client_id=client_id)]


# --- pure rules: adherence, need, the plan format ----------------------------------------


def _client(**values: Any) -> Client:
    base: dict[str, Any] = dict(
        id="c1", code="ABC-DE", telegram_id=1, clinician_id=1, status="active", language="en",
        timezone="UTC", checkin_time="20:00", checkin_days="0123456", pause_reason=None,
        unreachable=False, created_at=datetime(2026, 1, 1, tzinfo=UTC),
        enrolled_at=datetime(2026, 2, 20, 12, tzinfo=UTC))
    base.update(values)
    return Client(**base)


def _day(day: date, status: str) -> CheckInDay:
    return CheckInDay(f"id{day:%d}", day, status, "low", None)


def test_adherence_counts_asked_days_and_today_only_once_done() -> None:
    client = _client(checkin_days="01234")  # weekdays only
    today = date(2026, 3, 6)  # a Friday
    rows = [_day(date(2026, 3, 2), "submitted"), _day(date(2026, 3, 3), "missed"),
            _day(date(2026, 3, 5), "submitted"), _day(date(2026, 3, 6), "in_progress")]
    states = day_states(client, rows, start=date(2026, 2, 28), end=today, today=today)
    # 28 Feb and 1 Mar are a weekend; 4 March has no row but was asked: missed.
    assert states[date(2026, 2, 28)] == "none" and states[date(2026, 3, 4)] == "missed"
    assert states[today] == "open"
    assert adherence(states, start=date(2026, 2, 28), end=today) == Adherence(2, 4)
    states[today] = "submitted"
    assert adherence(states, start=date(2026, 2, 28), end=today).ratio == pytest.approx(0.6)
    # Nothing is asked before enrolment.
    early = day_states(client, [], start=date(2026, 2, 10), end=date(2026, 2, 19),
                       today=today)
    assert set(early.values()) == {"none"}


def test_need_order_puts_open_critical_alerts_first_then_high_then_level_then_adherence(
        ) -> None:
    def entry(code: str, *, alerts: dict[str, int] | None = None, level: str | None = "low",
              week: Adherence | None = None) -> CaseloadEntry:
        week = week or Adherence(7, 7)
        return CaseloadEntry(client=_client(code=code), today=date(2026, 3, 2),
                             last_checkin=None, latest_level=level, week=week,
                             month=week, open_alerts=alerts or {})

    entries = [entry("AAA-AA", week=Adherence(1, 7)), entry("BBB-BB", level="high"),
               entry("CCC-CC", alerts={"high": 1}), entry("DDD-DD", alerts={"critical": 1}),
               entry("EEE-EE"), entry("FFF-FF", level=None, week=Adherence(0, 0))]
    ordered = [e.client.code for e in sorted(entries, key=need_order)]
    assert ordered == ["DDD-DD", "CCC-CC", "BBB-BB", "AAA-AA", "EEE-EE", "FFF-FF"]


def test_a_plan_is_read_from_sections_with_one_item_a_line() -> None:
    current = Plan.from_sections("c1", warning_signs=("old sign",), coping_steps=("old step",),
                   support_people=("Ana",))
    plan = parse_plan("Warning signs:\n- Staying up late online\n• feeling lonely\n\n"
                      "coping steps\n1. Call my sponsor\n2) Go for a walk\n- call my sponsor\n"
                      "Coping steps: Leave the place\n", current)
    assert plan.warning_signs == ("Staying up late online", "feeling lonely")
    assert plan.coping_steps == ("Call my sponsor", "Go for a walk", "Leave the place")
    assert plan.support_people == ("Ana",)  # a section left out keeps what it had
    emptied = parse_plan("Support people:\n", current)
    assert emptied.support_people == () and emptied.coping_steps == ("old step",)
    # An item with a colon of its own stays an item.
    assert parse_plan("Support people:\nAna: 600 000 000", current).support_people == (
        "Ana: 600 000 000",)
    for wrong in ("just some text", "", "Coping steps:\n" + "x" * 201,
                  "Coping steps:\n" + "\n".join(f"step {n}" for n in range(21))):
        with pytest.raises(PlanFormatError):
            parse_plan(wrong, current)


# --- services on SQLite and PostgreSQL ---------------------------------------------------


async def _two_caseloads(store: Store, clock: FakeClock) -> tuple[
        Clinician, Clinician, Clinician, Client, Client]:
    lane = await make_clinician(store, clock, telegram_id=LANE, name="Dr Lane")
    ortiz = await make_clinician(store, clock, telegram_id=ORTIZ, name="Dr Ortiz")
    sup = await make_clinician(store, clock, telegram_id=SUPERVISOR, name="Dr Sup",
                               role="supervisor")
    sam = await enrolled_client(store, clock, lane, SAM, timezone="UTC")
    alex = await enrolled_client(store, clock, ortiz, ALEX, timezone="UTC", language="es")
    return lane, ortiz, sup, sam, alex


async def test_the_caseload_is_sorted_by_need_and_shows_only_ones_own_clients(
        store: Store, clock: FakeClock, q: Questionnaire, rules: RiskRules) -> None:
    lane, ortiz, sup, sam, _alex = await _two_caseloads(store, clock)
    quiet = await enrolled_client(store, clock, lane, 8103, timezone="UTC")
    clock.advance(days=20)
    await seed_history(store, q, rules, sam, end=client_today(sam, clock.now()), days=20)
    async with store.transaction() as uow:
        await uow.alerts.add(client_id=quiet.id, checkin_id=None, level="critical",
                             detail={"reasons": ["SELF_HARM"]}, now=clock.now(),
                             next_escalation_at=None)
    caseload, _review, _discharge = services(clock, q, rules)
    async with store.transaction() as uow:
        mine = await caseload.caseload(uow, lane)
        theirs = await caseload.caseload(uow, ortiz)
        everyone = await caseload.caseload(uow, sup)
    assert [e.client.code for e in mine] == [quiet.code, sam.code]  # the critical alert first
    assert mine[0].open_alerts == {"critical": 1}
    seeded = mine[1]
    assert seeded.last_checkin is not None and seeded.latest_level is not None
    assert 0 < seeded.week.done <= seeded.week.expected == 7
    assert seeded.month.expected == 21  # enrolled 20 days ago: 20 past days and today, done
    assert [e.client.code for e in theirs] == [_alex.code]
    assert len(everyone) == 3


async def test_a_clinician_cannot_reach_another_clinicians_client_by_any_service(
        store: Store, clock: FakeClock, q: Questionnaire, rules: RiskRules) -> None:
    lane, _ortiz, sup, _sam, alex = await _two_caseloads(store, clock)
    _caseload, review, discharge = services(clock, q, rules)
    attempts = {
        "summary": lambda uow, code: review.summary(uow, lane, code),
        "history": lambda uow, code: review.history(uow, lane, code, 0),
        "plan": lambda uow, code: review.plan(uow, lane, code, edit=True),
        "edit": lambda uow, code: review.edit_plan(uow, lane, code, "Coping steps:\n- x"),
        "report": lambda uow, code: review.report(uow, lane, code, 30),
        "discharge": lambda uow, code: discharge.discharge(uow, lane, code),
    }
    for name, attempt in attempts.items():
        answers = []
        for code in (alex.code, "ZZZ-ZZ", "not a code"):
            async with store.unit_of_work() as uow:
                with pytest.raises(NotFound) as caught:
                    await attempt(uow, code)
                answers.append((type(caught.value), caught.value.key, str(caught.value)))
        assert answers[0] == answers[1] == answers[2], name  # indistinguishable from missing
    assert await events(store, alex.id) == []  # nothing was viewed, so nothing audited
    async with store.transaction() as uow:  # a supervisor sees every caseload
        summary = await review.summary(uow, sup, alex.code)
    assert summary.client.id == alex.id


async def test_every_view_of_decrypted_data_writes_an_audit_event(
        store: Store, clock: FakeClock, q: Questionnaire, rules: RiskRules) -> None:
    lane, _ortiz, _sup, sam, _alex = await _two_caseloads(store, clock)
    clock.advance(days=10)
    await seed_history(store, q, rules, sam, end=client_today(sam, clock.now()), days=10)
    _caseload, review, _discharge = services(clock, q, rules)
    async with store.transaction() as uow:
        summary = await review.summary(uow, lane, sam.code)
        first = await review.history(uow, lane, sam.code, 0)
        await review.history(uow, lane, sam.code, 1)
        await review.plan(uow, lane, sam.code)
        await review.edit_plan(uow, lane, sam.code, "Coping steps:\n- Call Ana\n- Breathe")
        await review.report(uow, lane, sam.code, 30)
    actions = [action for actor, action in await events(store, sam.id)
               if actor == f"clinician:{lane.id}"]
    assert actions == ["client.summary", "client.history", "client.history", "plan.view",
                       "plan.edit", "client.report"]
    assert png_size(await summary.chart()) == (1200, 600)
    assert first.page == 0 and first.pages > 1 and len(first.items) == 3
    assert first.items[0].day >= first.items[-1].day  # newest first


async def test_a_changed_plan_becomes_the_checkin_choices_and_the_client_is_told(
        store: Store, clock: FakeClock, q: Questionnaire, rules: RiskRules) -> None:
    lane, ortiz, _sup, _sam, alex = await _two_caseloads(store, clock)
    _caseload, review, _discharge = services(clock, q, rules)
    async with store.transaction() as uow:
        await review.edit_plan(uow, ortiz, alex.code,
                               "Warning signs:\n- Lonely evenings\nCoping steps:\n- Call Ana\n"
                               "- Walk the dog\nSupport people:\n- Ana")
    async with store.unit_of_work() as uow:
        plan = await uow.plans.get(alex.id)
        notices = [m for m in await uow.outbox.claim_due(clock.now(), limit=10,
                                                          lease=timedelta(minutes=1))
                   if m.chat_id == ALEX]
    labels = [o.label.get("es") for o in options_for(q.item("coping_steps"), plan.coping_steps)]
    assert labels[:2] == ["Call Ana", "Walk the dog"]
    assert len(notices) == 1 and "/plan" in notices[0].payload["params"]["text"]
    assert "Call Ana" not in notices[0].payload["params"]["text"]  # no plan text in the chat


async def test_discharge_stops_monitoring_and_the_retention_erase_destroys_the_key(
        store: Store, clock: FakeClock, q: Questionnaire, rules: RiskRules) -> None:
    lane, _ortiz, _sup, sam, _alex = await _two_caseloads(store, clock)
    clock.advance(days=5)
    await seed_history(store, q, rules, sam, end=client_today(sam, clock.now()), days=5)
    _caseload, review, discharge = services(clock, q, rules)
    async with store.transaction() as uow:
        done = await discharge.discharge(uow, lane, sam.code)
    assert done.erase_after == clock.now() + timedelta(days=365)
    async with store.unit_of_work() as uow:
        client = await uow.clients.get(sam.id)
        assert client is not None and client.status == "discharged"
        assert client.telegram_id is None and client.discharged_at == clock.now()
        assert await uow.clients.by_telegram_id(SAM) is None  # the bot no longer knows them
        assert sam.id not in [c.id for c in await uow.clients.active()]
    async with store.unit_of_work() as uow:
        with pytest.raises(NotMonitored):
            await discharge.discharge(uow, lane, sam.code)

    ticks = Ticks(store=store, clock=clock, checkins=CheckInService(
        clock=clock, questionnaire=q, alerts=AlertService(clock=clock, questionnaire=q,
                                                          rules=rules), store=store),
        alerts=AlertService(clock=clock, questionnaire=q, rules=rules),
        extra_steps=[discharge.retention_step])
    clock.advance(days=364)  # the day before the period ends: still readable
    await ticks.run()
    async with store.transaction() as uow:
        data = await review.report(uow, lane, sam.code, 30)
        days = await uow.checkins.recent(sam.id, since=date(2020, 1, 1))
    assert data.client_code == sam.code and all(d.state is not None for d in days
                                                if d.status == "submitted")
    clock.advance(days=1, seconds=1)
    report = await ticks.run()
    assert report.failures == 0
    async with store.unit_of_work() as uow:
        client = await uow.clients.get(sam.id)
        assert client is not None and client.status == "erased"
        days = await uow.checkins.recent(sam.id, since=date(2020, 1, 1))
        assert days and all(d.state is None and d.scores is None for d in days)
        entry_id = (await uow.journal.index(sam.id))[0][0]
        with pytest.raises(KeyErasedError):
            await uow.journal.get(entry_id)
        with pytest.raises(NotFound):
            await review.summary(uow, lane, sam.code)
    assert ("system", "client.erase") in await events(store, sam.id)
    async with store.transaction() as uow:  # a second tick has nothing left to erase
        assert await discharge.erase_due(uow) == 0


async def test_reassignment_moves_the_client_and_tells_both_clinicians(
        store: Store, clock: FakeClock, q: Questionnaire, rules: RiskRules) -> None:
    lane, ortiz, sup, sam, _alex = await _two_caseloads(store, clock)
    caseload, review, _discharge = services(clock, q, rules)
    async with store.unit_of_work() as uow:
        with pytest.raises(NotAllowed):
            await caseload.reassign(uow, sam.code, ORTIZ, by=lane)
    async with store.transaction() as uow:
        moved = await caseload.reassign(uow, sam.code, ORTIZ, by=sup)
    assert moved.before == lane and moved.after == ortiz
    async with store.unit_of_work() as uow:
        with pytest.raises(NotFound):
            await review.summary(uow, lane, sam.code)
        assert (await review.summary(uow, ortiz, sam.code)).client.id == sam.id
        texts = {m.chat_id: m.payload["params"]["text"] for m in await uow.outbox.claim_due(
            clock.now(), limit=10, lease=timedelta(minutes=1))}
    assert sam.code in texts[ORTIZ] and "Dr Ortiz" in texts[LANE]
    assert (f"clinician:{sup.id}", "client.reassign") in await events(store, sam.id)


async def test_reassign_and_audit_show_from_the_command_line(
        database: Database, ring: MasterKeyring, clock: FakeClock, store: Store,
        q: Questionnaire, rules: RiskRules, tmp_path: Path) -> None:
    lane, ortiz, _sup, sam, _alex = await _two_caseloads(store, clock)
    _caseload, review, _discharge = services(clock, q, rules)
    async with store.transaction() as uow:
        await review.plan(uow, lane, sam.code)
    key_file = tmp_path / "steadfast.key"
    ring.create_file(key_file)
    env = {"STEADFAST_DATABASE_URL": database.url, "STEADFAST_MASTER_KEY_FILE": str(key_file)}
    moved = cli(["client", "reassign", sam.code.lower(), "--to", str(ORTIZ)], env, tmp_path)
    assert moved.returncode == 0, moved.stderr
    assert f"Client {sam.code} moved from Dr Lane to Dr Ortiz" in moved.stdout
    unknown = cli(["client", "reassign", sam.code, "--to", "999"], env, tmp_path)
    assert unknown.returncode == 1 and "999" in unknown.stderr
    shown = cli(["audit", "show", "--client", sam.code], env, tmp_path)
    assert shown.returncode == 0
    assert f"clinician:{lane.id}" in shown.stdout and "plan.view" in shown.stdout
    assert "client.reassign" in shown.stdout and "admin:cli" in shown.stdout
    async with store.unit_of_work() as uow:
        client = await uow.clients.get(sam.id)
    assert client is not None and client.clinician_id == ortiz.id


# --- end to end: the real bot over HTTP to the emulator ----------------------------------


def forge_press(emu: BotAPIEmulator, user_id: int, message_id: int, data: str) -> str:
    """A modified Telegram client sending callback data that no button of the message
    carries. The emulator presses only real buttons, so this queues the same update
    press_button would, with the forged data; the bot handles it on its normal path."""
    from telegram_emulator.core import _Callback

    message = emu._find_visible(user_id, message_id)
    assert message is not None
    query_id = str(secrets.randbits(62))
    emu._callbacks[query_id] = _Callback(user_id, message_id, time.monotonic())
    emu._enqueue({"callback_query": {
        "id": query_id, "from": emu._persons[user_id].user_json(),
        "message": emu._message_json(message), "chat_instance": str(user_id), "data": data}})
    return query_id


@pytest.fixture
async def world(emulator: BotAPIEmulator, sqlite_database: Database, ring: MasterKeyring,
                clock: FakeClock, q: Questionnaire, rules: RiskRules
                ) -> AsyncIterator[dict[str, Any]]:
    store = Store.open(sqlite_database.url, ring)
    lane, ortiz, sup, sam, alex = await _two_caseloads(store, clock)
    clock.advance(days=12)
    seeded = await seed_history(store, q, rules, sam, end=client_today(sam, clock.now()),
                                days=12)
    for user, name in ((LANE, "Lane"), (ORTIZ, "Ortiz"), (SUPERVISOR, "Sup"), (SAM, "Sam"),
                       (ALEX, "Alex")):
        emulator.person(user, name)
    bot = await InProcessBot(bot_settings(emulator, sqlite_database.url, ring,
                                          scheduler_enabled=False),
                             clock=clock).start()
    try:
        # Telegram knows a private chat only once the person has written to the bot.
        for user in (LANE, ORTIZ, SUPERVISOR, SAM):
            sent = await emulator.send_command(user, "/start")
            await emulator.wait_for_message(user, after=sent.message_id)
        yield {"emu": emulator, "store": store, "clock": clock, "sam": sam, "alex": alex,
               "lane": lane, "ortiz": ortiz, "sup": sup, "seeded": seeded}
    finally:
        await bot.stop()
        await store.close()


async def ask(emu: BotAPIEmulator, user: int, text: str, contains: str | None = None) -> Any:
    sent = await emu.send_text(user, text)
    return await emu.wait_for_message(user, contains=contains, after=sent.message_id)


async def test_a_clinician_reviews_a_client_in_session(world: dict[str, Any]) -> None:
    emu, sam, store = world["emu"], world["sam"], world["store"]
    listing = await ask(emu, LANE, "/caseload", contains="most in need first")
    assert sam.code in listing.text and world["alex"].code not in listing.text
    await emu.press_button(LANE, listing.message_id, text=sam.code)
    summary = await emu.wait_for_message(LANE, contains="Adherence", after=listing.message_id)
    assert "ACUTE-2007" in summary.text and "Call my sponsor" in summary.text
    photo = next(m for m in emu.chat(LANE) if m.kind == "photo")
    assert photo.file is not None and (photo.file.width, photo.file.height) == (1200, 600)
    assert png_size(photo.file.data) == (1200, 600)
    assert sam.code in photo.text and "indicator" not in photo.text.lower()

    await emu.press_button(LANE, summary.message_id, text="History")
    first = await emu.wait_for_message(LANE, contains="page 1 of", after=summary.message_id)
    assert "Check-in" in first.text and "Journal entry" in first.text
    await emu.press_button(LANE, first.message_id, text="Next ▶")
    second = await emu.wait_for_message(LANE, contains="page 2 of", after=first.message_id)
    assert first.message_id in [m.message_id for m in emu.deleted(LANE)]  # one page at a time
    assert second.buttons and "◀ Previous" in second.button_texts

    actions = [a for _, a in await events(store, sam.id)]
    assert actions.count("client.summary") == 1 and actions.count("client.history") == 2


async def test_messages_with_decrypted_detail_delete_themselves(world: dict[str, Any]) -> None:
    emu, sam, store, clock = world["emu"], world["sam"], world["store"], world["clock"]
    sent = await emu.send_text(LANE, f"/client {sam.code}")
    await emu.wait_for_message(LANE, contains="Adherence", after=sent.message_id)
    shown = {m.message_id for m in emu.chat(LANE)  # the chart and the text
             if m.from_bot and m.message_id > sent.message_id}
    assert len(shown) == 2

    async def deletions_due(at: datetime) -> set[int]:
        async with store.unit_of_work() as uow:
            rows = await uow.session.scalars(select(OutboxRow.id).where(
                OutboxRow.kind == "delete",
                OutboxRow.chat_index == await uow.vault.telegram_index(LANE),
                OutboxRow.next_attempt_at <= at))
            due = [await uow.outbox.get(row_id, clock.now()) for row_id in rows]
        return {m.payload["params"]["message_id"] for m in due if m is not None}

    for _ in range(100):  # the deletions are queued once each message is sent
        if shown <= await deletions_due(clock.now() + timedelta(minutes=10)):
            break
        await asyncio.sleep(0.05)
    assert await deletions_due(clock.now() + timedelta(minutes=9)) == set()
    assert shown <= await deletions_due(clock.now() + timedelta(minutes=10, seconds=5))


async def test_forged_and_stale_buttons_answer_like_a_missing_client(
        world: dict[str, Any]) -> None:
    emu, sam, alex = world["emu"], world["sam"], world["alex"]
    # Commands: another clinician's client gets the very answer a made-up code gets.
    for command in ("client", "report", "plan", "discharge"):
        theirs = await ask(emu, LANE, f"/{command} {alex.code}")
        missing = await ask(emu, LANE, f"/{command} ZZZ-ZZ")
        assert theirs.text == missing.text == "No client with that code is in your caseload."
    # Buttons: forged callback data naming Alex on a message with Sam's buttons.
    summary = await ask(emu, LANE, f"/client {sam.code}", contains="Adherence")
    answers = {}
    for code in (alex.code, "ZZZ-ZZ"):
        for action in ("summary", "history", "page", "report", "plan"):
            query = forge_press(emu, LANE, summary.message_id,
                                ReviewCb(action=action, code=code, page=0).pack())
            answers[(code, action)] = await emu.callback_answer(query)
    assert set(answers.values()) == {"No client with that code is in your caseload."}
    assert not any(alex.code in m.text for m in emu.chat(LANE) if m.from_bot)
    assert await events(world["store"], alex.id) == []
    # A stale button: Sam moves to Dr Ortiz; Dr Lane's old History button stops working.
    await ask(emu, SUPERVISOR, f"/reassign {sam.code} {ORTIZ}", contains="is now on")
    await emu.wait_for_message(ORTIZ, contains=sam.code)
    query = await emu.press_button(LANE, summary.message_id, text="History")
    assert await emu.callback_answer(query) == "No client with that code is in your caseload."
    moved = await ask(emu, ORTIZ, f"/client {sam.code}", contains="Adherence")
    assert sam.code in moved.text


async def test_only_a_supervisor_reassigns(world: dict[str, Any]) -> None:
    emu, sam = world["emu"], world["sam"]
    refused = await ask(emu, LANE, f"/reassign {sam.code} {ORTIZ}")
    assert "not available" in refused.text
    usage = await ask(emu, SUPERVISOR, "/reassign")
    assert "Use: /reassign" in usage.text
    for odd in ("99999999999999999999999", "²"):  # past 64 bits; not an ASCII digit
        usage = await ask(emu, SUPERVISOR, f"/reassign {sam.code} {odd}")
        assert "Use: /reassign" in usage.text
    unknown = await ask(emu, SUPERVISOR, f"/reassign {sam.code} 424242")
    assert "No active clinician" in unknown.text
    done = await ask(emu, SUPERVISOR, f"/reassign {sam.code} {ORTIZ}")
    assert "Dr Ortiz" in done.text
    told = await emu.wait_for_message(LANE, contains=sam.code)
    assert "Dr Ortiz" in told.text


async def test_a_clinician_edits_the_plan_and_the_client_is_told(world: dict[str, Any]) -> None:
    emu, sam, store = world["emu"], world["sam"], world["store"]
    view = await ask(emu, LANE, f"/plan {sam.code}", contains="RP plan of client")
    assert "Coping strategies:\n- Call my sponsor" in view.text and "reply within" in view.text
    assert "- Ana | role: sister | when: evenings" in view.text
    wrong = await ask(emu, LANE, "just a thought")
    assert "could not read that plan" in wrong.text
    sent = await emu.send_text(LANE, "Coping steps:\n- Call Ana\n- Walk the dog")
    await emu.wait_for_message(LANE, contains="Plan saved", after=sent.message_id)
    await eventually(lambda: sent.message_id in [m.message_id for m in emu.deleted(LANE)])
    notice = await emu.wait_for_message(SAM, contains="send /plan")
    # The first line (a lock screen's preview) names neither treatment nor offence.
    assert notice.text.splitlines()[0] == "You have an update waiting."
    assert "Call Ana" not in notice.text
    async with store.unit_of_work() as uow:
        plan = await uow.plans.get(sam.id)
    assert plan.coping_steps == ("Call Ana", "Walk the dog")
    assert plan.warning_signs == ("Staying up late online", "Feeling lonely",
                                  "Thinking no one would know")  # kept
    # Later, ordinary text is not read as a plan any more.
    later = await ask(emu, LANE, "thanks")
    assert "Plan saved" not in later.text
    # The one-message form: the command with the sections below it.
    sent = await emu.send_text(LANE, f"/plan {sam.code}\nSupport people:\n- Group on Monday")
    await emu.wait_for_message(LANE, contains="Plan saved", after=sent.message_id)
    async with store.unit_of_work() as uow:
        assert (await uow.plans.get(sam.id)).support_people == ("Group on Monday",)
    actions = [a for _, a in await events(store, sam.id)]
    assert actions.count("plan.edit") == 2 and "plan.view" in actions
    async with store.unit_of_work() as uow:
        versions = await uow.plans.versions(sam.id)
    # The seeded plan and the two edits, newest first, each with who saved it and why.
    assert [v.number for v in versions] == [3, 2, 1]
    assert versions[0].reason == "Changed in the chat" and versions[0].by is not None
    assert versions[2].plan.coping_steps == ("Call my sponsor", "Go for a walk",
                                             "Leave the place")


async def test_a_clinician_discharges_a_client_after_confirming(
        world: dict[str, Any], q: Questionnaire, rules: RiskRules) -> None:
    emu, sam, store, clock = world["emu"], world["sam"], world["store"], world["clock"]
    async with store.transaction() as uow:
        alert = await AlertService(clock=clock, questionnaire=q, rules=rules).raise_alert(
            uow, sam, findings=[Finding("self_harm", "critical", "SELF_HARM")],
            checkin_id=None, answers={"self_harm": True})
    async with store.unit_of_work() as uow:
        still_open = sum((await uow.alerts.open_counts([sam.id])).get(sam.id, {}).values())
    assert still_open >= 1
    question = await ask(emu, LANE, f"/discharge {sam.code}", contains="Discharge client")
    assert "365 days" in question.text
    assert (f"{still_open} alert of this client is still open" if still_open == 1 else
            f"{still_open} alerts of this client are still open") in question.text
    await emu.press_button(LANE, question.message_id, text="Cancel")
    await eventually(lambda: "cancelled" in next(
        m for m in emu.chat(LANE) if m.message_id == question.message_id).text)
    question = await ask(emu, LANE, f"/discharge {sam.code}", contains="Discharge client")
    await emu.press_button(LANE, question.message_id, text=f"Discharge {sam.code}")
    await eventually(lambda: "is discharged" in next(
        m for m in emu.chat(LANE) if m.message_id == question.message_id).text)
    told = await emu.wait_for_message(SAM, contains="Your daily check-ins here have ended.")
    assert told.text.split("\n")[0] == "Your daily check-ins here have ended."
    async with store.unit_of_work() as uow:
        client = await uow.clients.get(sam.id)
    assert client is not None and client.status == "discharged"
    assert client.erase_after == clock.now() + timedelta(days=365)
    async with store.unit_of_work() as uow:  # discharge closes no alert: it still escalates
        kept = await uow.alerts.get(str(alert.id))
    assert kept is not None and kept.status == "open"
    # The client is no longer monitored; the records stay readable for the report.
    stranger = await ask(emu, SAM, "/checkin")
    assert "enrolled participants" in stranger.text
    again = await ask(emu, LANE, f"/discharge {sam.code}")
    assert "not in active monitoring" in again.text
    listing = await ask(emu, LANE, "/caseload")
    assert sam.code not in listing.text
    assert ("clinician:" + str(world["lane"].id), "client.discharge") in await events(
        store, sam.id)


async def test_the_report_arrives_as_a_pdf_document(world: dict[str, Any]) -> None:
    from io import BytesIO

    from pypdf import PdfReader

    emu, sam = world["emu"], world["sam"]
    usage = await ask(emu, LANE, f"/report {sam.code} 0")
    assert "days from 1 to 366" in usage.text
    for odd in ("²", "9" * 5000):  # str.isdigit() says yes to both; int() to neither
        usage = await ask(emu, LANE, f"/report {sam.code} {odd}")
        assert "days from 1 to 366" in usage.text
    sent = await emu.send_text(LANE, f"/report {sam.code} 14")
    document = await emu.wait_for_message(LANE, contains="Session report", after=sent.message_id)
    assert document.kind == "document" and document.file is not None
    today = world["clock"].now().date()  # the client's day and the viewer's are the same here
    assert document.file.file_name == (f"steadfast-{sam.code}-{today - timedelta(days=13)}"
                                       f"-to-{today}-made-{today}.pdf")
    reader = PdfReader(BytesIO(document.file.data))
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert sam.code in text and "Indicators from self-report, not an ACUTE-2007 assessment" in text
    assert sum(len(page.images) for page in reader.pages) == 5
    assert ("clinician:" + str(world["lane"].id), "client.report") in await events(
        world["store"], sam.id)
