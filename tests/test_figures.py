"""The program's figures: right against the seeded history, a constant number of
statements whatever the program's size, for supervisors only, the same numbers on the
command line, the page (inline SVG, no script) and its CSV."""

from __future__ import annotations

import asyncio
import csv
import statistics
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import event

from journal.clock import FakeClock
from journal.errors import NotFound
from journal.export.figures import FiguresService, ProgramFigures, percentile
from storage.crypto import MasterKeyring
from storage.records import Clinician
from storage.uow import Store
from tests.conftest import Database
from tests.helpers import make_client, make_clinician
from tests.program_seed import Program, seed_program
from tests.test_audit_and_cli import cli


async def _figures(store: Store, clock: FakeClock, viewer: Clinician | None,
                   **kwargs: int) -> ProgramFigures:
    async with store.transaction() as uow:
        return await FiguresService(clock=clock).figures(uow, viewer, **kwargs)


def _expected_weeks(program: Program, since: date) -> dict[date, list[float]]:
    shares: dict[date, list[float]] = defaultdict(list)
    for seeded in program.seeded:
        weeks: dict[date, list[int]] = defaultdict(lambda: [0, 0])
        for day, status in seeded.days.items():
            if day >= since:
                monday = day - timedelta(days=day.weekday())
                weeks[monday][0 if status == "submitted" else 1] += 1
        for monday, (done, missed) in weeks.items():
            shares[monday].append(done / (done + missed))
    return shares


async def test_the_figures_match_the_seeded_program(store: Store, clock: FakeClock) -> None:
    program = await seed_program(store, clock)
    figures = await _figures(store, clock, program.supervisor, weeks=8, months=3)
    assert figures.clients == {"invited": 0, "active": 3, "paused": 0, "discharged": 0}

    expected = _expected_weeks(program, figures.since)
    assert [w.start for w in figures.weeks] == [figures.since + timedelta(days=7 * n)
                                                for n in range(8)]
    assert all(w.start.weekday() == 0 for w in figures.weeks)
    for week in figures.weeks:
        values = expected.get(week.start, [])
        assert week.clients == len(values), week
        assert week.median == (statistics.median(values) if values else None), week
        assert week.low == percentile(values, 0.25) and week.high == percentile(values, 0.75)
    assert any(w.clients == 3 for w in figures.weeks)

    # Alerts: every seeded one counted in its month, and the acknowledgement delays.
    assert [m for m, _ in figures.months] == ["2026-01", "2026-02", "2026-03"]
    assert sum(sum(levels.values()) for _, levels in figures.months) == sum(
        s.alerts for s in program.seeded)
    delays = [d.total_seconds() / 60 for s in program.seeded for d in s.acknowledged.values()]
    assert sum(a.acknowledged for a in figures.acks) == len(delays)
    assert max(a.longest or 0 for a in figures.acks) == pytest.approx(max(delays))
    for ack in figures.acks:
        if ack.acknowledged:
            assert ack.median is not None and ack.p90 is not None and ack.longest is not None
            assert min(delays) <= ack.median <= ack.p90 <= ack.longest
    assert figures.dead_letters == 0 and figures.emails == {}
    assert figures.by_clinician == []  # only where the program wants it

    # By clinician: each caseload's alerts and delays, adding up to the program's.
    async with store.transaction() as uow:
        split = await FiguresService(clock=clock, by_clinician=True).figures(
            uow, program.supervisor, weeks=8, months=3)
    owners = {program.supervisor.name: [], program.clinician.name: []}
    for client, seeded in zip(program.clients, program.seeded, strict=True):
        name = (program.supervisor if client.clinician_id == program.supervisor.id
                else program.clinician).name
        owners[name].append(seeded)
    assert [name for name, _ in split.by_clinician] == sorted(owners)
    for name, acks in split.by_clinician:
        assert sum(a.alerts for a in acks) == sum(s.alerts for s in owners[name])
        mine = [d.total_seconds() / 60 for s in owners[name] for d in s.acknowledged.values()]
        assert max(a.longest or 0 for a in acks) == pytest.approx(max(mine))
    assert any(row[0] == "acknowledgement_by_clinician" for row in split.rows())

    # A clinician finds nothing; each look is audited.
    with pytest.raises(NotFound):
        await _figures(store, clock, program.clinician)
    async with store.unit_of_work() as uow:
        looks = [e for e in await uow.audit_events(limit=5000) if e.action == "figures.view"]
    assert len(looks) == 2 and looks[0].actor == f"clinician:{program.supervisor.id}"


