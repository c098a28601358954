"""Prints how long a session report over a year of daily entries takes to build.

A script that prints figures, not a test: run it on the machine that will serve reports.

    .venv/bin/python bench/report_bench.py [--days 365] [--runs 3] [--in-process]

It seeds a temporary SQLite database (check-ins with answers, alerts, journal entries)
through the repositories, then times the same path /report takes: gathering and
decrypting in one unit of work, then building charts and PDF in the renderer's worker
process (journal/review/renderer.py; --in-process builds in this process instead, as the
bot did before). The first build also pays for starting the worker and importing
matplotlib and fpdf2; it is printed separately. Beside
each build it prints the process's resident memory then and its peak so far (VmRSS and
VmHWM from /proc; the worker's peak too), against the resident memory before the first build (the baseline: the
interpreter, the store and the seeded data); the bot's goal is under 250 MB.

Each build also prints the CPU seconds it took, this process's and the worker's (from
/proc): on a shared, loaded machine the wall time swings with the load, the CPU time much
less, so compare two versions by both, run back to back.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from journal.alerts.rules_file import load_rules  # noqa: E402
from journal.checkin.questionnaire_file import load_questionnaire  # noqa: E402
from journal.clock import FakeClock  # noqa: E402
from journal.review.adherence import client_today  # noqa: E402
from journal.review.renderer import RENDERER  # noqa: E402
from journal.review.report import build_report  # noqa: E402
from journal.review.seed import seed_history  # noqa: E402
from journal.review.service import ReviewService  # noqa: E402
from storage.crypto import MasterKeyring  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.uow import Store  # noqa: E402


def _memory(pid: int | str = "self") -> tuple[float, float]:
    """(resident, peak resident) of a process in MiB, from /proc (Linux)."""
    fields = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(value.split()[0]) / 1024
    return fields.get("VmRSS", 0.0), fields.get("VmHWM", 0.0)


async def main(days: int, runs: int, in_process: bool) -> None:
    with tempfile.TemporaryDirectory(prefix="steadfast-bench-") as folder:
        url = f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
        await asyncio.to_thread(upgrade, url)
        store = Store.open(url, MasterKeyring.generate())
        clock = FakeClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
        q = load_questionnaire()
        rules = load_rules(questionnaire=q)
        try:
            async with store.transaction() as uow:
                clinician = await uow.clinicians.add(telegram_id=1, name="Dr Bench",
                                                     role="clinician", now=clock.now())
                client = await uow.clients.add_invited(
                    clinician_id=clinician.id, language="en", timezone="Europe/Madrid",
                    checkin_time="20:00", now=clock.now())
                client = await uow.clients.update(client.id, telegram_id=2, status="active",
                                                  enrolled_at=datetime(2024, 1, 1, tzinfo=UTC))
            started = time.perf_counter()
            seeded = await seed_history(store, q, rules, client,
                                        end=client_today(client, clock.now()), days=days)
            print(f"seeded {days} days ({list(seeded.days.values()).count('submitted')} "
                  f"check-ins, {seeded.alerts} alerts, {len(seeded.journal)} journal entries) "
                  f"in {time.perf_counter() - started:.1f} s")
            review = ReviewService(clock=clock, questionnaire=q, rules=rules)
            baseline, _peak = _memory()
            print(f"{'before the first build':>34}: RSS {baseline:.0f} MiB (baseline)")
            for run in range(1, runs + 1):
                cpu_before = _cpu()
                started = time.perf_counter()
                async with store.transaction() as uow:
                    data = await review.report(uow, clinician, client.code, days)
                gathered = time.perf_counter()
                pdf = build_report(data) if in_process else await RENDERER.run(build_report, data)
                done = time.perf_counter()
                bot_cpu, worker_cpu = (after - before for after, before in
                                       zip(_cpu(), cpu_before, strict=True))
                label = "first (imports matplotlib, fpdf2)" if run == 1 else f"run {run}"
                print(f"{label:>34}: {done - started:.2f} s total = "
                      f"{gathered - started:.2f} s gather and decrypt + "
                      f"{done - gathered:.2f} s charts and PDF; {len(pdf) // 1024} KiB")
                print(f"{'':>34}  CPU {bot_cpu + worker_cpu:.2f} s = {bot_cpu:.2f} s this "
                      f"process + {worker_cpu:.2f} s the worker")
                rss, peak = _memory()
                print(f"{'':>34}  RSS {rss:.0f} MiB, peak {peak:.0f} MiB "
                      f"({peak / baseline:.2f}x the baseline; goal: peak under 250 MB)"
                      + "".join(f"; worker {pid}: peak {_memory(pid)[1]:.0f} MiB"
                                for pid in _workers()))
        finally:
            RENDERER.close()
            await store.close()


def _cpu() -> tuple[float, float]:
    """CPU seconds (user and system) used so far by this process and by the worker(s)."""
    def used(pid: int | str) -> float:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    workers = 0.0
    for pid in _workers():
        with contextlib.suppress(OSError):
            workers += used(pid)
    return used("self"), workers


def _workers() -> list[int]:
    pool = RENDERER._pool  # noqa: SLF001 (a bench may look inside)
    return list(getattr(pool, "_processes", None) or {})


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--in-process", action="store_true",
                        help="build in this process, as the bot did before the renderer")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.days, arguments.runs, arguments.in_process))
