"""Stories of the scheduler: every client is prompted once a day at their own local time,
across daylight-saving changes, restarts and two instances, and missed days are noticed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, text, update

from bot.callbacks import render_buttons
from journal.alerts.rules_file import load_rules
from journal.alerts.service import AlertService
from journal.checkin.days import DEFAULT_WINDOW
from journal.checkin.questionnaire_file import load_questionnaire
from journal.checkin.schedule import ScheduleService
from journal.checkin.service import CheckInService
from journal.clock import FakeClock
from scheduler.runner import JOB_ID, SchedulerRunner
from scheduler.ticks import TICK_LOCK_KEY, TickReport, Ticks
from storage.crypto import MasterKeyring
from storage.models import (
    AlertRow,
    CheckInRow,
    OutboxRow,
    ProcessedUpdateRow,
    WebSessionRow,
    WebSignInRow,
)
from storage.records import Client, Clinician
from storage.uow import Store, UnitOfWork
from tests.conftest import PG_ADMIN_URL, Database
from tests.e2e import InProcessBot, bot_settings
from tests.helpers import make_clinician


def at(text_: str) -> datetime:
    """"2026-03-08 07:00" in UTC."""
    return datetime.fromisoformat(text_).replace(tzinfo=UTC)


# ------------------------------------------------------------------------ builders


def services(store: Store, clock: FakeClock, window: timedelta = DEFAULT_WINDOW,
             ) -> tuple[CheckInService, AlertService, Any]:
    q = load_questionnaire()
    alerts = AlertService(clock=clock, questionnaire=q, rules=load_rules(questionnaire=q))
    return (CheckInService(clock=clock, questionnaire=q, alerts=alerts, store=store,
                           window=window), alerts, q)


def make_ticks(store: Store, clock: FakeClock, *, window: timedelta = DEFAULT_WINDOW,
               **kwargs: Any) -> Ticks:
    checkins, alerts, _q = services(store, clock, window)
    return Ticks(store=store, clock=clock, checkins=checkins, alerts=alerts, **kwargs)


async def add_client(store: Store, clock: FakeClock, clinician: Clinician, telegram_id: int,
                     *, zone: str = "UTC", time_: str = "20:00", days: str = "0123456",
                     language: str = "en") -> Client:
    """An enrolled client, enrolled at the clock's current time."""
    async with store.transaction() as uow:
        client = await uow.clients.add_invited(clinician_id=clinician.id, language=language,
                                               timezone=zone, checkin_time=time_,
                                               now=clock.now())
        return await uow.clients.update(client.id, telegram_id=telegram_id, status="active",
                                        enrolled_at=clock.now(), checkin_days=days)


async def prompts(store: Store) -> dict[tuple[str, str], datetime]:
    """{(client id, local date): when the prompt was queued}."""
    async with store.unit_of_work() as uow:
        rows = await uow.session.execute(
            select(OutboxRow.dedupe_key, OutboxRow.created_at)
            .where(OutboxRow.dedupe_key.like("prompt:%")))
        found = {}
        for key, created in rows:
            _, client_id, day = str(key).split(":")
            found[(client_id, day)] = created
        return found


async def checkin_statuses(store: Store, client: Client) -> dict[date, str]:
    async with store.unit_of_work() as uow:
        return await uow.checkins.statuses(client.id, since=date(2000, 1, 1))


async def count(store: Store, query: Any) -> int:
    async with store.unit_of_work() as uow:
        return int(await uow.session.scalar(query) or 0)


async def submit(store: Store, client: Client, day: date) -> None:
    async with store.transaction() as uow:
        checkin = await uow.checkins.for_day(client.id, day)
        assert checkin is not None
        await uow.checkins.save(checkin.id, status="submitted", submitted_at=datetime.now(UTC))


async def step_through(ticks: Ticks, clock: FakeClock, until: datetime, step: timedelta,
                       after: Callable[[], Awaitable[None]] | None = None) -> TickReport:
    total = TickReport()
    while clock.now() <= until:
        report = await ticks.run()
        assert report.ran and report.failures == 0
        total.add(report)
        if after is not None:
            await after()
        clock.advance(step)
    return total


