"""Prints what the scheduler's tick costs when every client of a caseload is owed work.

A script that prints figures, not a test. From the repository's root:

    .venv/bin/python bench/tick.py [--clients 2000] [--postgres]

N clients (default 2,000) with a daily check-in at 08:00 UTC are seeded through the
repositories into a temporary SQLite file (or a new PostgreSQL database), and one tick
runs in this process on a fake clock at 07:00, as a process's first tick does: it looks
at every active client. Two caseloads, each in its own database:
  - look only (the baseline): enrolled at 06:00 today, nobody is owed anything, so the
    tick visits each client and stores their next due instant;
  - close missed days: enrolled at 07:00 yesterday, everybody is owed yesterday's
    check-in, so the tick closes N missed days (a check-in row each, and the missed-run
    rule's look at the client's recent days), as it does when a day's window closes for a
    whole caseload with the same check-in time.
Printed for each: the tick's wall time, its CPU time, the chunks (transactions) it took,
the client rows read per client visited (a chunk reads up to 200 and stops acting after
50 ms; the next reads about what the last one reached, so what one did not reach is read
again, not every chunk's rest), and the ratios to the baseline.
Between chunks the tick sleeps 100 ms (CHUNK_PAUSE) so others get SQLite's write lock:
that sleep is part of the wall time, not of the CPU.

With --idle it prints instead what an idle tick costs (nothing due: the clients' check-in
is hours away) over the same caseload three ways, each in its own database, the median of
--ticks ticks after the first: without appointment reminders at all (the tick before
appointments, the baseline), with the appointment and homework services wired and nothing
stored,
and with --weeks weekly appointments stored for every client, all ahead (reminders due from
a week on). An idle tick reads only what is due (appointments.next_due_at, indexed), so the
last two should cost what the first does.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import create_postgres, drop_postgres, ratio, seed_clients, table  # noqa: E402
from journal.administration import AdminService  # noqa: E402
from journal.alerts.rules_file import load_rules  # noqa: E402
from journal.alerts.service import AlertService  # noqa: E402
from journal.appointments import AppointmentService, load_program, next_due, zone_of  # noqa: E402
from journal.checkin.questionnaire_file import load_questionnaire  # noqa: E402
from journal.checkin.service import CheckInService  # noqa: E402
from journal.clock import FakeClock  # noqa: E402
from journal.homework import HomeworkService, load_library  # noqa: E402
from scheduler.ticks import TickReport, Ticks  # noqa: E402
from storage.crypto import MasterKeyring  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.repositories.people import ClientRepository  # noqa: E402
from storage.uow import Store  # noqa: E402

TODAY_0700 = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)
FIRST_CLIENT = 100_001


class ClientReads:
    """How many client rows the tick's due query returned, while it listens (the
    repository's method wrapped for the duration)."""

    def __init__(self) -> None:
        self.rows = 0
        self._original = ClientRepository.due

    def __enter__(self) -> ClientReads:
        original = self._original

        async def due(repository: ClientRepository, *args: Any, **kwargs: Any) -> Any:
            found = await original(repository, *args, **kwargs)
            self.rows += len(found)
            return found

        ClientRepository.due = due  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        ClientRepository.due = self._original  # type: ignore[method-assign]


async def one_tick(url: str, clients: int, enrolled: datetime) -> tuple[TickReport, float,
                                                                         float, int]:
    """Seed a caseload enrolled at `enrolled`, then time one first tick at 07:00."""
    ring = MasterKeyring.generate()
    store = Store.open(url, ring)
    clock = FakeClock(enrolled)
    try:
        clinician = await AdminService(store=store, clock=clock).add_clinician(
            telegram_id=7001, name="Dr Bench", supervisor=False)
        await seed_clients(store, clinician_id=clinician.id, first_user_id=FIRST_CLIENT,
                           n=clients, now=clock.now(), checkin_days="0123456",
                           checkin_time="08:00")
        clock.set(TODAY_0700)
        q = load_questionnaire()
        alerts = AlertService(clock=clock, questionnaire=q, rules=load_rules(questionnaire=q))
        ticks = Ticks(store=store, clock=clock, alerts=alerts, checkins=CheckInService(
            clock=clock, questionnaire=q, alerts=alerts, store=store))
        with ClientReads() as reads:
            wall, cpu = time.monotonic(), time.process_time()
            report = await ticks.run()
            wall, cpu = time.monotonic() - wall, time.process_time() - cpu
        return report, wall, cpu, reads.rows
    finally:
        await store.close()


async def seed_appointments(store: Store, clinician_id: int, client_ids: list[str],
                            weeks: int, first: datetime, program: Any) -> None:
    """`weeks` weekly appointments for each client from `first` on, straight through the
    repository (no message queued), their next due instants worked out as the service does."""
    for start in range(0, len(client_ids), 500):
        async with store.transaction() as uow:
            for client_id in client_ids[start:start + 500]:
                for week in range(weeks):
                    made = await uow.appointments.add(
                        client_id=client_id, clinician_id=clinician_id, kind="group",
                        starts_at=first + timedelta(weeks=week), online=False, place="",
                        reminders_done=0, next_due_at=None, now=first - timedelta(days=7))
                    await uow.appointments.update(
                        made.id, next_due_at=next_due(program, made, zone_of("UTC")))


