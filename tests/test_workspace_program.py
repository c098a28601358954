"""The program at a glance, over real HTTP on a real SQLite store with a fake clock: a
supervisor reads every caseload's check-ins this week and last, the open alerts by level
and by how long they have waited, and who has acknowledgements overdue, in English or in
Spanish; a clinician finds no such page, exactly as at an unknown address."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from app.composition import build_services
from app.server import build_server
from app.settings import Settings
from journal.clock import FakeClock
from journal.review.adherence import client_today
from storage.crypto import MasterKeyring
from storage.records import Client, Clinician
from storage.uow import Store
from tests.conftest import Database
from tests.helpers import make_client
from web.context import SERVICES_KEY
from web.routes import workspace


@dataclass
class World:
    store: Store
    server: TestServer
    lane: Clinician
    ortiz: Clinician
    boss: Clinician
    jefa: Clinician  # a Spanish supervisor

    def url(self, path: str) -> str:
        return str(self.server.make_url(path))


async def _client(store: Store, clock: FakeClock, owner: Clinician, telegram_id: int, *,
                  enrolled_days_ago: int, submitted: range) -> Client:
    """A client enrolled that many days ago who checked in on the days `submitted` (days
    back from today); every other asked day before today counts as missed."""
    client = await make_client(store, clock, owner, telegram_id=telegram_id)
    async with store.transaction() as uow:
        client = await uow.clients.update(
            client.id, enrolled_at=clock.now() - timedelta(days=enrolled_days_ago))
        today = client_today(client, clock.now())
        for back in submitted:
            await uow.checkins.create(client_id=client.id, local_date=today - timedelta(back),
                                      status="submitted", questionnaire_id="q",
                                      questionnaire_version="1", item_ids=[], now=clock.now())
    return client


@pytest.fixture
async def world(sqlite_database: Database, clock: FakeClock, tmp_path: Path
                ) -> AsyncIterator[World]:
    ring = MasterKeyring.generate()
    key = tmp_path / "steadfast.key"
    ring.create_file(key)
    settings = Settings(_env_file=None, bot_token="123456:TEST-TOKEN",  # type: ignore[call-arg]
                        database_url=sqlite_database.url, master_key_file=key, web_port=8081)
    store = Store.open(sqlite_database.url, ring)
    async with store.transaction() as uow:
        lane = await uow.clinicians.add(telegram_id=501, name="Dr Lane", role="clinician",
                                        now=clock.now())
        ortiz = await uow.clinicians.add(telegram_id=502, name="Dra Ortiz", role="clinician",
                                         now=clock.now())
        boss = await uow.clinicians.add(telegram_id=503, name="Dr Boss", role="supervisor",
                                        now=clock.now())
        jefa = await uow.clinicians.add(telegram_id=504, name="Dra Jefa", role="supervisor",
                                        now=clock.now(), language="es")
    # Lane: 4 of 6 asked days this week, none of 7 the week before.
    a = await _client(store, clock, lane, 9001, enrolled_days_ago=30, submitted=range(1, 5))
    # Ortiz: one client none of 6 this week, 6 of 7 the week before; one enrolled today.
    b = await _client(store, clock, ortiz, 9002, enrolled_days_ago=30, submitted=range(8, 14))
    await _client(store, clock, ortiz, 9003, enrolled_days_ago=0, submitted=range(0))
    now = clock.now()
    async with store.transaction() as uow:
        await uow.alerts.add(client_id=a.id, checkin_id=None, level="critical", detail={},
                             now=now - timedelta(minutes=30),
                             next_escalation_at=now + timedelta(minutes=30))
        await uow.alerts.add(client_id=a.id, checkin_id=None, level="high", detail={},
                             now=now - timedelta(hours=3),  # due, not yet escalated
                             next_escalation_at=now - timedelta(hours=1))
        old = await uow.alerts.add(client_id=b.id, checkin_id=None, level="elevated",
                                   detail={}, now=now - timedelta(days=2),
                                   next_escalation_at=None)
        await uow.alerts.set_escalation(old.id, escalations=1, next_at=None)  # escalated
        handled = await uow.alerts.add(client_id=b.id, checkin_id=None, level="critical",
                                       detail={}, now=now - timedelta(hours=5),
                                       next_escalation_at=now - timedelta(hours=4))
        await uow.alerts.acknowledge(handled.id, by=ortiz.id, now=now)
    server = TestServer(build_server([workspace(build_services(settings, store, clock))]),
                        host="127.0.0.1")
    await server.start_server()
    try:
        yield World(store, server, lane, ortiz, boss, jefa)
    finally:
        await server.close()
        await store.close()


async def signed_in(world: World, clinician: Clinician) -> aiohttp.ClientSession:
    access = world.server.app[SERVICES_KEY].web_access
    async with world.store.transaction() as uow:
        token = await access.new_link(uow, clinician)
    session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    async with session.post(world.url("/sign-in"), data={"token": token},
                            headers={"Sec-Fetch-Site": "same-origin"}) as used:
        assert used.status == 200 and used.url.path == "/caseload", used.url
    return session


async def program_page(world: World, who: Clinician) -> tuple[int, str]:
    session = await signed_in(world, who)
    try:
        async with session.get(world.url("/program")) as answer:
            return answer.status, await answer.text()
    finally:
        await session.close()


def rows(page: str, table: str) -> list[list[str]]:
    """A table's body rows as the cells' visible text."""
    found = re.search(rf'<table[^>]*id="{table}".*?<tbody>(.*?)</tbody>', page, re.S)
    assert found, table
    return [[html.unescape(re.sub(r"<[^>]+>", "", cell)).strip()
             for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
            for row in re.findall(r"<tr>(.*?)</tr>", found.group(1), re.S)]


async def test_a_supervisor_sees_every_caseload_at_a_glance(world: World) -> None:
    status, page = await program_page(world, world.boss)
    assert status == 200
    assert '<a href="/program" aria-current="page">Program</a>' in page
    # Those with acknowledgements overdue first; supervisors carry no clients.
    assert rows(page, "caseloads") == [
        ["Dr Lane", "1", "4/6", "0/7", "1"],
        ["Dra Ortiz", "2", "0/6", "6/7", "1"],
        ["Dr Boss", "0", "—", "—", "0"],
        ["Dra Jefa", "0", "—", "—", "0"],
    ]
    # The acknowledged critical alert is not open: one critical, waiting half an hour.
    assert rows(page, "open-alerts") == [
        ["Critical", "1", "0", "0"],
        ["High", "0", "1", "0"],
        ["Elevated", "0", "0", "1"],
    ]
    overdue = re.search(r'<ul id="overdue">(.*?)</ul>', page, re.S)
    assert overdue is not None
    assert re.findall(r"<li>(.*?)</li>", overdue.group(1)) == [
        "Dr Lane: 1 open alert past its escalation time",
        "Dra Ortiz: 1 open alert past its escalation time"]


async def test_a_spanish_supervisor_reads_it_in_spanish(world: World) -> None:
    status, page = await program_page(world, world.jefa)
    assert status == 200 and '<html lang="es">' in page
    assert "El programa de un vistazo" in page and "Confirmaciones atrasadas" in page
    assert ">Programa</a>" in page
    assert "menos de 1 hora" in page and "más de un día" in page
    assert "Dr Lane: 1 alerta abierta pasada su hora de escalado" in page


async def test_a_clinician_finds_no_program_page_and_no_link_to_one(world: World) -> None:
    session = await signed_in(world, world.lane)
    try:
        async with session.get(world.url("/program")) as answer:
            program = answer.status, await answer.text()
        async with session.get(world.url("/nowhere")) as answer:
            nowhere = answer.status, await answer.text()
        async with session.get(world.url("/caseload")) as answer:
            caseload = await answer.text()
    finally:
        await session.close()
    def same(page: str) -> str:  # but for the address "stay signed in" leads back to
        return re.sub(r'name="back" value="[^"]*"', "", page)

    assert program[0] == nowhere[0] == 404 and same(program[1]) == same(nowhere[1])
    assert 'href="/program"' not in caseload