@pytest.fixture
async def sqlite_store(sqlite_database: Database, ring: MasterKeyring) -> AsyncIterator[Store]:
    s = Store.open(sqlite_database.url, ring)
    try:
        yield s
    finally:
        await s.close()


# ------------------------------------------------------------------------ daylight saving


@pytest.mark.parametrize(("zone", "time_", "start", "expected"), [
    ("America/New_York", "02:30", "2026-03-07 05:00",
     ["2026-03-07 07:30", "2026-03-08 07:00", "2026-03-09 06:30"]),
    ("America/New_York", "01:30", "2026-10-31 04:00",
     ["2026-10-31 05:30", "2026-11-01 05:30", "2026-11-02 06:30"]),
    ("Europe/Madrid", "02:30", "2026-03-27 23:00",
     ["2026-03-28 01:30", "2026-03-29 01:00", "2026-03-30 00:30"]),
    ("Europe/Madrid", "02:30", "2026-10-23 22:00",
     ["2026-10-24 00:30", "2026-10-25 00:30", "2026-10-26 01:30"]),
], ids=["new-york-spring", "new-york-fall", "madrid-spring", "madrid-fall"])
async def test_each_day_gets_exactly_one_prompt_at_the_right_instant_across_dst(
        sqlite_store: Store, zone: str, time_: str, start: str, expected: list[str]) -> None:
    clock = FakeClock(at(start))  # local midnight, the day before the change
    clinician = await make_clinician(sqlite_store, clock)
    client = await add_client(sqlite_store, clock, clinician, 8001, zone=zone, time_=time_)
    ticks = make_ticks(sqlite_store, clock)
    await step_through(ticks, clock, clock.now() + timedelta(days=3) - timedelta(minutes=1),
                       timedelta(minutes=15))
    sent = await prompts(sqlite_store)
    assert sorted(sent.values()) == [at(e) for e in expected]
    days = sorted(day for _, day in sent)
    assert len(set(days)) == 3  # one per local date, none twice on the repeated hour
    async with sqlite_store.unit_of_work() as uow:
        rows = await uow.checkins.recent(client.id, since=date(2026, 1, 1))
    assert sorted(r.prompted_at for r in rows if r.prompted_at) == [at(e) for e in expected]


# ------------------------------------------------------------------------ five zones


async def test_clients_in_five_time_zones_are_each_prompted_at_their_local_time(
        store: Store) -> None:
    clock = FakeClock(at("2026-03-02 00:00"))
    clinician = await make_clinician(store, clock)
    people = {
        "America/Los_Angeles": ("20:00", ["2026-03-02 04:00", "2026-03-03 04:00"]),
        "America/New_York": ("07:30", ["2026-03-02 12:30", "2026-03-03 12:30"]),
        "Europe/Madrid": ("21:15", ["2026-03-02 20:15", "2026-03-03 20:15"]),
        "Asia/Kolkata": ("09:45", ["2026-03-02 04:15", "2026-03-03 04:15"]),
        # Sydney's 06:00 on 2 March was 1 March 19:00 UTC, before enrolment: not prompted.
        "Australia/Sydney": ("06:00", ["2026-03-02 19:00", "2026-03-03 19:00"]),
    }
    clients = {}
    for n, (zone, (time_, _)) in enumerate(people.items()):
        clients[zone] = await add_client(store, clock, clinician, 8100 + n, zone=zone,
                                         time_=time_)
    ticks = make_ticks(store, clock)
    await step_through(ticks, clock, at("2026-03-03 23:59"), timedelta(minutes=15))
    sent = await prompts(store)
    for zone, (_time, expected) in people.items():
        mine = sorted(when for (client_id, _), when in sent.items()
                      if client_id == clients[zone].id)
        assert mine == [at(e) for e in expected], zone
        for (client_id, day), when in sent.items():
            if client_id == clients[zone].id:  # the prompt is for the local date at that time
                assert when.astimezone(ZoneInfo(zone)).date().isoformat() == day
    assert len(sent) == 10