async def _statements(store: Store, clock: FakeClock, viewer: Clinician) -> int:
    sent = [0]

    def count(*_args: Any) -> None:
        sent[0] += 1

    engine = store.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        await _figures(store, clock, viewer)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return sent[0]


async def test_the_figures_send_as_many_statements_for_40_clients_as_for_4(
        store: Store, clock: FakeClock) -> None:
    boss = await make_clinician(store, clock, telegram_id=7001, role="supervisor")
    await _statements(store, clock, boss)
    counts = []
    for total in (4, 40):
        async with store.unit_of_work() as uow:
            have = len(await uow.clients.for_clinician(None))
        for n in range(have, total):
            client = await make_client(store, clock, boss, telegram_id=9000 + n)
            async with store.transaction() as uow:
                for back in range(3):
                    day = clock.now().date() - timedelta(days=back)
                    checkin = await uow.checkins.create(
                        client_id=client.id, local_date=day,
                        status=("submitted", "missed")[(n + back) % 2],
                        questionnaire_id="q", questionnaire_version="1", item_ids=[],
                        now=clock.now())
                alert = await uow.alerts.add(client_id=client.id, checkin_id=checkin.id,
                                             level=("high", "critical")[n % 2],
                                             detail={"reasons": []},
                                             now=clock.now() - timedelta(hours=n),
                                             next_escalation_at=None)
                await uow.alerts.acknowledge(alert.id, by=boss.id, now=clock.now())
        await _statements(store, clock, boss)
        counts.append(await _statements(store, clock, boss))
    assert counts[0] == counts[1], counts
    assert counts[1] <= 12, counts
    figures = await _figures(store, clock, boss)
    assert sum(a.alerts for a in figures.acks) == 40
    assert figures.weeks[-1].clients + figures.weeks[-2].clients >= 40


@pytest.fixture
async def served(sqlite_database: Database, ring: MasterKeyring, clock: FakeClock,
                 tmp_path: Path) -> AsyncIterator[tuple[Any, Program, dict[str, str]]]:
    from aiohttp.test_utils import TestServer

    from app.composition import build_services
    from app.server import build_server
    from app.settings import Settings
    from web.routes import workspace

    key = tmp_path / "steadfast.key"
    ring.create_file(key)
    settings = Settings(_env_file=None, bot_token="123456:T",  # type: ignore[call-arg]
                        database_url=sqlite_database.url, master_key_file=key, web_port=8081,
                        figures_by_clinician=True)
    store = Store.open(sqlite_database.url, ring)
    program = await seed_program(store, clock)
    services = build_services(settings, store, clock)
    server = TestServer(build_server([workspace(services)]), host="127.0.0.1")
    await server.start_server()
    async with store.transaction() as uow:
        token = await services.web_access.new_link(uow, program.supervisor)
    env = {"STEADFAST_DATABASE_URL": sqlite_database.url, "STEADFAST_MASTER_KEY_FILE": str(key)}
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            async with http.post(server.make_url("/sign-in"), data={"token": token},
                                 headers={"Sec-Fetch-Site": "same-origin"}) as used:
                assert used.url.path == "/caseload"
            yield (http, server), program, env
    finally:
        await server.close()
        await store.close()


