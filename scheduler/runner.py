"""APScheduler 3 wiring: one interval job that runs the tick, started and stopped with the bot."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from journal import telemetry
from journal.errors import safe_trace
from scheduler.ticks import Ticks

log = logging.getLogger(__name__)

JOB_ID = "steadfast-tick"


class SchedulerRunner:
    """Runs `ticks.run()` every `interval`, the first time as soon as it starts (so a
    restart catches up at once). Each process has its own in-memory scheduler: APScheduler 3
    job stores must never be shared, and the database, not the scheduler, says what is due.
    """

    def __init__(self, ticks: Ticks, *, interval: timedelta) -> None:
        self._ticks = ticks
        self._interval = interval
        self._scheduler: AsyncIOScheduler | None = None
        self._running: set[asyncio.Task[None]] = set()
        self._current: asyncio.Task[None] | None = None
        self._again = False
        self._due: datetime | None = None  # when the next tick should start (its lag)

    @property
    def scheduler(self) -> AsyncIOScheduler | None:
        return self._scheduler

    def start(self) -> None:
        """Start on the running event loop."""
        if self._scheduler is not None:
            return
        # APScheduler logs every run at INFO ("Running job", "executed successfully"): one
        # line per tick per instance drowns the log; the tick logs what it did instead.
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
        scheduler = AsyncIOScheduler(timezone=UTC)
        scheduler.add_job(
            self._tick, "interval", seconds=self._interval.total_seconds(), id=JOB_ID,
            next_run_time=datetime.now(UTC),
            # A late or missed run collapses into one: a tick does everything that is due.
            coalesce=True,
            # A slow tick is never overlapped by the next one in the same process (the job
            # itself only starts the tick's task, see _tick, so this never skips one).
            max_instances=1,
            # The default grace is 1 second: a tick that starts later than that (a busy loop,
            # a suspended VM) is dropped silently. Ticks compute what is due from the
            # database, so running late is always safe: no limit (None), never drop one.
            misfire_grace_time=None,
        )
        scheduler.start()
        self._scheduler = scheduler
        self._due = datetime.now(UTC)

    async def _tick(self) -> None:
        """The job: starts a tick in its own task and returns at once, so APScheduler never
        sees one still running and never skips ("maximum number of running instances");
        a job that fires during a tick asks for one more right after it instead."""
        if self._current is not None and not self._current.done():
            self._again = True
            return
        task = asyncio.create_task(self._ticks_in_a_row())
        self._current = task
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _ticks_in_a_row(self) -> None:
        while True:
            self._again = False
            await self._once()
            if not self._again or self._scheduler is None:
                return

    async def _once(self) -> None:
        started, clock = datetime.now(UTC), time.perf_counter()
        if self._due is not None:
            telemetry.observe("scheduler_tick_lag_seconds",
                              max(0.0, (started - self._due).total_seconds()))
        try:
            report = await self._ticks.run()
            self._wake_for(report.next_due, started)
            telemetry.count("scheduler_ticks", ran=str(report.ran).lower())
            if report.ran:
                telemetry.observe("scheduler_tick_seconds", time.perf_counter() - clock)
                telemetry.count("checkins_prompted", report.prompted)
                telemetry.count("checkins_missed", report.missed)
            if report.ran and (report.prompted or report.reminded or report.missed
                               or report.alerts or report.escalated or report.failures):
                log.info("scheduler tick: %s", report)
        except Exception as exc:  # the database may be down: the next tick tries again
            log.error("scheduler tick failed: %s", safe_trace(exc))
        finally:
            job = self._scheduler.get_job(JOB_ID) if self._scheduler is not None else None
            self._due = job.next_run_time if job is not None else None

    def _wake_for(self, due: datetime | None, started: datetime) -> None:
        """Run the next tick when the soonest client is due, if that comes before the
        interval does: a prompt then goes out at its minute, not up to a tick later. An
        instant that came while this tick ran (a long one, or one that began just before a
        minute that thousands are due at) is not yet done: the next tick runs at once."""
        scheduler = self._scheduler
        job = scheduler.get_job(JOB_ID) if scheduler is not None else None
        now = datetime.now(UTC)
        if due is not None and started < due <= now and job is not None:
            self._again = True
            return
        # Only a future instant: one from before this tick began is a client that failed,
        # retried on the interval rather than in a loop.
        if job is None or due is None or due <= now or job.next_run_time is None:
            return
        if due < job.next_run_time:
            job.modify(next_run_time=due)

    async def stop(self, grace_seconds: float = 10.0) -> None:
        """No new tick starts; the one running may finish (up to `grace_seconds`), else it is
        cancelled and its transaction rolled back. Returns only when no tick is running."""
        scheduler, self._scheduler = self._scheduler, None
        if scheduler is None:
            return
        scheduler.pause()
        running = set(self._running)
        if running:
            await asyncio.wait(running, timeout=grace_seconds)
        # shutdown(wait=False) cancels a tick still running; wait for it to unwind so the
        # store is never closed under it.
        scheduler.shutdown(wait=False)
        left = [task for task in running if not task.done()]
        for task in left:
            task.cancel()
        if left:
            await asyncio.gather(*left, return_exceptions=True)


__all__ = ["JOB_ID", "SchedulerRunner"]
