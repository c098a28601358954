"""Stories of a scheduler that costs what is due: a quiet tick reads only the clients whose
next due instant has come, a busy one works in short transactions others commit between,
and each client's next instant stays right across schedule changes, pauses and DST."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta
from typing import Any

import pytest
from alembic import command
from sqlalchemy import event, insert, inspect, select, text
from sqlalchemy.engine import Connection

import scheduler.ticks
from journal.alerts.rules import Finding
from journal.checkin.days import opens_at
from journal.checkin.schedule import ScheduleRequest, ScheduleService
from journal.clock import FakeClock
from scheduler.ticks import Ticks
from storage.crypto import MasterKeyring
from storage.db import create_engine
from storage.migrate import alembic_config
from storage.models import CheckInRow, ClientRow, OutboxRow
from storage.records import Client
from storage.repositories import new_id
from storage.repositories.people import AT_ONCE, ClientRepository
from storage.uow import Store
from tests.conftest import Database
from tests.helpers import make_clinician, read_schema
from tests.test_scheduler import add_client, at, make_ticks, services


async def seed_directly(store: Store, clinician_id: int, n: int, *, first_telegram_id: int,
                        next_due_at: datetime | None, now: datetime,
                        enrolled_at: datetime | None = None) -> None:
    """n active clients inserted as rows in one statement: a caseload, quickly. Enrolled a
    day before `now` unless `enrolled_at` says when."""
    async with store.transaction() as uow:
        rows = []
        for i in range(n):
            client_id, telegram_id = new_id(), first_telegram_id + i
            rows.append({
                "id": client_id, "code": f"S{telegram_id}", "status": "active",
                "telegram_index": await uow.vault.telegram_index(telegram_id),
                "telegram_id_ct": await uow.vault.seal_person("clients.telegram_id", client_id,
                                                              telegram_id),
                "clinician_id": clinician_id, "language": "en", "timezone": "UTC",
                "checkin_time": "08:00", "checkin_days": "0123456", "unreachable": False,
                "created_at": now, "enrolled_at": enrolled_at or now - timedelta(days=1),
                "next_due_at": next_due_at})
        await uow.session.execute(insert(ClientRow), rows)


class Statements:
    """Every statement the engine runs, and every commit, while it listens."""

    def __init__(self, store: Store) -> None:
        self.sql: list[str] = []
        self.timed: list[tuple[float, str]] = []
        self.commits: list[float] = []
        self._engine = store.engine.sync_engine

    def __enter__(self) -> Statements:
        event.listen(self._engine, "before_cursor_execute", self._statement)
        event.listen(self._engine, "commit", self._commit)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(self._engine, "before_cursor_execute", self._statement)
        event.remove(self._engine, "commit", self._commit)

    def _statement(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        self.sql.append(statement)
        self.timed.append((time.monotonic(), statement.lstrip()))

    def _commit(self, _conn: Any) -> None:
        self.commits.append(time.monotonic())


async def next_due(store: Store, client: Client) -> datetime | None:
    async with store.unit_of_work() as uow:
        return await uow.clients.next_due(client.id)


async def test_a_quiet_tick_with_two_thousand_clients_reads_only_the_due_ones(
        store: Store, database: Database) -> None:
    clock = FakeClock(at("2026-03-02 06:00"))
    clinician = await make_clinician(store, clock)
    # Enrolled this morning: no earlier day is owed, so the first tick only looks.
    await seed_directly(store, clinician.id, 2000, first_telegram_id=200_000,
                        next_due_at=at("2026-03-02 08:00"), now=clock.now(),
                        enrolled_at=clock.now())
    due_one = await add_client(store, clock, clinician, 8001, time_="06:30")
    clock.set(at("2026-03-02 07:00"))
    ticks = make_ticks(store, clock)
    first = await ticks.run()  # a process's first tick looks at everyone once
    assert first.visited == 2001 and first.prompted == 1 and first.failures == 0
    assert await next_due(store, due_one) == at("2026-03-02 09:00")  # the reminder, 2 h on
    async with store.transaction() as uow:
        few = (await uow.session.scalars(select(ClientRow.id).where(ClientRow.telegram_index.in_(
            [await uow.vault.telegram_index(t) for t in range(200_000, 200_005)])))).all()
        await uow.clients.set_next_due({client_id: at("2026-03-02 07:00") for client_id in few})
    clock.set(at("2026-03-02 07:01"))
    with Statements(store) as seen:
        report = await ticks.run()
    assert report.visited == 5 and report.chunks == 1 and report.failures == 0
    # Every read of the clients is bounded by the due instant (the due query, the soonest
    # instant for the runner).
    reads = [s for s in seen.sql if "FROM clients" in s and s.lstrip().startswith("SELECT")]
    assert reads and all("next_due_at" in s for s in reads)
    if database.kind == "sqlite":
        due = reads[0].replace("?", "'2026-03-02 07:00:00.000000'", 1).replace("?", "''", 1)
        due = due.replace("?", "200")
        async with store.unit_of_work() as uow:
            plan = " ".join(str(row[-1]) for row in (await uow.session.execute(
                text(f"EXPLAIN QUERY PLAN {due}"))).all())
        assert "ix_clients_due (status=? AND next_due_at<?)" in plan, plan
    assert (await ticks.run()).visited == 0
    # Nothing is due now: the next tick reads no client at all.
    clock.set(at("2026-03-02 07:30"))
    async with store.unit_of_work() as uow:
        assert await uow.clients.due(clock.now()) == []
        assert await uow.clients.earliest_due() == at("2026-03-02 08:00")


async def test_a_busy_tick_commits_in_chunks_and_others_commit_between_them(
        store: Store, database: Database) -> None:
    clock = FakeClock(at("2026-03-02 08:05"))
    clinician = await make_clinician(store, clock)
    await seed_directly(store, clinician.id, 450, first_telegram_id=300_000,
                        next_due_at=AT_ONCE, now=clock.now())
    ticks = make_ticks(store, clock)
    others: list[float] = []
    done = asyncio.Event()

    async def pressing() -> None:
        n = 0
        while not done.is_set():
            n += 1
            async with store.transaction() as uow:
                await uow.updates.record(n, clock.now())
            others.append(time.monotonic())
            await asyncio.sleep(0)

    presser = asyncio.create_task(pressing())
    try:
        with Statements(store) as seen:
            report = await ticks.run()
    finally:
        done.set()
        await presser
    assert report.prompted == 450 and report.failures == 0
    assert report.chunks >= 3  # at most 200 clients a chunk
    assert len(seen.commits) >= report.chunks
    if database.kind == "sqlite":
        # The tick's bulk inserts of prompts, chunk by chunk: another unit of work
        # committed after the first chunk's and before the last one's.
        chunks = [t for t, sql in seen.timed if sql.startswith("INSERT INTO outbox")]
        assert len(chunks) >= 3
        assert any(chunks[0] < t < chunks[-1] for t in others), "nobody committed between"
    async with store.unit_of_work() as uow:
        queued = await uow.session.scalar(
            select(OutboxRow.id).where(OutboxRow.dedupe_key.like("prompt:%")).limit(1))
        assert queued is not None
    # A second tick repeats nothing: every client's next instant moved on.
    assert (await ticks.run()).prompted == 0


async def test_a_tick_closing_a_missed_day_for_everyone_closes_each_once_and_reads_little(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each client owes yesterday, so a chunk stops after 50 ms with most of its 200
    clients not reached; the next chunk reads about what the last one got through, not
    those 200 again."""
    clock = FakeClock(at("2026-03-02 07:00"))
    clinician = await make_clinician(store, clock)
    await seed_directly(store, clinician.id, 200, first_telegram_id=400_000,
                        next_due_at=AT_ONCE, now=clock.now(),
                        enrolled_at=at("2026-03-01 07:00"))  # before yesterday's 08:00
    read: list[int] = []
    due = ClientRepository.due

    async def counted(self: ClientRepository, *args: Any, **kwargs: Any) -> list[Client]:
        found = await due(self, *args, **kwargs)
        read.append(len(found))
        return found

    monkeypatch.setattr(ClientRepository, "due", counted)
    report = await make_ticks(store, clock).run()
    assert report.missed == 200 and report.visited == 200 and report.failures == 0
    async with store.unit_of_work() as uow:
        days = (await uow.session.execute(select(CheckInRow.client_id, CheckInRow.status))).all()
    assert len(days) == 200 and {status for _, status in days} == {"missed"}
    assert len({client_id for client_id, _ in days}) == 200  # each once
    if report.chunks > 1:  # a machine fast enough for 200 in one chunk reads each once
        assert sum(read) < 3 * report.visited, read


