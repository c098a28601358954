"""The scheduler's tick: works out from the database what is due and writes it to the outbox.

One tick, one transaction. It prompts clients at their local check-in time, reminds those
who have not started or finished, closes each day's window (marking the day missed),
raises missed-day alerts, escalates unacknowledged alerts, runs the extra steps it is given
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
from zoneinfo import ZoneInfo

from journal.alerts.service import AlertService
from journal.buttons import CHECKIN_START, Button, rows_data
from journal.checkins import START_LABEL, CheckInService
from journal.clock import Clock
from journal.errors import safe_trace
from journal.i18n import N_, gettext_for
from journal.questionnaire import Questionnaire
from scheduler.times import DEFAULT_WINDOW, is_checkin_day, local_instant, parse_hhmm
from storage.records import Client, ScheduledDay
from storage.repositories import DuplicateError
from storage.uow import Store, UnitOfWork

log = logging.getLogger(__name__)

Step = Callable[[UnitOfWork], Awaitable[None]]

# pg_try_advisory_xact_lock key for "the scheduler tick": any fixed 64-bit number that no
# other part of Steadfast uses; this one is b"stdftick" read as a big-endian integer.
TICK_LOCK_KEY: Final = int.from_bytes(b"stdftick", "big")

REMINDER_WAITING: Final = N_("Your check-in for today is still waiting for you. It takes about "
                             "two minutes.")
REMINDER_UNFINISHED: Final = N_("Your check-in for today is not finished yet. You can go on "
                                "where you stopped.")
CONTINUE_LABEL: Final = N_("Continue check-in")

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

    window          how long a day's check-in stays open after its prompt (default 12 h)
    reminder_delay  when to remind after the prompt if the check-in is not done (None: never)
    lookback_days   how many local days a tick catches up on after downtime (never before
                    the client's enrolment or last resume)
    extra_steps     more work for each tick's transaction (the retention erase), in order
    housekeeping_every  how often old processed updates and outbox rows are purged
    """

    def __init__(self, *, store: Store, clock: Clock, checkins: CheckInService,
                 alerts: AlertService, questionnaire: Questionnaire,
                 window: timedelta = DEFAULT_WINDOW,
                 reminder_delay: timedelta | None = timedelta(hours=2),
                 lookback_days: int = 7, extra_steps: Sequence[Step] = (),
                 housekeeping_every: timedelta = timedelta(hours=1)) -> None:
        if not timedelta(0) < window < timedelta(hours=23):
            # Below 23 h a day's window always closes before the next day's prompt, even on
            # a 23-hour spring-forward day, so two days are never open at once.
            raise ValueError("the check-in window must be between 0 and 23 hours")
        self._store = store
        self._clock = clock
        self._checkins = checkins
        self._alerts = alerts
        self._q = questionnaire
        self._window = window
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
            since = since_for(client)
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
        zone = ZoneInfo(client.timezone)
        at = parse_hhmm(client.checkin_time)
        today = now.astimezone(zone).date()
        reachable = client.telegram_id is not None and not client.unreachable
        for back in range(self._lookback, -1, -1):
            day = today - timedelta(days=back)
            if not is_checkin_day(day, client.checkin_days):
                continue
            opens = local_instant(day, at, zone)
            # Days before enrolment or before the last resume are not this client's to miss.
            if opens < since or opens > now:
                continue
            known = days.get(day)
            if known is not None and known.status in ("submitted", "missed"):
                continue
            if now >= opens + self._window:
                closed = await self._close(uow, client, day, known)
                if closed is None:
                    continue
                days[day] = closed
                report.missed += 1
                # An unreachable client already raised the blocked-bot alert; a missed-day
                # alert every day on top of it would only be noise.
                if reachable and await self._missed_alert(uow, client, days, day, since, zone):
                    report.alerts += 1
            elif not reachable:
                continue
            elif known is None:
                if await self._checkins.prompt(uow, client, day=day):
                    report.prompted += 1
            elif (self._reminder is not None and known.reminded_at is None
                  and now >= (known.prompted_at or opens) + self._reminder
                  and await self._remind(uow, client, day, now)):
                report.reminded += 1

    async def _close(self, uow: UnitOfWork, client: Client, day: date,
                     known: ScheduledDay | None) -> ScheduledDay | None:
        """The window closed: the day is missed unless it was submitted. Returns the day as
        it now stands, or None when there was nothing to mark."""
        now = self._clock.now()
        if known is None:
            try:
                created = await uow.checkins.create(
                    client_id=client.id, local_date=day, status="missed",
                    questionnaire_id=self._q.id, questionnaire_version=str(self._q.version),
                    item_ids=(), now=now)
            except DuplicateError:
                pass  # the client opened it at this very moment: decide on the stored row
            else:
                return ScheduledDay(created.id, client.id, day, "missed", None, None)
        # Locked, so a submit being saved right now finishes first and is never overwritten.
        current = await uow.checkins.for_day(client.id, day, lock=True)
        if current is None or current.status not in ("prompted", "in_progress"):
            return None
        await uow.checkins.save(current.id, status="missed")
        if client.telegram_id is not None:
            # A deferred ("Later") prompt or a reminder still queued for the closed day
            # would only lead to "this check-in is closed".
            await uow.outbox.cancel_pending(chat_id=client.telegram_id, kind="prompt",
                                            status="expired")
        return ScheduledDay(current.id, client.id, day, "missed", current.prompted_at,
                            current.reminded_at)

    async def _missed_alert(self, uow: UnitOfWork, client: Client,
                            days: dict[date, ScheduledDay], day: date, since: datetime,
                            zone: ZoneInfo) -> bool:
        # The run counts only days since enrolment or the last resume: a pause between two
        # missed days ends the run, and paused days never count.
        first = max(day - timedelta(days=MISSED_HISTORY_DAYS), since.astimezone(zone).date())
        statuses = [d.status for when, d in sorted(days.items()) if first <= when <= day]
        return await self._alerts.on_missed(uow, client, statuses, day) is not None

    async def _remind(self, uow: UnitOfWork, client: Client, day: date, now: datetime) -> bool:
        current = await uow.checkins.for_day(client.id, day, lock=True)
        if (current is None or current.status not in ("prompted", "in_progress")
                or current.reminded_at is not None or client.telegram_id is None):
            return False
        started = current.status == "in_progress"

        def t(text: str) -> str:
            return gettext_for(client.language, text)

        params = {
            "text": t(REMINDER_UNFINISHED if started else REMINDER_WAITING),
            "buttons": rows_data([[Button(
                CHECKIN_START, t(CONTINUE_LABEL if started else START_LABEL),
                day=day.isoformat())]]),
        }
        # kind "prompt": a submit cancels a reminder that is still queued.
        queued = await uow.outbox.add(
            chat_id=client.telegram_id, kind="prompt", method="sendMessage", params=params,
            now=now, client_id=client.id, dedupe_key=f"reminder:{client.id}:{day.isoformat()}",
            useful_until=self._checkins.closes_at(client, day))
        await uow.checkins.save(current.id, reminded_at=now)
        return queued is not None

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


def since_for(client: Client) -> datetime:
    """The first moment the client's check-ins count: enrolment, or the last resume."""
    start = client.enrolled_at or client.created_at
    return max(start, client.resumed_at) if client.resumed_at is not None else start


__all__ = ["TICK_LOCK_KEY", "Step", "TickReport", "Ticks", "since_for"]