# ------------------------------------------------------------------------ downtime


async def test_a_restart_after_six_hours_down_catches_up_once(store: Store) -> None:
    clock = FakeClock(at("2026-03-02 02:00"))
    clinician = await make_clinician(store, clock)
    done = await add_client(store, clock, clinician, 8001, time_="02:30")
    missed = await add_client(store, clock, clinician, 8002, time_="04:00")
    during = await add_client(store, clock, clinician, 8003, time_="14:00")
    late = await add_client(store, clock, clinician, 8004, time_="17:30")
    # 23:00 in Tokyo is 14:00 UTC; by 18:00 UTC Tokyo is already on 3 March, and the 2 March
    # check-in is still open until 02:00 UTC.
    tokyo = await add_client(store, clock, clinician, 8005, zone="Asia/Tokyo", time_="23:00")
    ticks = make_ticks(store, clock)

    async def submit_early() -> None:
        if clock.now() == at("2026-03-02 03:00"):
            await submit(store, done, date(2026, 3, 2))

    await step_through(ticks, clock, at("2026-03-02 12:00"), timedelta(minutes=15),
                       after=submit_early)  # the bot runs until noon...
    before = await prompts(store)
    assert {c for c, _ in before} == {done.id, missed.id}

    clock.set(at("2026-03-02 18:00"))  # ...and is down for six hours
    report = await ticks.run()
    assert (report.prompted, report.missed, report.failures) == (3, 1, 0)
    sent = await prompts(store)
    assert sent[(during.id, "2026-03-02")] == at("2026-03-02 18:00")
    assert sent[(late.id, "2026-03-02")] == at("2026-03-02 18:00")
    assert sent[(tokyo.id, "2026-03-02")] == at("2026-03-02 18:00")  # its local day, not today
    assert (await checkin_statuses(store, missed))[date(2026, 3, 2)] == "missed"
    assert (await checkin_statuses(store, done))[date(2026, 3, 2)] == "submitted"
    # A catch-up prompt gets its reminder two hours after it was sent, not at once.
    assert report.reminded == 0

    for moment in ("2026-03-02 18:00", "2026-03-02 18:05", "2026-03-02 19:00"):
        clock.set(at(moment))
        again = await ticks.run()
        assert (again.prompted, again.missed, again.alerts) == (0, 0, 0)
    assert await prompts(store) == sent
    assert await count(store, select(func.count()).select_from(CheckInRow)) == 5


async def test_a_window_that_opened_and_closed_while_down_is_marked_missed(
        store: Store) -> None:
    clock = FakeClock(at("2026-03-02 06:00"))
    clinician = await make_clinician(store, clock)
    client = await add_client(store, clock, clinician, 8001, time_="07:00")
    ticks = make_ticks(store, clock, window=timedelta(hours=4))
    assert (await ticks.run()).prompted == 0
    clock.set(at("2026-03-02 12:00"))  # six hours down; the window was 07:00-11:00
    report = await ticks.run()
    assert (report.prompted, report.missed) == (0, 1)
    assert await prompts(store) == {}
    assert await checkin_statuses(store, client) == {date(2026, 3, 2): "missed"}


async def test_catch_up_looks_back_a_bounded_number_of_days(store: Store) -> None:
    clock = FakeClock(at("2026-03-01 00:00"))
    clinician = await make_clinician(store, clock)
    client = await add_client(store, clock, clinician, 8001, time_="20:00")
    clock.set(at("2026-03-20 12:00"))  # nineteen days down
    report = await make_ticks(store, clock, lookback_days=7).run()
    statuses = await checkin_statuses(store, client)
    assert min(statuses) == date(2026, 3, 13)
    assert report.missed == 7 and set(statuses.values()) == {"missed"}


# ------------------------------------------------------------------------ two instances


@pytest.mark.parametrize("database", [pytest.param("postgres", marks=pytest.mark.postgres)],
                         indirect=True)
