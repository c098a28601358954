"""The scheduler's tick: works out from the database what is due and has the services do it.

One tick, one transaction. It decides when (journal.checkin.days is the rule) and calls the
check-in service to prompt clients at their local check-in time, remind those who have not
started or finished, and close each day's window (marking the day missed); it raises
missed-day alerts, escalates unacknowledged alerts, runs the extra steps it is given
(retention), and purges old bookkeeping. Everything is derived from stored rows, never from
memory, so a tick that runs late, twice, or after a restart does each thing exactly once:
a prompt is unique per client and local date (check-in row + outbox dedupe key), and on
PostgreSQL only one instance at a time runs a tick (a transaction-scoped advisory lock,
released with the connection if its process dies).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta
from typing import Final

from journal.alerts.service import AlertService
from journal.checkin.days import counts_from, is_checkin_day, local_date, opens_at
from journal.checkin.service import CheckInService
from journal.clock import Clock
from journal.errors import safe_trace
from storage.records import Client, ScheduledDay
from storage.uow import Store, UnitOfWork

log = logging.getLogger(__name__)

TickTask = Callable[[UnitOfWork], Awaitable[None]]

# pg_try_advisory_xact_lock key for "the scheduler tick": any fixed 64-bit number that no
# other part of Steadfast uses; this one is b"stdftick" read as a big-endian integer.
TICK_LOCK_KEY: Final = int.from_bytes(b"stdftick", "big")

MISSED_HISTORY_DAYS: Final = 14  # how far back a missed-day run is counted
PROCESSED_UPDATES_KEPT: Final = timedelta(days=8)  # past Telegram's own 24 h redelivery
OUTBOX_KEPT: Final = timedelta(days=7)


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

    def add(self, other: TickReport) -> None:
        for f in fields(self):
            if f.name != "ran":
                setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def __str__(self) -> str:
        return " ".join(f"{f.name}={getattr(self, f.name)}" for f in fields(self))


class Ticks:
    """Keyword-only arguments, documented once:

    checkins        the check-in service; it holds the day's window (CHECKIN_WINDOW_HOURS)
    reminder_delay  when to remind after the prompt if the check-in is not done (None: never)
    lookback_days   how many local days a tick catches up on after downtime (never before
                    the client's enrolment or last resume)
    extra_steps     more work for each tick's transaction (the retention erase), in order
    housekeeping_every  how often old processed updates and outbox rows are purged
    """

    def __init__(self, *, store: Store, clock: Clock, checkins: CheckInService,
                 alerts: AlertService,
                 reminder_delay: timedelta | None = timedelta(hours=2),
                 lookback_days: int = 7, extra_steps: Sequence[TickTask] = (),
                 housekeeping_every: timedelta = timedelta(hours=1)) -> None:
        self._store = store
        self._clock = clock
        self._checkins = checkins
        self._alerts = alerts
        self._reminder = reminder_delay
        self._lookback = lookback_days
        self._extra = tuple(extra_steps)
        self._housekeeping_every = housekeeping_every
        self._last_housekeeping: datetime | None = None

    async def run(self) -> TickReport:
        """One tick. Commits once; on PostgreSQL skips (ran=False) while another instance
        is ticking."""
        report = TickReport()
        async with self._store.unit_of_work() as uow:
            if not await uow.try_advisory_lock(TICK_LOCK_KEY):
                return TickReport(ran=False)
            now = self._clock.now()
            await self._clients(uow, now, report)
            await self._guarded(uow, report, "escalations",
                                lambda: self._escalate(uow, report))
            for step in self._extra:
                await self._guarded(uow, report, getattr(step, "__name__", "step"),
                                    lambda step=step: step(uow))  # type: ignore[misc]
            housekeeping = (self._last_housekeeping is None
                            or now - self._last_housekeeping >= self._housekeeping_every)
            if housekeeping:
                await self._guarded(uow, report, "housekeeping",
                                    lambda: self._purge(uow, now, report))
            await uow.commit()
        if housekeeping:
            self._last_housekeeping = now
        return report

    # -- clients -------------------------------------------------------------------------
    async def _clients(self, uow: UnitOfWork, now: datetime, report: TickReport) -> None:
        # Only active clients: paused, discharged, erased and invited ones get nothing.
        clients = await uow.clients.active()
        if not clients:
            return
        # Enough days for any time zone's lookback and for counting a run of missed days.
        earliest = now.date() - timedelta(days=max(self._lookback, MISSED_HISTORY_DAYS) + 2)
        days: dict[str, dict[date, ScheduledDay]] = {c.id: {} for c in clients}
        for day in await uow.checkins.scheduled_days([c.id for c in clients], since=earliest):
            days[day.client_id][day.local_date] = day
        for client in clients:
            since = counts_from(client)
            mine = TickReport()
            try:
                async with uow.savepoint():
                    await self._client(uow, client, days[client.id], since, now, mine)
            except Exception as exc:
                # One client's failure must not stop everybody else's prompts; it is retried
                # next tick, and the savepoint undid its partial work.
                report.failures += 1
                log.error("scheduler: client %s failed: %s", client.code, safe_trace(exc))
            else:
                report.add(mine)

    async def _client(self, uow: UnitOfWork, client: Client, days: dict[date, ScheduledDay],
                      since: datetime, now: datetime, report: TickReport) -> None:
        today = local_date(client, now)
        window = self._checkins.window
        reachable = client.telegram_id is not None and not client.unreachable
        for back in range(self._lookback, -1, -1):
            day = today - timedelta(days=back)
            if not is_checkin_day(day, client.checkin_days):
                continue
            opens = opens_at(client, day)
            # Days before enrolment or before the last resume are not this client's to miss.
            if opens < since or opens > now:
                continue
            known = days.get(day)
            if known is not None and known.status in ("submitted", "missed"):
                continue
            if now >= window.closes_at(client, day):
                closed = await self._checkins.close_day(uow, client, day, known)
                if closed is None:
                    continue
                days[day] = closed
                report.missed += 1
                # An unreachable client already raised the blocked-bot alert; a missed-day
                # alert every day on top of it would only be noise.
                if reachable and await self._missed_alert(uow, client, days, day, since):
                    report.alerts += 1
            elif not reachable:
                continue
            elif known is None:
                if await self._checkins.prompt(uow, client, day=day):
                    report.prompted += 1
            elif (self._reminder is not None and known.reminded_at is None
                  and now >= (known.prompted_at or opens) + self._reminder
                  and await self._checkins.remind(uow, client, day)):
                report.reminded += 1

    async def _missed_alert(self, uow: UnitOfWork, client: Client,
                            days: dict[date, ScheduledDay], day: date,
                            since: datetime) -> bool:
        # The run counts only days since enrolment or the last resume: a pause between two
        # missed days ends the run, and paused days never count.
        first = max(day - timedelta(days=MISSED_HISTORY_DAYS), local_date(client, since))
        statuses = [d.status for when, d in sorted(days.items()) if first <= when <= day]
        return await self._alerts.on_missed(uow, client, statuses, day) is not None

    # -- the rest of the tick --------------------------------------------------------------
    async def _escalate(self, uow: UnitOfWork, report: TickReport) -> None:
        report.escalated += await self._alerts.escalate_due(uow)

    async def _purge(self, uow: UnitOfWork, now: datetime, report: TickReport) -> None:
        await uow.updates.purge(now - PROCESSED_UPDATES_KEPT)
        report.purged += await uow.outbox.purge_finished(now - OUTBOX_KEPT)

    async def _guarded(self, uow: UnitOfWork, report: TickReport, name: str,
                       work: Callable[[], Awaitable[None]]) -> None:
        """Run one part of the tick in a savepoint, so its failure costs only itself."""
        try:
            async with uow.savepoint():
                await work()
        except Exception as exc:
            report.failures += 1
            log.error("scheduler: %s failed: %s", name, safe_trace(exc))


__all__ = ["TICK_LOCK_KEY", "TickTask", "TickReport", "Ticks"]
