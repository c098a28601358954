"""Prints how long /caseload takes for a supervisor's view of N clients (default 200),
beside one grouped query over the same rows measured in the same run (its floor).

A script that prints figures, not a test:

    .venv/bin/python bench/caseload.py [--clients 200] [--days 30] [--runs 5]

It seeds a temporary SQLite database through the repositories (clients, a month of
check-in days with gaps, some open alerts), then times CaseloadService.caseload() in one
unit of work, as the handler calls it, and counts the SQL statements it sends. The floor
is one GROUP BY over check-ins and one over open alerts, returning the same counts per
client.
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

from sqlalchemy import event, func, insert, select  # noqa: E402

from journal.clock import FakeClock  # noqa: E402
from journal.review.caseload import CaseloadService  # noqa: E402
from storage.crypto import MasterKeyring  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.models import AlertRow, CheckInRow  # noqa: E402
from storage.repositories.base import new_id  # noqa: E402
from storage.uow import Store  # noqa: E402


async def seed(store: Store, clock: FakeClock, clients: int, days: int) -> Any:
    now = clock.now()
    async with store.transaction() as uow:
        supervisor = await uow.clinicians.add(telegram_id=1, name="Dr Bench",
                                              role="supervisor", now=now)
        ids = []
        for n in range(clients):
            client = await uow.clients.add_invited(
                clinician_id=supervisor.id, language="en", timezone="Europe/Madrid",
                checkin_time="20:00", now=now)
            await uow.clients.update(client.id, telegram_id=10_000 + n, status="active",
                                     enrolled_at=now - timedelta(days=days + 5))
            ids.append(client.id)
        today = now.date()
        checkins, alerts = [], []
        for n, client_id in enumerate(ids):
            for back in range(days):
                if (n + back) % 4 == 0:
                    continue  # a missed day every so often
                checkin_id = new_id()
                checkins.append({
                    "id": checkin_id, "client_id": client_id,
                    "local_date": today - timedelta(days=back), "status": "submitted",
                    "questionnaire_id": "bench", "questionnaire_version": "1",
                    "risk_level_ct": await uow.vault.seal_person(
                        "checkins.risk_level", checkin_id,
                        ("low", "elevated", "high")[(n + back) % 3]),
                    "submitted_at": now - timedelta(days=back), "created_at": now})
            if n % 5 == 0:
                alert_id = new_id()
                alerts.append({"id": alert_id, "client_id": client_id,
                               "level_ct": await uow.vault.seal_person("alerts.level", alert_id,
                                                                       "high"),
                               "status": "open", "detail_ct": b"x", "created_at": now})
        await uow.session.execute(insert(CheckInRow), checkins)
        await uow.session.execute(insert(AlertRow), alerts)
    return supervisor


async def main(clients: int, days: int, runs: int) -> None:
    with tempfile.TemporaryDirectory(prefix="steadfast-bench-") as folder:
        url = f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
        await asyncio.to_thread(upgrade, url)
        store = Store.open(url, MasterKeyring.generate())
        clock = FakeClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
        statements = [0]

        @event.listens_for(store.engine.sync_engine, "before_cursor_execute")
        def count(*_args: Any) -> None:
            statements[0] += 1

        try:
            supervisor = await seed(store, clock, clients, days)
            service = CaseloadService(clock=clock)
            timings, floors, sent = [], [], []
            for _ in range(runs):
                statements[0] = 0
                started = time.perf_counter()
                async with store.transaction() as uow:
                    entries = await service.caseload(uow, supervisor)
                timings.append(time.perf_counter() - started)
                sent.append(statements[0])
                started = time.perf_counter()
                async with store.unit_of_work() as uow:
                    since = clock.now().date() - timedelta(days=29)
                    per_client = (await uow.session.execute(
                        select(CheckInRow.client_id, CheckInRow.status, func.count(),
                               func.max(CheckInRow.local_date))
                        .where(CheckInRow.local_date >= since)
                        .group_by(CheckInRow.client_id, CheckInRow.status))).all()
                    open_alerts = (await uow.session.execute(
                        select(AlertRow.client_id, AlertRow.id, AlertRow.level_ct)
                        .where(AlertRow.status == "open"))).all()
                floors.append(time.perf_counter() - started)
            assert len(entries) == clients and per_client and open_alerts
            caseload_ms = statistics.median(timings) * 1000
            floor_ms = statistics.median(floors) * 1000
            print(f"/caseload for {clients} clients: {caseload_ms:.0f} ms median of {runs} "
                  f"(min {min(timings) * 1000:.0f} ms), {max(sent)} SQL statements")
            print(f"   floor, grouped queries for the same counts: {floor_ms:.0f} ms median")
            print(f"   ratio to the floor: {caseload_ms / floor_ms:.1f}x")
        finally:
            await store.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--runs", type=int, default=5)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.clients, arguments.days, arguments.runs))