async def test_two_instances_on_postgresql_prompt_each_client_exactly_once(
        database: Database, ring: MasterKeyring) -> None:
    clock = FakeClock(at("2026-03-02 00:00"))
    first, second = Store.open(database.url, ring), Store.open(database.url, ring)
    try:
        clinician = await make_clinician(first, clock)
        zones = ("America/New_York", "Europe/Madrid", "Asia/Kolkata", "Australia/Sydney",
                 "America/Los_Angeles")
        for n, zone in enumerate(zones):
            await add_client(first, clock, clinician, 8100 + n, zone=zone, time_="08:00")
        ticks_a, ticks_b = make_ticks(first, clock), make_ticks(second, clock)
        skipped = 0
        end = at("2026-03-05 00:00")
        while clock.now() < end:
            if clock.now() == at("2026-03-04 00:00"):
                # Instance A hangs holding the lock, then its process dies: B waits it out,
                # then takes over as soon as the connection is gone.
                async with first.unit_of_work() as hung:
                    assert await hung.try_advisory_lock(TICK_LOCK_KEY)
                    pid = await hung.session.scalar(text("SELECT pg_backend_pid()"))
                    assert (await ticks_b.run()).ran is False
                    await terminate(int(pid))
                    assert (await ticks_b.run()).ran is True
                    await hung.session.invalidate()
            reports = await asyncio.gather(ticks_a.run(), ticks_b.run())
            assert all(r.failures == 0 for r in reports)
            skipped += sum(not r.ran for r in reports)
            clock.advance(minutes=20)
        assert len(await prompts(first)) == 15
        async with first.unit_of_work() as uow:
            per_client = await uow.session.execute(
                select(OutboxRow.client_id, func.count())
                .where(OutboxRow.dedupe_key.like("prompt:%")).group_by(OutboxRow.client_id))
            counts = dict(per_client.all())
            alerts = await uow.session.execute(
                select(AlertRow.client_id, func.count()).group_by(AlertRow.client_id))
            alert_counts = dict(alerts.all())
        # Three local days each (Sydney's first 08:00 fell before enrolment, its fourth
        # on 4 March at 21:00 UTC).
        assert sorted(counts.values()) == [3, 3, 3, 3, 3]
        # Nobody answers: one alert from the second missed day on, per day, never doubled
        # (Madrid and Kolkata closed three days by the end, the others two).
        assert sorted(alert_counts.values()) == [1, 1, 1, 2, 2]
        assert skipped > 0  # the instances really did race for the lock
    finally:
        await first.close()
        await second.close()


async def terminate(pid: int) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN_URL, timeout=5)
    try:
        await conn.execute("SELECT pg_terminate_backend($1)", pid)
        # pg_terminate_backend only signals: the process, and the locks it held, go a moment
        # later. A dead process's locks are what the story is about, so wait until they went.
        for _ in range(200):
            if await conn.fetchval(
                    "SELECT NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1)"
                    " AND NOT EXISTS (SELECT 1 FROM pg_locks WHERE pid = $1)", pid):
                break
            await asyncio.sleep(0.025)
    finally:
        await conn.close()


# ------------------------------------------------------------------------ missed days


async def test_two_missed_days_in_a_row_raise_one_alert(store: Store) -> None:
    clock = FakeClock(at("2026-03-02 09:00"))
    clinician = await make_clinician(store, clock, telegram_id=500)
    client = await add_client(store, clock, clinician, 8001, time_="20:00")
    ticks = make_ticks(store, clock)
    alerts = select(func.count()).select_from(AlertRow)
    for moment, missed, raised in (("2026-03-02 20:00", 0, 0), ("2026-03-03 08:00", 1, 0),
                                   ("2026-03-03 20:00", 0, 0), ("2026-03-04 08:00", 1, 1),
                                   ("2026-03-04 08:15", 0, 0)):
        clock.set(at(moment))
        report = await ticks.run()
        assert (report.missed, report.alerts) == (missed, raised), moment
    assert await count(store, alerts) == 1
    async with store.unit_of_work() as uow:
        alert = (await uow.alerts.recent(client.id, since=at("2026-03-01 00:00")))[0]
        copies = (await uow.session.execute(
            select(OutboxRow.id, OutboxRow.dedupe_key).where(OutboxRow.kind == "alert"))).all()
        chats = [(await uow.outbox.get(row_id, clock.now())) for row_id, _ in copies]
    assert alert.detail["reasons"] == ["MISSED_CHECKINS"]
    assert [(m.chat_id if m else None, key) for m, (_, key) in zip(chats, copies, strict=True)
            ] == [(500, f"missed:{client.id}:2026-03-03")]