async def test_an_overdue_alert_escalates_before_and_during_a_long_sweep(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """Escalation is a safety timer: a tick escalates before the clients' work, and again
    between chunks, not only once a whole caseload's missed days are closed."""
    clock = FakeClock(at("2026-03-02 06:30"))
    clinician = await make_clinician(store, clock)
    supervisor = await make_clinician(store, clock, telegram_id=600, role="supervisor")
    await seed_directly(store, clinician.id, 200, first_telegram_id=500_000,
                        next_due_at=AT_ONCE, now=clock.now(),
                        enrolled_at=at("2026-03-01 07:00"))  # each owes yesterday
    ticks = make_ticks(store, clock)
    client = await add_client(store, clock, clinician, 8001, time_="20:00")
    _checkins, alerts, _q = services(store, clock)
    async with store.transaction() as uow:
        alert = await alerts.raise_alert(
            uow, client, findings=[Finding("self_harm", "critical", "SELF_HARM")],
            checkin_id=None, answers={"self_harm": True})
    clock.set(at("2026-03-02 07:00"))  # 30 minutes on: past the 15 of a critical alert
    monkeypatch.setattr(scheduler.ticks, "ESCALATION_RECHECK", 0.0)
    order: list[str] = []
    chunk, escalate = Ticks._chunk, Ticks._escalate

    async def chunk_seen(self: Ticks, *args: Any) -> str:
        order.append("chunk")
        return await chunk(self, *args)

    async def escalate_seen(self: Ticks, *args: Any) -> None:
        order.append("escalate")
        await escalate(self, *args)

    monkeypatch.setattr(Ticks, "_chunk", chunk_seen)
    monkeypatch.setattr(Ticks, "_escalate", escalate_seen)
    report = await ticks.run()
    assert report.missed == 200 and report.escalated == 1 and report.failures == 0
    assert order[0] == "escalate"  # before any client's work
    assert report.chunks < 2 or "escalate" in order[1:order.index("chunk", 2)]  # between
    async with store.unit_of_work() as uow:
        escalated = await uow.alerts.get(str(alert.id))
        copies = [(await uow.outbox.get(row_id, clock.now())) for row_id in
                  await uow.session.scalars(select(OutboxRow.id).where(
                      OutboxRow.dedupe_key.like(f"esc:{alert.id}:1:%")))]
    assert escalated is not None and escalated.escalations == 1
    assert [m.chat_id for m in copies if m is not None] == [supervisor.telegram_id]


async def test_next_due_follows_the_day_across_the_dst_change_in_new_york(
        store: Store) -> None:
    clock = FakeClock(at("2026-03-07 12:00"))  # 07:00 EST, the day before the change
    clinician = await make_clinician(store, clock)
    client = await add_client(store, clock, clinician, 8001, zone="America/New_York",
                              time_="08:00")
    ticks = make_ticks(store, clock)
    await ticks.run()
    assert await next_due(store, client) == at("2026-03-07 13:00")  # 08:00 EST
    clock.set(at("2026-03-07 13:00"))
    assert (await ticks.run()).prompted == 1
    assert await next_due(store, client) == at("2026-03-07 15:00")  # the reminder, 2 h on
    clock.set(at("2026-03-07 15:00"))
    assert (await ticks.run()).reminded == 1
    assert await next_due(store, client) == at("2026-03-08 01:00")  # the window closes
    clock.set(at("2026-03-08 01:00"))
    assert (await ticks.run()).missed == 1
    # 8 March: the clocks sprang forward at 02:00, so 08:00 EDT is 12:00 UTC.
    assert await next_due(store, client) == at("2026-03-08 12:00")
    assert at("2026-03-08 12:00") == opens_at(client, datetime(2026, 3, 8).date())


async def test_next_due_follows_a_schedule_change_and_a_pause(store: Store) -> None:
    clock = FakeClock(at("2026-03-02 06:00"))
    clinician = await make_clinician(store, clock)
    client = await add_client(store, clock, clinician, 8001, time_="08:00")
    ticks = make_ticks(store, clock)
    schedule = ScheduleService(clock=clock)
    await ticks.run()
    assert await next_due(store, client) == at("2026-03-02 08:00")

    async with store.transaction() as uow:
        await schedule.set_schedule(uow, clinician, ScheduleRequest(client.code, "07:15"))
    assert await next_due(store, client) == AT_ONCE  # to be worked out by the next tick
    await ticks.run()
    assert await next_due(store, client) == at("2026-03-02 07:15")

    async with store.transaction() as uow:
        await schedule.pause(uow, clinician, client.code, "hospital")
    clock.set(at("2026-03-04 09:00"))
    report = await ticks.run()
    assert report.prompted == 0 and report.missed == 0  # a paused client is not read
    async with store.unit_of_work() as uow:
        assert await uow.clients.due(clock.now()) == []

    async with store.transaction() as uow:
        await schedule.resume(uow, clinician, client.code)
    await ticks.run()  # 09:00: today's 07:15 came before the resume, so it is not missed
    assert await next_due(store, client) == at("2026-03-05 07:15")
    clock.set(at("2026-03-05 07:15"))
    assert (await ticks.run()).prompted == 1


def _columns(url: str) -> set[str]:
    def read(connection: Connection) -> set[str]:
        return {c["name"] for c in inspect(connection).get_columns("clients")}

    return read_schema(url, read)


def test_the_next_due_column_goes_on_downgrade_and_comes_back_filled_on_upgrade(
        database: Database, ring: MasterKeyring) -> None:
    config = alembic_config(database.url, ring)  # 0009 seals the rows added below
    command.downgrade(config, "0005")
    assert "next_due_at" not in _columns(database.url)

    async def add_rows() -> None:
        engine = create_engine(database.url)
        try:
            async with engine.begin() as connection:
                await connection.execute(text(
                    "INSERT INTO clinicians (telegram_id, name, role, active, contact, "
                    "created_at) VALUES (7001, 'Dr A', 'clinician', true, '', "
                    "CURRENT_TIMESTAMP)"))
                for n, status in enumerate(("active", "paused")):
                    await connection.execute(text(
                        "INSERT INTO clients (id, code, clinician_id, status, language, "
                        "timezone, checkin_time, checkin_days, unreachable, created_at) "
                        f"SELECT 'c{n}', 'AAA-0{n}', id, '{status}', 'en', 'UTC', '20:00', "
                        "'0123456', false, CURRENT_TIMESTAMP FROM clinicians"))
        finally:
            await engine.dispose()

    asyncio.run(add_rows())
    command.upgrade(config, "head")
    assert "next_due_at" in _columns(database.url)

    async def due() -> dict[str, bool]:
        engine = create_engine(database.url)
        try:
            async with engine.connect() as connection:
                rows = await connection.execute(text("SELECT id, next_due_at FROM clients"))
                return {row[0]: row[1] is not None for row in rows}
        finally:
            await engine.dispose()

    # The active client is due at once (the first tick works its instant out); the paused
    # one is not the scheduler's until resumed.
    assert asyncio.run(due()) == {"c0": True, "c1": False}