async def test_the_page_the_csv_and_the_command_line_agree(
        served: tuple[Any, Program, dict[str, str]], tmp_path: Path, clock: FakeClock) -> None:
    (http, server), program, env = served
    async with http.get(server.make_url("/program/figures?weeks=8&months=3")) as answer:
        assert answer.status == 200
        page = await answer.text()
        assert "'unsafe-inline'" not in answer.headers["Content-Security-Policy"]
    assert "<script" not in page.split("<main")[1]
    assert page.count("<svg") == 2 and 'role="img"' in page
    assert "Adherence by week" in page and "Alerts by level per month" in page
    assert 'id="figures-acks-by-clinician"' in page and program.clinician.name in page
    assert 'href="/program/figures.csv?weeks=8&amp;months=3"' in page
    async with http.get(server.make_url("/program/figures.csv?weeks=8&months=3")) as answer:
        assert answer.status == 200 and answer.content_type == "text/csv"
        assert "attachment" in answer.headers["Content-Disposition"]
        rows = list(csv.reader((await answer.text()).splitlines()))
    assert rows[0] == ["figure", "group", "measure", "value"]
    table = {(f, g, m): v for f, g, m, v in rows[1:]}
    assert table[("clients", "active", "count")] == "3"
    alerts = sum(int(v) for (f, _, _), v in table.items() if f == "alerts")
    assert alerts == sum(s.alerts for s in program.seeded)
    async with http.get(server.make_url("/program")) as answer:
        assert 'href="/program/figures"' in await answer.text()

    # The command line: the same figures, and the same CSV (the same day, the same data).
    out = tmp_path / "figures.csv"
    done = await asyncio.to_thread(cli, ["stats", "--weeks", "8", "--months", "3", "--csv",
                                         str(out)], env, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Clients: invited 0, active 3, paused 0, discharged 0" in done.stdout
    assert "Time to acknowledgement" in done.stdout and "Dead letters: 0" in done.stdout
    from_cli = {(f, g, m): v for f, g, m, v in
                list(csv.reader(out.read_text(encoding="utf-8").splitlines()))[1:]}
    # The command line runs on today's clock, the page on the test's: compare what does not
    # depend on the day: clients and every month's alerts.
    assert from_cli[("clients", "active", "count")] == "3"


async def test_a_supervisor_downloads_the_research_export_and_a_clinician_cannot(
        served: tuple[Any, Program, dict[str, str]]) -> None:
    import io
    import re
    import zipfile

    from web.context import SERVICES_KEY

    (http, server), program, _env = served
    headers = {"Sec-Fetch-Site": "same-origin", "Origin": str(server.make_url("/"))[:-1]}
    async with http.get(server.make_url("/program/export")) as answer:
        assert answer.status == 200
        form = await answer.text()
    found = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert found and "<script" not in form.split("<main")[1]
    csrf = found.group(1)
    fields = {"csrf_token": csrf, "from": "2026-01-01", "to": "2026-03-01"}
    async with http.post(server.make_url("/program/export"), data=fields,
                         headers=headers) as answer:
        assert answer.status == 200, await answer.text()
        assert answer.content_type == "application/zip"
        assert "attachment" in answer.headers["Content-Disposition"]
        packed = zipfile.ZipFile(io.BytesIO(await answer.read()))
    names = set(packed.namelist())
    assert {"participants.csv", "checkins.csv", "alerts.csv", "summary.csv", "codebook.csv",
            "manifest.json"} == names
    everything = "".join(packed.read(n).decode() for n in names)
    assert not any(c.code in everything for c in program.clients)
    assert not any(t in everything for t in program.free_texts)
    for bad, said in (({"from": "2026-03-01", "to": "2026-01-01"}, "not before the first"),
                      ({"from": "yesterday", "to": "2026-01-01"}, "as dates"),
                      ({"free_text": "yes"}, "only with a reason")):
        async with http.post(server.make_url("/program/export"),
                             data={**fields, **bad}, headers=headers) as answer:
            assert answer.status == 400 and said in await answer.text()
    async with http.post(server.make_url("/program/export"),
                         data={**fields, "csrf_token": "forged"}, headers=headers) as answer:
        assert answer.status == 403  # not from our own page

    services = server.app[SERVICES_KEY]
    async with services.store.transaction() as uow:
        token = await services.web_access.new_link(uow, program.clinician)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as lane:
        async with lane.post(server.make_url("/sign-in"), data={"token": token},
                             headers={"Sec-Fetch-Site": "same-origin"}) as used:
            assert used.url.path == "/caseload"
            page = await used.text()
        lane_csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert lane_csrf
        async with lane.post(server.make_url("/program/export"),
                             data={**fields, "csrf_token": lane_csrf.group(1)},
                             headers=headers) as answer:
            assert answer.status == 404
    async with services.store.unit_of_work() as uow:
        events = [e for e in await uow.audit_events(limit=5000)
                  if e.action == "export.research"]
    assert len(events) == 1 and events[0].actor == f"clinician:{program.supervisor.id}"