async def test_a_clients_own_missed_day_threshold_holds_in_a_tick_of_many(store: Store) -> None:
    """The tick reads a chunk's overrides at once: each client still gets their own."""
    clock = FakeClock(at("2026-03-02 09:00"))
    clinician = await make_clinician(store, clock, telegram_id=500)
    watched = await add_client(store, clock, clinician, 8001, time_="20:00")
    others = [await add_client(store, clock, clinician, 8002 + n, time_="20:00")
              for n in range(3)]
    async with store.transaction() as uow:
        await uow.overrides.set(watched.id, "missed_checkins", 1, by=clinician.id,
                                now=clock.now())
    ticks = make_ticks(store, clock)
    clock.set(at("2026-03-02 20:00"))
    await ticks.run()
    clock.set(at("2026-03-03 08:00"))  # the first day's window closed unanswered
    report = await ticks.run()
    assert (report.missed, report.alerts) == (4, 1)
    async with store.unit_of_work() as uow:
        assert len(await uow.alerts.recent(watched.id, since=at("2026-03-01 00:00"))) == 1
        for other in others:
            assert await uow.alerts.recent(other.id, since=at("2026-03-01 00:00")) == []


async def test_a_submitted_day_is_never_marked_missed(store: Store) -> None:
    clock = FakeClock(at("2026-03-02 09:00"))
    clinician = await make_clinician(store, clock)
    client = await add_client(store, clock, clinician, 8001, time_="20:00")
    ticks = make_ticks(store, clock)
    clock.set(at("2026-03-02 20:00"))
    await ticks.run()
    await submit(store, client, date(2026, 3, 2))
    clock.set(at("2026-03-03 09:00"))
    assert (await ticks.run()).missed == 0
    assert await checkin_statuses(store, client) == {date(2026, 3, 2): "submitted"}


async def test_an_unfinished_check_in_is_missed_when_its_window_closes(store: Store) -> None:
    clock = FakeClock(at("2026-03-02 09:00"))
    clinician = await make_clinician(store, clock)
    client = await add_client(store, clock, clinician, 8001, time_="20:00")
    checkins, _, _ = services(store, clock)
    ticks = make_ticks(store, clock)
    clock.set(at("2026-03-02 20:00"))
    await ticks.run()
    async with store.transaction() as uow:  # the client starts and stops halfway
        await checkins.start_or_continue(uow, client)
    assert (await checkin_statuses(store, client))[date(2026, 3, 2)] == "in_progress"
    clock.set(at("2026-03-03 08:00"))
    assert (await ticks.run()).missed == 1
    assert (await checkin_statuses(store, client))[date(2026, 3, 2)] == "missed"


# ------------------------------------------------------------------------ reminders


