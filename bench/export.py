"""Prints the research export's rate and peak memory beside a bare loop that reads and
decrypts the same rows, measured in the same run (its floor), as a ratio.

A script that prints figures, not a test:

    .venv/bin/python bench/export.py [--clients 100] [--days 365]

It seeds a temporary SQLite database (a supervisor; clients with `--days` days each of
sealed check-in answers in the default questionnaire's stored format, scores, levels and
some alerts), then runs, each in a child process of its own so each peak RSS is its own:
1. the bare loop: stream every check-in and alert row and open each sealed value, nothing
   else (the floor);
2. `steadfast export research` over the same days, as an operator runs it.
3. the same export's own work timed inside its process, as the floor is.
It prints rows, seconds, rows/s, the ratio of the export's time to the floor's (inside the
processes, and as whole commands with their start-up) and each child's peak RSS. The goal: within 2x of the floor, and under 250 MB at 10,000 clients.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, select  # noqa: E402

from journal.alerts.rules import DaySnapshot, evaluate  # noqa: E402
from journal.alerts.rules_file import load_rules  # noqa: E402
from journal.alerts.service import stored_scores  # noqa: E402
from journal.checkin.flow import CheckInState, Stored  # noqa: E402
from journal.checkin.questionnaire_file import load_questionnaire  # noqa: E402
from journal.review.seed import PLAN, daily_answers  # noqa: E402
from storage.crypto import MasterKeyring  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.models import AlertRow, CheckInRow  # noqa: E402
from storage.repositories.base import new_id  # noqa: E402
from storage.uow import Store  # noqa: E402

SUPERVISOR = 4242
END = date(2026, 3, 1)
BATCH = 25  # clients per seeding transaction


async def seed(store: Store, clients: int, days: int) -> int:
    q = load_questionnaire()
    rules = load_rules(questionnaire=q)
    now = datetime(2026, 3, 2, 9, tzinfo=UTC)
    zone = ZoneInfo("Europe/Madrid")
    rng = random.Random(5)
    async with store.transaction() as uow:
        boss = await uow.clinicians.add(telegram_id=SUPERVISOR, name="Dr Bench",
                                        role="supervisor", now=now)
    rows = 0
    start = END - timedelta(days=days - 1)
    for first in range(0, clients, BATCH):
        async with store.transaction() as uow:
            checkins: list[dict[str, Any]] = []
            alerts: list[dict[str, Any]] = []
            for n in range(first, min(clients, first + BATCH)):
                client = await uow.clients.add_invited(
                    clinician_id=boss.id, language="en", timezone="Europe/Madrid",
                    checkin_time="20:00", now=now)
                await uow.clients.update(client.id, telegram_id=1_000_000 + n,
                                         status="active",
                                         enrolled_at=datetime.combine(start, clock_time(9),
                                                                      zone))
                for offset in range(days):
                    day = start + timedelta(days=offset)
                    evening = datetime.combine(day, clock_time(20, 30), zone).astimezone(UTC)
                    checkin_id = new_id()
                    if (n + offset) % 9 == 8:
                        checkins.append({
                            "id": checkin_id, "client_id": client.id, "local_date": day,
                            "status": "missed", "questionnaire_id": q.id,
                            "questionnaire_version": str(q.version), "item_ids": "",
                            "created_at": evening})
                        continue
                    answers = daily_answers(rng, day, PLAN, high_risk=offset % 5 == 0,
                                            note=None)
                    assessment = evaluate(rules, q, DaySnapshot(day, answers), [])
                    state = Stored(5, CheckInState(q.id, q.version, answers, None)).to_data()
                    checkins.append({
                        "id": checkin_id, "client_id": client.id, "local_date": day,
                        "status": "submitted", "questionnaire_id": q.id,
                        "questionnaire_version": str(q.version), "item_ids": "",
                        "state_ct": await uow.vault.seal_json(client.id, "checkins.state",
                                                              checkin_id, state),
                        "scores_ct": await uow.vault.seal_json(
                            client.id, "checkins.scores", checkin_id,
                            stored_scores(assessment.indicators)),
                        "risk_level_ct": await uow.vault.seal_person(
                            "checkins.risk_level", checkin_id, assessment.level),
                        "started_at": evening, "submitted_at": evening + timedelta(minutes=3),
                        "created_at": evening})
                    if assessment.findings:
                        alert_id = new_id()
                        alerts.append({
                            "id": alert_id, "client_id": client.id, "checkin_id": checkin_id,
                            "level_ct": await uow.vault.seal_person("alerts.level", alert_id,
                                                                    assessment.level),
                            "status": "acknowledged",
                            "detail_ct": await uow.vault.seal_json(
                                client.id, "alerts.detail", alert_id,
                                {"reasons": [f.reason_code for f in assessment.findings],
                                 "rules": [], "answers": []}),
                            "created_at": evening, "escalations": 0,
                            "acknowledged_at": evening + timedelta(minutes=40)})
            for part in range(0, len(checkins), 5000):
                await uow.session.execute(insert(CheckInRow), checkins[part:part + 5000])
            if alerts:
                await uow.session.execute(insert(AlertRow), alerts)
            rows += len(checkins) + len(alerts)
        print(f"  seeded {min(clients, first + BATCH):,} of {clients:,} clients", end="\r",
              file=sys.stderr, flush=True)
    print(file=sys.stderr)
    return rows


async def bare(url: str, key_file: str) -> None:
    """The floor: every check-in and alert row streamed and each sealed value opened."""
    ring = MasterKeyring.load_file(Path(key_file))
    store = Store.open(url, ring)
    started = time.perf_counter()
    rows = 0
    try:
        async with store.unit_of_work() as uow:
            vault = uow.vault
            result = await uow.session.stream(
                select(CheckInRow.client_id, CheckInRow.id, CheckInRow.state_ct,
                       CheckInRow.scores_ct, CheckInRow.risk_level_ct)
                .execution_options(yield_per=500))
            async for client_id, row_id, state_ct, scores_ct, level_ct in result:
                if state_ct is not None:
                    await vault.open_json(client_id, "checkins.state", row_id, state_ct)
                    await vault.open_json(client_id, "checkins.scores", row_id, scores_ct)
                    await vault.open_person("checkins.risk_level", row_id, level_ct)
                rows += 1
            result = await uow.session.stream(
                select(AlertRow.client_id, AlertRow.id, AlertRow.level_ct, AlertRow.detail_ct)
                .execution_options(yield_per=500))
            async for client_id, row_id, level_ct, detail_ct in result:
                await vault.open_json(client_id, "alerts.detail", row_id, detail_ct)
                await vault.open_person("alerts.level", row_id, level_ct)
                rows += 1
    finally:
        await store.close()
    print(f"{rows} {time.perf_counter() - started:.3f}")


async def export_inside(url: str, key_file: str, out: str, since: str, until: str) -> None:
    """The export's own work, timed inside its process as the bare loop's is."""
    from journal.clock import SystemClock
    from journal.export.research import ResearchExport

    q = load_questionnaire()
    store = Store.open(url, MasterKeyring.load_file(Path(key_file)))
    started = time.perf_counter()
    try:
        receipt = await ResearchExport(store=store, clock=SystemClock(), questionnaire=q,
                                       rules=load_rules(questionnaire=q)).run(
            SUPERVISOR, Path(out), since=date.fromisoformat(since),
            until=date.fromisoformat(until))
    finally:
        await store.close()
    print(f"{sum(receipt.rows.values())} {time.perf_counter() - started:.3f}")


def child(args: list[str], env: dict[str, str]) -> tuple[float, int, str]:
    """Run a child; its wall time, its own peak RSS (KiB) and its standard output."""
    started = time.perf_counter()
    process = subprocess.Popen(args, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True, cwd=ROOT)
    assert process.stdout is not None
    out = process.stdout.read()
    _pid, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise SystemExit(f"child failed ({process.returncode}): {' '.join(args)}")
    return time.perf_counter() - started, usage.ru_maxrss, out


def main(clients: int, days: int) -> None:
    with tempfile.TemporaryDirectory(prefix="steadfast-bench-") as folder:
        url = f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
        key_file = Path(folder) / "steadfast.key"
        ring = MasterKeyring.generate()
        ring.create_file(key_file)
        upgrade(url)
        print(f"Seeding {clients:,} clients with {days} days each...", file=sys.stderr)

        async def seeded() -> int:
            store = Store.open(url, ring)
            try:
                return await seed(store, clients, days)
            finally:
                await store.close()

        rows = asyncio.run(seeded())
        env = {k: v for k, v in os.environ.items() if not k.startswith("STEADFAST_")}
        env.update({"STEADFAST_DATABASE_URL": url, "STEADFAST_MASTER_KEY_FILE": str(key_file),
                    "PYTHONPATH": str(ROOT)})
        floor_wall, floor_rss, out = child(
            [sys.executable, __file__, "--bare", url, str(key_file)], env)
        floor_rows, floor_inner = out.split()
        since = END - timedelta(days=days - 1)
        wall, rss, _ = child(
            [sys.executable, "-m", "cli", "export", "research", "--from", since.isoformat(),
             "--to", END.isoformat(), "--out", str(Path(folder) / "export"), "--by",
             str(SUPERVISOR)], env)
        written = sum(len(p.read_text().splitlines()) - 1
                      for p in (Path(folder) / "export").glob("*.csv")
                      if p.name != "codebook.csv")
        inner_wall, inner_rss, out = child(
            [sys.executable, __file__, "--export", url, str(key_file),
             str(Path(folder) / "inside"), since.isoformat(), END.isoformat()], env)
        inner_rows, inner_time = out.split()
        print(f"{clients:,} clients x {days} days: {rows:,} check-in and alert rows seeded")
        print(f"  bare loop (read + decrypt): {int(floor_rows):,} rows in {floor_wall:.1f} s "
              f"({int(floor_rows) / floor_wall:,.0f} rows/s; {float(floor_inner):.1f} s "
              f"inside), peak RSS {floor_rss / 1024:.0f} MB")
        print(f"  steadfast export research: {written:,} rows written in {wall:.1f} s "
              f"({int(floor_rows) / wall:,.0f} source rows/s), peak RSS {rss / 1024:.0f} MB")
        print(f"  the export's own work (in process, as the bare loop is timed): "
              f"{float(inner_time):.1f} s for {int(inner_rows):,} rows written, "
              f"peak RSS {inner_rss / 1024:.0f} MB")
        print(f"  ratio to the bare loop: {float(inner_time) / float(floor_inner):.2f}x inside "
              f"the processes, {wall / floor_wall:.2f}x as whole commands (goal: within 2x; "
              f"peak RSS under 250 MB at 10,000 clients)")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--bare":
        asyncio.run(bare(sys.argv[2], sys.argv[3]))
        raise SystemExit(0)
    if len(sys.argv) == 7 and sys.argv[1] == "--export":
        asyncio.run(export_inside(*sys.argv[2:]))
        raise SystemExit(0)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--days", type=int, default=365)
    arguments = parser.parse_args()
    main(arguments.clients, arguments.days)
