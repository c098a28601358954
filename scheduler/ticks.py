"""The scheduler's tick: works out from the database what is due and has the services do it.

It decides when (journal.checkin.days is the rule) and calls the check-in service to prompt
clients at their local check-in time, remind those who have not started or finished, and
close each day's window (marking the day missed); it raises missed-day alerts, escalates
unacknowledged alerts, runs the extra steps it is given (retention), and purges old
bookkeeping. Everything is derived from stored rows, never from memory, so a tick that runs
late, twice, or after a restart does each thing exactly once: a prompt is unique per client
and local date (check-in row + outbox dedupe key), and on PostgreSQL only one instance at a
time runs a tick (an advisory lock, released with the connection if its process dies).

It costs what is due, not what exists: each client's next due instant is stored
(clients.next_due_at, worked out here after each visit), so a tick reads only the clients
whose instant has come. Their work is done in chunks, each its own short transaction (a
write transaction on SQLite holds the one write lock, so presses and the delivery worker
commit between chunks), and a chunk's prompts are queued in a few bulk statements. A crash
between chunks repeats nothing: a committed chunk moved its clients' instants on, and an
uncommitted one left no trace.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, timedelta
from typing import Final

from journal.alerts.service import AlertService
from journal.appointments import AppointmentService
from journal.checkin.days import counts_from, is_checkin_day, local_date, opens_at
from journal.checkin.service import CheckInService
from journal.clock import Clock
from journal.errors import safe_trace
from journal.homework import HomeworkService
from journal.phases.model import Phases
from storage.records import OVER, Client, ScheduledDay
from storage.uow import Store, UnitOfWork

log = logging.getLogger(__name__)

TickTask = Callable[[UnitOfWork], Awaitable[None]]

# pg_try_advisory_xact_lock key for "the scheduler tick": any fixed 64-bit number that no
# other part of Steadfast uses; this one is b"stdftick" read as a big-endian integer.
TICK_LOCK_KEY: Final = int.from_bytes(b"stdftick", "big")

MISSED_HISTORY_DAYS: Final = 14  # how far back a missed-day run is counted
PROCESSED_UPDATES_KEPT: Final = timedelta(days=8)  # past Telegram's own 24 h redelivery
OUTBOX_KEPT: Final = timedelta(days=7)
# Workspace sign-in links and sessions, kept a month after they ended (who signed in when,
# for a review of access); only digests of their tokens were ever stored.
WEB_SIGN_INS_KEPT: Final = timedelta(days=30)
# One chunk: at most this many clients read at once, and no more of them acted on once the
# chunk has worked this long, so a write transaction stays short (about 100 ms on SQLite
# with the bulk prompts).
CHUNK_CLIENTS: Final = 200
CHUNK_SECONDS: Final = 0.05
# A chunk that stopped short reads about what it got through, plus half, next time: what
# it did not reach, and those clients' days, would otherwise be read again by each chunk.
CHUNK_CLIENTS_MIN: Final = 10
# Between two chunks the tick lets go for this long. A writer waiting for SQLite's lock
# polls it (busy_timeout) every 100 ms at worst, so a shorter gap would go to the tick's
# next chunk every time and a press would wait for the whole tick.
CHUNK_PAUSE: Final = 0.1
# Escalation is a safety timer: a tick looks for overdue alerts before the clients' work
# and again between its chunks once this long has passed, so a long sweep (a whole
# caseload's missed days) does not hold an escalation until it ends.
ESCALATION_RECHECK: Final = 5.0
# A client with nothing ahead in the coming week (no check-in days) is looked at again then.
RELOOK: Final = timedelta(days=1)
DAYS_AHEAD: Final = 8
# A process's first tick visits every active client, whatever their stored instant: the
# window, the reminder delay or the lookback may have changed with its settings, or rows
# may have been restored or changed behind the repositories.
EVERYONE: Final = datetime(9999, 1, 1, tzinfo=UTC)


@dataclass
class TickReport:
    """What one tick did; `ran` is False when another instance held the lock."""

    ran: bool = True
    prompted: int = 0
    reminded: int = 0
    missed: int = 0
    alerts: int = 0
    escalated: int = 0
    purged: int = 0
    failures: int = 0
    visited: int = 0  # the clients read because something was due for them
    chunks: int = 0  # the transactions the clients' work took
    appointments: int = 0  # appointment reminders queued (to clients and to staff)
    homework: int = 0  # homework reminders queued
    # The soonest next due instant after the tick, so the runner can wake for it.
    next_due: datetime | None = field(default=None, compare=False)

    def add(self, other: TickReport) -> None:
        for f in fields(self):
            if f.name not in ("ran", "next_due"):
                setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def __str__(self) -> str:
        return " ".join(f"{f.name}={getattr(self, f.name)}" for f in fields(self)
                        if f.name != "next_due")


@dataclass
class _Visit:
    """What one client is due for at this tick, and their next due instant after it."""

    client: Client
    close: list[date] = field(default_factory=list)
    remind: list[date] = field(default_factory=list)
    prompt: list[date] = field(default_factory=list)
    next_due: datetime | None = None


class _Overrides:
    """The risk threshold overrides of a chunk's clients, read in one statement the first
    time a missed day needs them (a tick closing a caseload's day read them per client)."""

    def __init__(self, client_ids: list[str]) -> None:
        self._ids = client_ids
        self._found: dict[str, dict[str, int]] | None = None

    async def of(self, uow: UnitOfWork, client_id: str) -> Mapping[str, int]:
        if self._found is None:
            self._found = await uow.overrides.for_clients(self._ids)
        return self._found.get(client_id, {})


class Ticks:
    """Keyword-only arguments, documented once:

    checkins        the check-in service; it holds the day's window (CHECKIN_WINDOW_HOURS)
    reminder_delay  when to remind after the prompt if the check-in is not done (None: never)
    lookback_days   how many local days a tick catches up on after downtime (never before
                    the client's enrolment or last resume)
    phases          the program's phases: a phase without reminders sends none
    extra_steps     more work for each tick's transaction (the retention erase), in order
    appointments    the appointment service, whose reminders are due by their own stored
                    instant (appointments.next_due_at); None: no appointment reminders
    housekeeping_every  how often old processed updates and outbox rows are purged
    """

    def __init__(self, *, store: Store, clock: Clock, checkins: CheckInService,
                 alerts: AlertService,
                 reminder_delay: timedelta | None = timedelta(hours=2),
                 lookback_days: int = 7, extra_steps: Sequence[TickTask] = (),
                 housekeeping_every: timedelta = timedelta(hours=1),
                 phases: Phases | None = None,
                 appointments: AppointmentService | None = None,
                 homework: HomeworkService | None = None) -> None:
        self._store = store
        self._phases = phases
        self._appointments = appointments
        self._homework = homework
        self._clock = clock
        self._checkins = checkins
        self._alerts = alerts
        self._reminder = reminder_delay
        self._lookback = lookback_days
        self._extra = tuple(extra_steps)
        self._housekeeping_every = housekeeping_every
        self._last_housekeeping: datetime | None = None
        self._swept = False
        self._escalated_at = float("-inf")  # time.monotonic() of the last escalation pass

    async def run(self) -> TickReport:
        """One tick: overdue alerts escalated, the clients' work in chunks of short
        transactions (escalating again between them every ESCALATION_RECHECK seconds), then
        the rest in one. On PostgreSQL skips (ran=False) while another instance ticks."""
        report = TickReport()
        # The lock's own session holds it for the whole tick (on SQLite it takes nothing:
        # the write lock serialises every chunk anyway).
        async with self._store.unit_of_work() as guard:
            if not await guard.try_advisory_lock(TICK_LOCK_KEY):
                return TickReport(ran=False)
            now = self._clock.now()
            await self._escalations(report)
            await self._clients(now, now if self._swept else EVERYONE, report)
            self._swept = True
            await self._escalations(report, unless_within=ESCALATION_RECHECK)
            more = False
            async with self._store.unit_of_work() as uow:
                wired = self._appointments is not None or self._homework is not None
                if wired:
                    # The soonest stored instants (each an index's first entry), in one
                    # statement, say whether any appointment or homework is due; the first
                    # chunk of them is done in this transaction. An idle tick pays nothing
                    # more than that read.
                    dues = await uow.earliest_dues()
                    worked = False
                    if self._appointments is not None and _came(dues[1], now):
                        more = await self._appointment_chunk(self._appointments, uow, now,
                                                             report)
                        worked = True
                    if self._homework is not None and _came(dues[2], now):
                        await self._homework_chunk(self._homework, uow, now, report)
                        worked = True
                for step in self._extra:
                    await self._guarded(uow, report, getattr(step, "__name__", "step"),
                                        lambda step=step: step(uow))  # type: ignore[misc]
                housekeeping = (self._last_housekeeping is None
                                or now - self._last_housekeeping >= self._housekeeping_every)
                if housekeeping:
                    await self._guarded(uow, report, "housekeeping",
                                        lambda: self._purge(uow, now, report))
                if wired:
                    if worked:  # their instants moved on: read them again
                        dues = await uow.earliest_dues()
                    ahead = (dues[0], dues[1] if self._appointments is not None else None,
                             dues[2] if self._homework is not None else None)
                    report.next_due = min((at for at in ahead if at is not None), default=None)
                else:
                    report.next_due = await uow.clients.earliest_due()
                await uow.commit()
            while more and self._appointments is not None:  # a busy minute: the rest
                await asyncio.sleep(CHUNK_PAUSE)
                async with self._store.unit_of_work() as uow:
                    more = await self._appointment_chunk(self._appointments, uow, now, report)
                    await uow.commit()
        if housekeeping:
            self._last_housekeeping = now
        return report

    # -- clients -------------------------------------------------------------------------
    async def _clients(self, now: datetime, upto: datetime, report: TickReport) -> None:
        """Every active client due by `upto` (now, or EVERYONE on the first tick); between
        chunks, overdue alerts again once ESCALATION_RECHECK has passed."""
        after = ""
        limit = CHUNK_CLIENTS
        while True:
            if after:
                await asyncio.sleep(CHUNK_PAUSE)
                await self._escalations(report, unless_within=ESCALATION_RECHECK)
            async with self._store.unit_of_work() as uow:
                # Only active clients: paused, discharged, erased and invited ones get
                # nothing; only those whose next due instant has come.
                clients = await uow.clients.due(upto, after=after, limit=limit,
                                                skip_locked=uow.postgres)
                if not clients:
                    return
                visited = report.visited
                after = await self._chunk(uow, clients, now, report)
                await uow.commit()
            report.chunks += 1
            reached = report.visited - visited
            limit = (min(CHUNK_CLIENTS, 2 * limit) if reached == len(clients)
                     else max(CHUNK_CLIENTS_MIN, reached + reached // 2))

    async def _chunk(self, uow: UnitOfWork, clients: list[Client], now: datetime,
                     report: TickReport) -> str:
        """One chunk's work in the caller's transaction; returns the id of the last client
        it handled (the others in `clients` are left to the next chunk)."""
        began = time.monotonic()
        # Enough days for any time zone's lookback and for counting a run of missed days.
        earliest = now.date() - timedelta(days=max(self._lookback, MISSED_HISTORY_DAYS) + 2)
        days: dict[str, dict[date, ScheduledDay]] = {c.id: {} for c in clients}
        for day in await uow.checkins.scheduled_days([c.id for c in clients], since=earliest):
            days[day.client_id][day.local_date] = day
        overrides = _Overrides([c.id for c in clients])
        visits: list[_Visit] = []
        last = ""
        for client in clients:
            if last and time.monotonic() - began > CHUNK_SECONDS:
                break  # the rest of `clients` come first in the next chunk
            last = client.id
            report.visited += 1
            visit = self._visit(client, days[client.id], counts_from(client), now)
            if visit.close or visit.remind:
                mine = TickReport()
                try:
                    async with uow.savepoint():
                        await self._act(uow, visit, days[client.id], overrides, mine)
                except Exception as exc:
                    # One client's failure must not stop everybody else's prompts; it stays
                    # due and is retried next tick, and the savepoint undid its partial work.
                    report.failures += 1
                    log.error("scheduler: client %s failed: %s", client.code, safe_trace(exc))
                    continue
                report.add(mine)
                if mine.alerts:
                    # An alert may have stepped the client's phase up, changing their days
                    # (the repository then marked them due at once): keep that mark rather
                    # than the instant worked out from the old days.
                    stored = await uow.clients.next_due(client.id)
                    if stored is not None and stored <= now:
                        visit.next_due = stored
            visits.append(visit)
        wanted = [(v.client, day) for v in visits for day in v.prompt]
        prompted: set[tuple[str, date]] = set()
        if wanted:
            try:
                async with uow.savepoint():
                    prompted = await self._checkins.prompt_many(uow, wanted)
            except Exception as exc:
                report.failures += 1
                log.error("scheduler: prompts failed: %s", safe_trace(exc))
                visits = [v for v in visits if not v.prompt]  # they stay due
        report.prompted += len(prompted)
        due: dict[str, datetime] = {}
        for visit in visits:
            if visit.next_due is None:
                continue
            if any((visit.client.id, day) not in prompted for day in visit.prompt):
                # The client opened the day meanwhile: look again at the next tick.
                continue
            due[visit.client.id] = visit.next_due
        await uow.clients.set_next_due(due)
        return last

    def _visit(self, client: Client, days: dict[date, ScheduledDay], since: datetime,
               now: datetime) -> _Visit:
        """What is due for the client at `now` and when they are next due: pure, from the
        check-in's day rule (journal.checkin.days) and the days stored."""
        visit = _Visit(client)
        today = local_date(client, now)
        window = self._checkins.window
        reachable = client.telegram_id is not None and not client.unreachable
        ahead: list[datetime] = []
        reminder = self._reminder
        if self._phases is not None and not self._phases.of(client.phase).reminder:
            reminder = None
        for back in range(self._lookback, -1, -1):
            day = today - timedelta(days=back)
            if not is_checkin_day(day, client.checkin_days):
                continue
            opens = opens_at(client, day)
            # Days before enrolment or before the last resume are not this client's to miss.
            if opens < since:
                continue
            # Before a phase changed the days, only a day already asked for counts: the new
            # days never reach back to make a day due that was not.
            if (client.phase_since is not None and opens < client.phase_since
                    and day not in days):
                continue
            if opens > now:
                ahead.append(opens)
                continue
            known = days.get(day)
            if known is not None and known.status in OVER:
                continue
            closes = window.closes_at(client, day)
            if now >= closes:
                visit.close.append(day)
                continue
            ahead.append(closes)
            if not reachable:
                continue
            if known is None:
                visit.prompt.append(day)
                if reminder is not None:
                    ahead.append(now + reminder)
            elif reminder is not None and known.reminded_at is None:
                remind_at = (known.prompted_at or opens) + reminder
                if now >= remind_at:
                    visit.remind.append(day)
                else:
                    ahead.append(remind_at)
        for forward in range(1, DAYS_AHEAD + 1):
            day = today + timedelta(days=forward)
            if is_checkin_day(day, client.checkin_days):
                ahead.append(opens_at(client, day))
                break
        visit.next_due = min((at for at in ahead if at > now), default=now + RELOOK)
        return visit

    async def _act(self, uow: UnitOfWork, visit: _Visit, days: dict[date, ScheduledDay],
                   overrides: _Overrides, report: TickReport) -> None:
        """Close and remind as `visit` says, oldest day first."""
        client = visit.client
        since = counts_from(client)
        reachable = client.telegram_id is not None and not client.unreachable
        for day in visit.close:
            closed = await self._checkins.close_day(uow, client, day, days.get(day))
            if closed is None:
                continue
            days[day] = closed
            report.missed += 1
            # An unreachable client already raised the blocked-bot alert; a missed-day
            # alert every day on top of it would only be noise.
            if reachable and await self._missed_alert(uow, client, days, day, since,
                                                      await overrides.of(uow, client.id)):
                report.alerts += 1
        for day in visit.remind:
            if await self._checkins.remind(uow, client, day):
                report.reminded += 1

    async def _missed_alert(self, uow: UnitOfWork, client: Client,
                            days: dict[date, ScheduledDay], day: date,
                            since: datetime, overrides: Mapping[str, int]) -> bool:
        # The run counts only days since enrolment or the last resume: a pause between two
        # missed days ends the run, and paused days never count.
        first = max(day - timedelta(days=MISSED_HISTORY_DAYS), local_date(client, since))
        statuses = [d.status for when, d in sorted(days.items()) if first <= when <= day]
        return await self._alerts.on_missed(uow, client, statuses, day,
                                            overrides=overrides) is not None

    # -- appointments --------------------------------------------------------------------
    async def _appointment_chunk(self, service: AppointmentService, uow: UnitOfWork,
                                 now: datetime, report: TickReport) -> bool:
        """Up to CHUNK_CLIENTS appointments whose stored instant has come (an indexed read;
        nothing ahead is touched), each in a savepoint, in the caller's transaction; True
        when there may be more."""
        due = await uow.appointments.due(now, limit=CHUNK_CLIENTS, skip_locked=uow.postgres)
        for appointment in due:
            try:
                async with uow.savepoint():
                    visit = await service.visit(uow, appointment, now)
            except Exception as exc:
                report.failures += 1
                log.error("scheduler: appointment failed: %s", safe_trace(exc))
                # Looked at again in an hour, not again and again within this tick.
                async with uow.savepoint():
                    await uow.appointments.update(appointment.id,
                                                  next_due_at=now + timedelta(hours=1))
                continue
            report.appointments += visit.reminded + visit.staff_reminded
        return len(due) == CHUNK_CLIENTS

    async def _homework_chunk(self, service: HomeworkService, uow: UnitOfWork,
                              now: datetime, report: TickReport) -> None:
        """Homework reminders whose instant has come, up to CHUNK_CLIENTS (the rest at the
        next tick: the runner wakes at once for an instant already past)."""
        for homework in await uow.homework.due(now, limit=CHUNK_CLIENTS,
                                               skip_locked=uow.postgres):
            try:
                async with uow.savepoint():
                    report.homework += await service.visit(uow, homework, now)
            except Exception as exc:
                report.failures += 1
                log.error("scheduler: homework failed: %s", safe_trace(exc))
                async with uow.savepoint():
                    await uow.homework.update(homework.id, next_due_at=now + timedelta(hours=1))

    # -- the rest of the tick --------------------------------------------------------------
    async def _escalations(self, report: TickReport, *, unless_within: float = 0.0) -> None:
        """Overdue alerts escalated, in a transaction of their own; not when the last pass
        was less than `unless_within` seconds ago."""
        if time.monotonic() - self._escalated_at < unless_within:
            return
        async with self._store.unit_of_work() as uow:
            await self._guarded(uow, report, "escalations", lambda: self._escalate(uow, report))
            await uow.commit()
        self._escalated_at = time.monotonic()

    async def _escalate(self, uow: UnitOfWork, report: TickReport) -> None:
        report.escalated += await self._alerts.escalate_due(uow)

    async def _purge(self, uow: UnitOfWork, now: datetime, report: TickReport) -> None:
        await uow.updates.purge(now - PROCESSED_UPDATES_KEPT)
        report.purged += await uow.outbox.purge_finished(now - OUTBOX_KEPT)
        await uow.web_sign_ins.purge(now - WEB_SIGN_INS_KEPT)
        await uow.web_sessions.purge(now - WEB_SIGN_INS_KEPT)
        await uow.web_init_data.purge(now)  # nothing to review: gone once expired

    async def _guarded(self, uow: UnitOfWork, report: TickReport, name: str,
                       work: Callable[[], Awaitable[None]]) -> None:
        """Run one part of the tick in a savepoint, so its failure costs only itself."""
        try:
            async with uow.savepoint():
                await work()
        except Exception as exc:
            report.failures += 1
            log.error("scheduler: %s failed: %s", name, safe_trace(exc))


def _came(at: datetime | None, now: datetime) -> bool:
    return at is not None and at <= now


__all__ = ["TICK_LOCK_KEY", "TickTask", "TickReport", "Ticks"]