async def test_a_reminder_comes_once_after_the_delay_in_the_clients_language(
        store: Store) -> None:
    clock = FakeClock(at("2026-03-02 09:00"))
    clinician = await make_clinician(store, clock)
    waiting = await add_client(store, clock, clinician, 8001, time_="18:00", language="es")
    started = await add_client(store, clock, clinician, 8002, time_="18:00")
    finished = await add_client(store, clock, clinician, 8003, time_="18:00")
    checkins, _, _ = services(store, clock)
    ticks = make_ticks(store, clock, reminder_delay=timedelta(hours=2))
    clock.set(at("2026-03-02 18:00"))
    assert (await ticks.run()).prompted == 3
    async with store.transaction() as uow:
        await checkins.start_or_continue(uow, started)
    await submit(store, finished, date(2026, 3, 2))
    clock.set(at("2026-03-02 19:59"))
    assert (await ticks.run()).reminded == 0
    clock.set(at("2026-03-02 20:00"))
    assert (await ticks.run()).reminded == 2
    clock.set(at("2026-03-02 21:00"))
    assert (await ticks.run()).reminded == 0
    async with store.unit_of_work() as uow:
        rows = (await uow.session.execute(
            select(OutboxRow).where(OutboxRow.dedupe_key.like("reminder:%")))).scalars().all()
        by_chat = {m.chat_id: m for m in [await uow.outbox.get(row.id, clock.now())
                                          for row in rows] if m is not None}
    assert set(by_chat) == {8001, 8002}
    spanish = by_chat[8001]
    english = by_chat[8002]
    assert spanish is not None and english is not None
    assert "not finished" in english.payload["params"]["text"]
    button = render_buttons(spanish.payload["params"]["buttons"]).inline_keyboard[0][0]
    assert button.callback_data == "ck:s:20260302:0:0"
    assert waiting.language == "es"


# ------------------------------------------------------------------------ pause and days


async def test_pause_suppresses_prompts_and_missed_day_alerts(store: Store) -> None:
    clock = FakeClock(at("2026-03-02 10:00"))
    clinician = await make_clinician(store, clock, telegram_id=500)
    paused = await add_client(store, clock, clinician, 8001, time_="20:00")
    control = await add_client(store, clock, clinician, 8002, time_="20:00")
    schedules = ScheduleService(clock=clock)
    async with store.transaction() as uow:
        await schedules.pause(uow, clinician, paused.code, "hospital")
    ticks = make_ticks(store, clock)
    await step_through(ticks, clock, at("2026-03-05 12:00"), timedelta(hours=1))
    sent = await prompts(store)
    assert {c for c, _ in sent} == {control.id}
    assert await checkin_statuses(store, paused) == {}
    async with store.unit_of_work() as uow:
        assert await uow.alerts.recent(paused.id, since=at("2026-03-01 00:00")) == []
        assert len(await uow.alerts.recent(control.id, since=at("2026-03-01 00:00"))) == 2

    clock.set(at("2026-03-05 12:00"))
    async with store.transaction() as uow:
        _, changed = await schedules.resume(uow, clinician, paused.code)
    assert changed
    await step_through(ticks, clock, at("2026-03-05 20:00"), timedelta(hours=1))
    # Resuming marks none of the paused days missed; the next check-in is prompted.
    assert await checkin_statuses(store, paused) == {date(2026, 3, 5): "prompted"}
    assert (paused.id, "2026-03-05") in await prompts(store)


async def test_a_pause_between_two_missed_days_ends_the_run(store: Store) -> None:
    clock = FakeClock(at("2026-03-02 10:00"))
    clinician = await make_clinician(store, clock)
    client = await add_client(store, clock, clinician, 8001, time_="20:00")
    schedules = ScheduleService(clock=clock)
    ticks = make_ticks(store, clock)
    await step_through(ticks, clock, at("2026-03-03 09:00"), timedelta(hours=1))
    assert await checkin_statuses(store, client) == {date(2026, 3, 2): "missed"}
    async with store.transaction() as uow:
        await schedules.pause(uow, clinician, client.code, "custody")
    clock.set(at("2026-03-05 10:00"))
    async with store.transaction() as uow:
        await schedules.resume(uow, clinician, client.code)
    await step_through(ticks, clock, at("2026-03-06 09:00"), timedelta(hours=1))
    assert await checkin_statuses(store, client) == {date(2026, 3, 2): "missed",
                                                     date(2026, 3, 5): "missed"}
    assert await count(store, select(func.count()).select_from(AlertRow)) == 0