async def idle_ticks(url: str, clients: int, *, wired: bool, weeks: int, ticks_run: int
                     ) -> tuple[float, float, int]:
    """Median wall and CPU seconds of an idle tick, and the appointments stored."""
    ring = MasterKeyring.generate()
    store = Store.open(url, ring)
    clock = FakeClock(TODAY_0700 - timedelta(hours=1))
    try:
        clinician = await AdminService(store=store, clock=clock).add_clinician(
            telegram_id=7001, name="Dr Bench", supervisor=False)
        seeded = await seed_clients(store, clinician_id=clinician.id,
                                    first_user_id=FIRST_CLIENT, n=clients, now=clock.now(),
                                    checkin_days="0123456", checkin_time="20:00")
        program = load_program()
        if weeks:
            await seed_appointments(store, clinician.id, [c.client_id for c in seeded], weeks,
                                    TODAY_0700 + timedelta(days=8), program)
        q = load_questionnaire()
        alerts = AlertService(clock=clock, questionnaire=q, rules=load_rules(questionnaire=q))
        appointments = (AppointmentService(clock=clock, program=program, alerts=alerts)
                        if wired else None)
        homework = (HomeworkService(clock=clock, store=store, library=load_library())
                    if wired else None)
        ticks = Ticks(store=store, clock=clock, alerts=alerts, appointments=appointments,
                      homework=homework,
                      checkins=CheckInService(clock=clock, questionnaire=q, alerts=alerts,
                                              store=store))
        clock.set(TODAY_0700)
        await ticks.run()  # the first tick visits everyone and stores their next instants
        walls, cpus = [], []
        for n in range(ticks_run):
            clock.set(TODAY_0700 + timedelta(minutes=1 + n))
            wall, cpu = time.monotonic(), time.process_time()
            report = await ticks.run()
            walls.append(time.monotonic() - wall)
            cpus.append(time.process_time() - cpu)
            if report.visited or report.appointments or report.failures:
                raise RuntimeError(f"the tick was not idle: {report}")
        return statistics.median(walls), statistics.median(cpus), clients * weeks
    finally:
        await store.close()


async def idle(args: argparse.Namespace) -> int:
    cases = (("no appointment reminders (baseline)", False, 0),
             ("appointments and homework wired, none stored", True, 0),
             (f"{args.weeks} weekly appointments per client", True, args.weeks))
    rows, base = [], None
    with tempfile.TemporaryDirectory(prefix="steadfast-idle-") as tmp:
        for n, (name, wired, weeks) in enumerate(cases):
            url, db = await fresh_url(Path(tmp), f"idle{n}", args.postgres)
            try:
                wall, cpu, stored = await idle_ticks(url, args.clients, wired=wired,
                                                     weeks=weeks, ticks_run=args.ticks)
            finally:
                if db is not None:
                    await drop_postgres(db)
            base = base or (wall, cpu)
            rows.append([name, f"{stored}", f"{1000 * wall:.2f} ms", ratio(wall, base[0]),
                         f"{1000 * cpu:.2f} ms", ratio(cpu, base[1])])
    store = "PostgreSQL" if args.postgres else "SQLite"
    print(f"idle tick over {args.clients} clients ({store}), median of {args.ticks}, "
          "ratios to the baseline:")
    print(table(["case", "appointments", "wall", "x", "CPU", "x"], rows))
    return 0


async def fresh_url(folder: Path, name: str, postgres: bool) -> tuple[str, str | None]:
    if postgres:
        url, db = await create_postgres()
    else:
        url, db = f"sqlite+aiosqlite:///{folder / name}.db", None
    await asyncio.to_thread(upgrade, url)
    return url, db


async def main(args: argparse.Namespace) -> int:
    cases = (("look only (baseline)", TODAY_0700 - timedelta(hours=1)),
             ("close missed days", TODAY_0700 - timedelta(days=1)))
    rows, base = [], None
    with tempfile.TemporaryDirectory(prefix="steadfast-tick-") as tmp:
        for n, (name, enrolled) in enumerate(cases):
            url, db = await fresh_url(Path(tmp), f"case{n}", args.postgres)
            try:
                report, wall, cpu, read = await one_tick(url, args.clients, enrolled)
            finally:
                if db is not None:
                    await drop_postgres(db)
            if report.visited != args.clients or report.failures:
                print(f"{name}: visited {report.visited} of {args.clients}, "
                      f"{report.failures} failures", file=sys.stderr)
                return 1
            base = base or (wall, cpu)
            rows.append([name, f"{report.missed}", f"{wall:.2f} s", ratio(wall, base[0]),
                         f"{cpu:.2f} s", ratio(cpu, base[1]), f"{report.chunks}",
                         f"{read / report.visited:.1f}",
                         f"{1000 * cpu / report.visited:.2f} ms"])
    store = "PostgreSQL" if args.postgres else "SQLite"
    print(f"first tick over {args.clients} clients ({store}), ratios to 'look only':")
    print(table(["caseload", "missed", "wall", "x", "CPU", "x", "chunks", "read/visit",
                 "CPU/client"], rows))
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=2000)
    parser.add_argument("--postgres", action="store_true",
                        help="a new database on 127.0.0.1:5432 instead of a SQLite file")
    parser.add_argument("--idle", action="store_true",
                        help="what an idle tick costs with appointments stored (see above)")
    parser.add_argument("--weeks", type=int, default=4)
    parser.add_argument("--ticks", type=int, default=15)
    parsed = parser.parse_args()
    sys.exit(asyncio.run(idle(parsed) if parsed.idle else main(parsed)))
