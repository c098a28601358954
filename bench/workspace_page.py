"""Prints how long the workspace's client page takes for a year of history, warm, beside
the session PDF of the same year in the same run, and the ratio of the two.

A script that prints figures, not a test: run it on the machine that will serve the pages.

    .venv/bin/python bench/workspace_page.py [--days 365] [--runs 5]

It seeds a temporary SQLite database (check-ins with answers, alerts with notes, journal
entries) through the repositories, serves the real workspace application on a loopback
port, signs in with a real one-time link and then times, over HTTP, what a clinician's
browser waits for: GET /clients/CODE?days=N (gather and decrypt, charts as SVG, the
template) and GET /reports/CODE?days=N (gather and decrypt, then matplotlib and fpdf2 in
the renderer's worker process). One request of each first warms the caches, the worker and
the imports; the figures are the medians of the runs after it.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp  # noqa: E402
from aiohttp.test_utils import TestServer  # noqa: E402

from app.composition import build_services  # noqa: E402
from app.server import build_server  # noqa: E402
from app.settings import Settings  # noqa: E402
from journal.clock import FakeClock  # noqa: E402
from journal.review.adherence import client_today  # noqa: E402
from journal.review.renderer import RENDERER  # noqa: E402
from journal.review.seed import seed_history  # noqa: E402
from storage.crypto import MasterKeyring  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.uow import Store  # noqa: E402
from web.context import SERVICES_KEY  # noqa: E402
from web.routes import workspace  # noqa: E402


async def timed(session: aiohttp.ClientSession, url: str) -> tuple[float, int]:
    started = time.perf_counter()
    async with session.get(url) as answer:
        body = await answer.read()
        if answer.status != 200:
            raise SystemExit(f"{url}: HTTP {answer.status}")
    return time.perf_counter() - started, len(body)


async def main(days: int, runs: int) -> None:
    with tempfile.TemporaryDirectory(prefix="steadfast-bench-") as folder:
        url = f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
        key = Path(folder) / "bench.key"
        ring = MasterKeyring.generate()
        ring.create_file(key)
        await asyncio.to_thread(upgrade, url)
        store = Store.open(url, ring)
        clock = FakeClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
        settings = Settings(_env_file=None, bot_token="123456:BENCH", database_url=url,
                            master_key_file=key, web_port=8081,
                            default_timezone="Europe/Madrid")
        services = build_services(settings, store, clock)
        server = TestServer(build_server([workspace(services)]), host="127.0.0.1")
        session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
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
            seeded = await seed_history(store, services.questionnaire, services.rules, client,
                                        end=client_today(client, clock.now()), days=days, varied_acks=True)
            print(f"seeded {days} days ({list(seeded.days.values()).count('submitted')} "
                  f"check-ins, {seeded.alerts} alerts, {len(seeded.journal)} journal entries) "
                  f"in {time.perf_counter() - started:.1f} s")
            await server.start_server()
            access = server.app[SERVICES_KEY].web_access
            async with store.transaction() as uow:
                token = await access.new_link(uow, clinician)
            async with session.post(server.make_url("/sign-in"), data={"token": token},
                                    headers={"Sec-Fetch-Site": "same-origin"}) as r:
                assert r.status == 200, r.status
            page_url = str(server.make_url(f"/clients/{client.code}?days={days}"))
            pdf_url = str(server.make_url(f"/reports/{client.code}?days={days}"))
            first_page, _n = await timed(session, page_url)
            first_pdf, _n = await timed(session, pdf_url)
            print(f"{'first (cold)':>22}: page {first_page * 1000:.0f} ms, "
                  f"PDF {first_pdf * 1000:.0f} ms (starts the worker, imports matplotlib)")
            pages, pdfs = [], []
            page_size = pdf_size = 0
            for _run in range(runs):  # alternated, so both meet the same machine load
                seconds, page_size = await timed(session, page_url)
                pages.append(seconds)
                seconds, pdf_size = await timed(session, pdf_url)
                pdfs.append(seconds)
            page, pdf = statistics.median(pages), statistics.median(pdfs)
            print(f"{'client page, warm':>22}: {page * 1000:.0f} ms median of {runs} "
                  f"(min {min(pages) * 1000:.0f}, max {max(pages) * 1000:.0f}); "
                  f"{page_size // 1024} KiB of HTML")
            print(f"{'session PDF, warm':>22}: {pdf * 1000:.0f} ms median of {runs} "
                  f"(min {min(pdfs) * 1000:.0f}, max {max(pdfs) * 1000:.0f}); "
                  f"{pdf_size // 1024} KiB")
            print(f"{'ratio':>22}: the page takes {page / pdf:.2f}x the PDF's time "
                  f"for {days} days")
        finally:
            await session.close()
            await server.close()
            RENDERER.close()
            await store.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--runs", type=int, default=5)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.days, arguments.runs))