async def test_a_weekdays_only_client_has_no_weekend_prompts_or_missed_days(
        store: Store) -> None:
    clock = FakeClock(at("2026-03-06 10:00"))  # a Friday
    clinician = await make_clinician(store, clock)
    client = await add_client(store, clock, clinician, 8001, time_="20:00", days="01234")
    ticks = make_ticks(store, clock)
    await step_through(ticks, clock, at("2026-03-09 21:00"), timedelta(hours=1))
    assert sorted(day for _, day in await prompts(store)) == ["2026-03-06", "2026-03-09"]
    assert set(await checkin_statuses(store, client)) == {date(2026, 3, 6), date(2026, 3, 9)}


async def test_unreachable_invited_and_discharged_clients_get_no_prompts(store: Store) -> None:
    clock = FakeClock(at("2026-03-02 10:00"))
    clinician = await make_clinician(store, clock)
    blocked = await add_client(store, clock, clinician, 8001, time_="20:00")
    gone = await add_client(store, clock, clinician, 8002, time_="20:00")
    async with store.transaction() as uow:
        await uow.clients.update(blocked.id, unreachable=True)
        await uow.clients.update(gone.id, status="discharged")
        await uow.clients.add_invited(clinician_id=clinician.id, language="en", timezone="UTC",
                                      checkin_time="20:00", now=clock.now())
    ticks = make_ticks(store, clock)
    await step_through(ticks, clock, at("2026-03-04 12:00"), timedelta(hours=2))
    assert await prompts(store) == {}
    # The blocked client's days are recorded as missed, but the blocked-bot alert already
    # told the clinician: no missed-day alerts on top of it.
    assert set((await checkin_statuses(store, blocked)).values()) == {"missed"}
    assert await checkin_statuses(store, gone) == {}
    assert await count(store, select(func.count()).select_from(AlertRow)) == 0


# ------------------------------------------------------------------------ the rest of a tick


async def test_housekeeping_and_extra_steps_run_in_the_tick(store: Store) -> None:
    clock = FakeClock(at("2026-03-20 10:00"))
    clinician = await make_clinician(store, clock)
    client = await add_client(store, clock, clinician, 8001)
    async with store.transaction() as uow:
        for age, status in ((9, "sent"), (8, "cancelled"), (3, "sent"), (9, "dead"),
                            (9, "queued")):
            message_id = await uow.outbox.add(chat_id=8001, kind="notice", method="sendMessage",
                                              params={"text": "x"},
                                              now=clock.now() - timedelta(days=age),
                                              client_id=client.id)
            await uow.session.execute(update(OutboxRow).where(OutboxRow.id == message_id)
                                      .values(status=status))
        await uow.updates.record(1, clock.now() - timedelta(days=9))
        await uow.updates.record(2, clock.now() - timedelta(days=1))
        # Workspace sign-ins: a link and a session that ended 31 days ago go, a month-old
        # session still within its limit when it was ended 29 days ago stays, as does today's.
        for days, hours in ((31, 0), (29, 0), (0, 1)):
            began = clock.now() - timedelta(days=days, hours=hours)
            await uow.web_sign_ins.add(token_hash=f"link{days}", clinician_id=clinician.id,
                                       now=began, expires_at=began + timedelta(minutes=5))
            session_id = await uow.web_sessions.add(
                token_hash=f"s{days}", csrf_hash="c", clinician_id=clinician.id, now=began,
                expires_at=began + timedelta(hours=8))
            if days:
                await uow.web_sessions.end(session_id, began + timedelta(hours=1))
    calls: list[str] = []

    async def retention(uow: UnitOfWork) -> None:
        calls.append("retention")

    async def broken(uow: UnitOfWork) -> None:
        raise RuntimeError("a step that fails costs only itself")

    ticks = make_ticks(store, clock, extra_steps=(broken, retention))
    report = await ticks.run()
    assert calls == ["retention"] and report.failures == 1 and report.purged == 2
    async with store.unit_of_work() as uow:
        left = sorted((await uow.session.execute(select(OutboxRow.status))).scalars())
        updates = sorted((await uow.session.execute(
            select(ProcessedUpdateRow.update_id))).scalars())
    assert left == ["dead", "queued", "sent"] and updates == [2]
    async with store.unit_of_work() as uow:
        links = sorted((await uow.session.execute(select(WebSignInRow.token_hash))).scalars())
        sessions = sorted((await uow.session.execute(
            select(WebSessionRow.token_hash))).scalars())
    assert links == ["link0", "link29"] and sessions == ["s0", "s29"]
    await ticks.run()
    assert calls == ["retention", "retention"]


async def test_a_second_tick_while_one_holds_the_lock_is_skipped_on_postgres_only(
        store: Store, database: Database) -> None:
    clock = FakeClock(at("2026-03-02 10:00"))
    ticks = make_ticks(store, clock)
    async with store.unit_of_work() as holder:
        assert await holder.try_advisory_lock(TICK_LOCK_KEY)
        if database.kind == "postgres":
            assert (await ticks.run()).ran is False
    assert (await ticks.run()).ran is True


# ------------------------------------------------------------------------ the runner


class SlowTicks:
    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.finished = 0

    async def run(self) -> TickReport:
        self.started.set()
        await asyncio.sleep(0.2)
        self.finished += 1
        return TickReport()


async def test_the_runner_ticks_at_once_and_stops_only_when_no_tick_runs() -> None:
    slow = SlowTicks()
    runner = SchedulerRunner(slow, interval=timedelta(seconds=30))  # type: ignore[arg-type]
    runner.start()
    assert runner.scheduler is not None
    job = runner.scheduler.get_job(JOB_ID)
    assert job.coalesce is True and job.max_instances == 1 and job.misfire_grace_time is None
    await asyncio.wait_for(slow.started.wait(), timeout=5)
    await runner.stop()
    assert slow.finished == 1  # the tick in flight finished before stop() returned
    assert runner.scheduler is None


class StraddlingTicks:
    """A first tick that runs across its clients' instant: it began before it, so it found
    them not yet due, and it ends after it."""

    def __init__(self) -> None:
        self.runs: list[datetime] = []
        self.again = asyncio.Event()

    async def run(self) -> TickReport:
        self.runs.append(datetime.now(UTC))
        if len(self.runs) > 1:
            self.again.set()
            return TickReport()
        await asyncio.sleep(0.3)
        return TickReport(next_due=self.runs[0] + timedelta(seconds=0.1))


async def test_clients_whose_instant_came_during_a_tick_are_prompted_at_once_not_a_tick_later(
        ) -> None:
    ticks = StraddlingTicks()
    runner = SchedulerRunner(ticks, interval=timedelta(seconds=30))  # type: ignore[arg-type]
    runner.start()
    try:
        await asyncio.wait_for(ticks.again.wait(), timeout=5)
    finally:
        await runner.stop()
    assert ticks.runs[1] - ticks.runs[0] < timedelta(seconds=2)


# ------------------------------------------------------------------------ end to end


async def test_the_bot_catches_up_on_start_and_prompts_once(
        emulator: Any, sqlite_database: Database, ring: MasterKeyring) -> None:
    clock = FakeClock(at("2026-03-02 08:00"))
    store = Store.open(sqlite_database.url, ring)
    try:
        clinician = await make_clinician(store, clock, telegram_id=7001)
        await add_client(store, clock, clinician, 8001, time_="08:30")
        emulator.person(8001, "Sam")
        await emulator.send_text(8001, "/start")  # the chat exists
        clock.set(at("2026-03-02 09:00"))  # the bot was down at 08:30
        settings = bot_settings(emulator, sqlite_database.url, ring)
        bot = await InProcessBot(settings, clock=clock).start()
        try:
            prompt = await emulator.wait_for_message(8001, contains="Time for your check-in")
            assert [b.text for row in prompt.buttons for b in row] == ["Start check-in", "Later"]
        finally:
            await bot.stop()
        bot = await InProcessBot(settings, clock=clock).start()  # a second start: no repeat
        try:
            await asyncio.sleep(0.3)
        finally:
            await bot.stop()
        assert sum("Time for your check-in" in (m.text or "")
                   for m in emulator.chat(8001)) == 1
    finally:
        await store.close()
