"""The client page over real HTTP: the workspace application the bot serves, on a real
SQLite store with a seeded history, signed in with a real one-time link. What a clinician
reads, the journal searched, the plan edited with and without its CSRF token, and another
clinician's client looking exactly like a missing one."""

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
from sqlalchemy import select, update

from app.composition import build_services
from app.server import build_server
from app.settings import Settings
from journal.clock import FakeClock
from journal.review.adherence import client_today
from journal.review.seed import ACK_NOTES, Seeded, seed_history
from storage import audit
from storage.crypto import MasterKeyring
from storage.models import ClinicianRow, OutboxRow
from storage.records import Client, Clinician
from storage.uow import Store
from tests.conftest import Database
from tests.helpers import make_clinician
from tests.reading import times_without_zone
from web.context import SERVICES_KEY
from web.routes import workspace

DAYS = 60


@dataclass
class World:
    store: Store
    server: TestServer
    lane: Clinician
    ortiz: Clinician
    client: Client
    other: Client
    seeded: Seeded

    def url(self, path: str) -> str:
        return str(self.server.make_url(path))


@pytest.fixture
async def world(sqlite_database: Database, clock: FakeClock, tmp_path: Path
                ) -> AsyncIterator[World]:
    ring = MasterKeyring.generate()
    key = tmp_path / "steadfast.key"
    ring.create_file(key)
    settings = Settings(_env_file=None, bot_token="123456:TEST-TOKEN",
                        database_url=sqlite_database.url, master_key_file=key,
                        default_timezone="Europe/Madrid", web_port=8081)
    store = Store.open(sqlite_database.url, ring)
    lane = await make_clinician(store, clock, 501, name="Dr Lane")
    ortiz = await make_clinician(store, clock, 502, name="Dr Ortiz")
    async with store.transaction() as uow:
        made = []
        for owner, telegram_id in ((lane, 9001), (ortiz, 9002)):
            client = await uow.clients.add_invited(
                clinician_id=owner.id, language="en", timezone="Europe/Madrid",
                checkin_time="20:00", now=clock.now())
            made.append(await uow.clients.update(
                client.id, telegram_id=telegram_id, status="active",
                enrolled_at=clock.now() - timedelta(days=400)))
    services = build_services(settings, store, clock)
    seeded = await seed_history(store, services.questionnaire, services.rules, made[0],
                                end=client_today(made[0], clock.now()), days=DAYS, varied_acks=True)
    server = TestServer(build_server([workspace(services)]), host="127.0.0.1")
    await server.start_server()
    try:
        yield World(store, server, lane, ortiz, made[0], made[1], seeded)
    finally:
        await server.close()
        await store.close()


async def signed_in(world: World, clinician: Clinician) -> aiohttp.ClientSession:
    """A browser-like session signed in through the one-time link, as /workspace gives it."""
    access = world.server.app[SERVICES_KEY].web_access
    async with world.store.transaction() as uow:
        token = await access.new_link(uow, clinician)
    session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    async with session.get(world.url(f"/sign-in/{token}")) as shown:
        assert shown.status == 200
    async with session.post(world.url("/sign-in"), data={"token": token},
                            headers={"Sec-Fetch-Site": "same-origin"}) as used:
        assert used.status == 200 and used.url.path == "/caseload", used.url
    return session


def visible_text(page: str) -> str:
    """What a reader sees: no tags, no inline SVG internals but its text, entities decoded."""
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", "\n", page))


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "the page has no CSRF token"
    return found.group(1)


async def get(session: aiohttp.ClientSession, url: str) -> tuple[int, str, dict[str, str]]:
    async with session.get(url) as answer:
        return answer.status, await answer.text(), dict(answer.headers)


async def test_the_client_page_shows_the_review_of_a_range(world: World) -> None:
    session = await signed_in(world, world.lane)
    try:
        code = world.client.code
        status, page, headers = await get(session, world.url(f"/clients/{code}?days=90"))
        assert status == 200
        assert "default-src 'self'" in headers["Content-Security-Policy"]
        assert headers["Cache-Control"] == "no-store"
        text = visible_text(page)
        assert f"Client {code}" in text and "Dr Lane" in text
        # A chart a series: two roll-ups (each drawn wide and narrow), seven domains,
        # three 0-10 scales, and the calendar; no script but the session warning's.
        assert page.count("<svg") == 2 * 2 + 7 + 3 + 1
        assert re.findall(r'<script src="([^"?]+)', page) == ["/static/session.js"]
        assert "style=" not in page
        for name in ("Access to victims", "Hostility", "Substance abuse", "General indicator",
                     "Elevated from", "High from"):
            assert name in text, name
        # The axis names months; the 90 days here span three or four of them.
        assert len(set(re.findall(r">(Jan|Feb|Mar|Dec|Nov)(?: \d{4})?<", page))) >= 2
        # Alerts: who acknowledged, how fast, and the note, in the viewer's zone.
        assert "Acknowledged by Dr Lane at" in text and " after the alert." in text
        assert any(note in text for note in ACK_NOTES)
        assert times_without_zone(text) == []
        for reasons in re.findall(r'<ul class="reasons"[^>]*>(.*?)</ul>', page, flags=re.S):
            items = re.findall(r"<li>(.*?)</li>", reasons)
            assert len(items) == len(set(items)) >= 1, items
        # Situations beside the coping used, and the day-by-day answers.
        situation = max(d for d in world.seeded.situations)
        assert world.seeded.situations[situation] in text
        assert "Small decisions toward risk" in text and "Toward a good life" in text
        # The newest journal entries are on the page, the plan in its edit form.
        newest = max(world.seeded.journal)[1]
        assert html.escape(newest, quote=False) in page or newest in text
        assert "Call my sponsor" in text and 'name="plan"' in page
        # An unknown range falls back to the default 30 days.
        status, page, _h = await get(session, world.url(f"/clients/{code}?days=45"))
        assert status == 200 and 'aria-current="page">30 days' in page
    finally:
        await session.close()
    async with world.store.unit_of_work() as uow:
        events = [(e.action, e.detail) for e in await audit.events(
            uow.session, uow.vault, client_id=world.client.id)]
    assert ("client.report", f"client {world.client.code} days: 90") in events


async def test_the_journal_pages_and_search(world: World) -> None:
    session = await signed_in(world, world.lane)
    code = world.client.code
    try:
        status, page, _h = await get(session, world.url(f"/clients/{code}/journal?page=2"))
        assert status == 200 and "Page 2 of" in page and 'rel="prev"' in page
        newest_first = sorted(world.seeded.journal, reverse=True)
        assert newest_first[10][1].split(":")[0] in page  # the 11th newest opens page 2
        at, text = newest_first[7]
        day = text.split(":")[0]
        status, page, _h = await get(
            session, world.url(f"/clients/{code}/journal?q={day.replace(' ', '+')}"))
        assert status == 200
        shown = re.findall(r'<p class="entry">(.*?)</p>', page, flags=re.S)
        assert len(shown) == 1 and day in shown[0]
        status, page, _h = await get(session, world.url(f"/clients/{code}/journal?q=zzzz"))
        assert status == 200 and "Nothing the client wrote holds" in page
    finally:
        await session.close()


async def test_the_plan_is_edited_only_with_its_csrf_token(world: World) -> None:
    session = await signed_in(world, world.lane)
    code = world.client.code
    plan_url = world.url(f"/clients/{code}/plan")
    new_plan = "Coping steps:\n- Ring Ana\n- Walk the dog"
    try:
        _s, page, _h = await get(session, world.url(f"/clients/{code}"))
        token = csrf_of(page)
        async with session.post(plan_url, data={"plan": new_plan}) as refused:
            assert refused.status == 403
        async with session.post(plan_url, data={"plan": new_plan,
                                                "csrf_token": "x" * 32}) as refused:
            assert refused.status == 403
        async with world.store.unit_of_work() as uow:
            assert "Ring Ana" not in (await uow.plans.get(world.client.id)).coping_steps
        async with session.post(plan_url, data={"plan": "just some words",
                                                "csrf_token": token}) as bad:
            assert bad.status == 400
            assert "The plan was not saved" in await bad.text()
        async with session.post(plan_url, data={"plan": new_plan,
                                                "csrf_token": token}) as saved:
            assert saved.status == 200 and saved.url.query.get("plan") == "saved"
            page = await saved.text()
        assert "Plan saved." in page and "Ring Ana" in page
    finally:
        await session.close()
    async with world.store.unit_of_work() as uow:
        plan = await uow.plans.get(world.client.id)
        notices = (await uow.session.scalars(select(OutboxRow).where(
            OutboxRow.chat_index == await uow.vault.telegram_index(world.client.telegram_id),
            OutboxRow.kind == "notice"))).all()
    assert plan.coping_steps == ("Ring Ana", "Walk the dog")
    assert plan.warning_signs  # a section left out keeps what it had
    assert len(notices) == 1  # the client is told, once, as /plan tells them


async def test_another_clinicians_client_is_not_found(world: World) -> None:
    session = await signed_in(world, world.ortiz)
    try:
        _s, page, _h = await get(session, world.url("/caseload"))
        token = csrf_of(page)
        answers = []
        for code in (world.client.code, "ZZZ-99", "forged%20code"):
            for path in (f"/clients/{code}", f"/clients/{code}/journal?q=sponsor"):
                status, page, _h = await get(session, world.url(path))
                answers.append((status, visible_text(page).split("Steadfast")[-1]))
            async with session.post(world.url(f"/clients/{code}/plan"),
                                    data={"plan": "Coping steps:\n- x",
                                          "csrf_token": token}) as posted:
                answers.append((posted.status, visible_text(await posted.text())
                                .split("Steadfast")[-1]))
        assert {status for status, _p in answers} == {404}
        assert len({body for _s, body in answers}) == 1  # word for word the same page
        status, _page, _h = await get(session, world.url(f"/clients/{world.other.code}"))
        assert status == 200  # their own client opens
    finally:
        await session.close()
    async with world.store.unit_of_work() as uow:
        plan = await uow.plans.get(world.client.id)
        events = await audit.events(uow.session, uow.vault, client_id=world.client.id)
    assert "x" not in plan.coping_steps
    assert not any(e.actor == f"clinician:{world.ortiz.id}" for e in events)


async def test_a_spanish_speaking_clinician_reads_the_page_in_spanish(world: World) -> None:
    async with world.store.transaction() as uow:
        await uow.session.execute(update(ClinicianRow).where(ClinicianRow.id == world.lane.id)
                                  .values(language="es", timezone="America/Mexico_City"))
    session = await signed_in(world, world.lane)
    try:
        status, page, _h = await get(session, world.url(f"/clients/{world.client.code}"))
    finally:
        await session.close()
    assert status == 200 and '<html lang="es">' in page
    text = visible_text(page)
    for words in ("Cliente", "Indicador general", "Diario", "Plan de prevención de recaídas",
                  "Recepción confirmada por Dr Lane"):
        assert words in text, words
    assert "CST" in text and "CET" not in text  # times in the viewer's zone, labelled
    assert times_without_zone(text) == []


async def test_notes_are_added_never_replaced_and_each_shows_its_author(
        world: World, clock: FakeClock) -> None:
    """The issue's case: a supervisor acknowledging, from a page loaded before, an alert
    Dr Lane already acknowledged with a note; then a later note from the alerts page."""
    first, second, third = ("Phoned the client at once.", "Agreed the plan with Dr Lane.",
                            "Visit booked for Monday.")
    sup = await make_clinician(world.store, clock, 503, role="supervisor", name="Dr Sup")
    async with world.store.transaction() as uow:
        alert = await uow.alerts.add(client_id=world.client.id, checkin_id=None, level="high",
                                     detail={"reasons": ["GENERAL_INDICATOR"]},
                                     now=clock.now() - timedelta(minutes=30),
                                     next_escalation_at=None)
        await uow.alerts.acknowledge(alert.id, by=world.lane.id, now=clock.now())
        await uow.alerts.add_note(alert.id, world.client.id, first, by=world.lane.id,
                                  now=clock.now())
    session = await signed_in(world, sup)
    try:
        _, page, _ = await get(session, world.url("/alerts"))
        token = csrf_of(page)
        clock.advance(minutes=5)
        async with session.post(world.url(f"/alerts/{alert.id}/acknowledge"),
                                data={"csrf_token": token, "note": second}) as answer:
            assert answer.status == 200 and answer.url.path == "/alerts"
        clock.advance(minutes=5)
        async with session.post(world.url(f"/alerts/{alert.id}/notes"),
                                data={"csrf_token": token, "note": third}) as answer:
            assert answer.status == 200 and answer.url.path == "/alerts"
            page = await answer.text()
        assert "Note added." in visible_text(page)
        found = re.search(rf'<article aria-labelledby="h-{alert.id}">(.*?)</article>', page,
                          flags=re.S)
        assert found, "the alert is not listed among the acknowledged"
        text = visible_text(found.group(1))
        lines = [" ".join(line.split()) for line in text.splitlines() if line.strip()]
        authors = [line for line in lines if line.startswith("Note by ")]
        assert [a.split(",")[0] for a in authors] == ["Note by Dr Lane", "Note by Dr Sup",
                                                     "Note by Dr Sup"]
        assert all("Madrid" in a or "CET" in a or "CEST" in a or "UTC" in a for a in authors)
        at = text.index
        assert at(first) < at(second) < at(third)
    finally:
        await session.close()
    session = await signed_in(world, world.lane)
    try:
        _, page, _ = await get(session, world.url(f"/clients/{world.client.code}"))
        text = visible_text(page)
        item = text[text.index(first) - 200:text.index(third) + len(third)]
        flat = " ".join(item.split())
        assert "Dr Lane, " in flat and f"{first}" in flat
        assert flat.count("Note by Dr Sup,") == 2 and second in flat and third in flat
    finally:
        await session.close()
    async with world.store.unit_of_work() as uow:
        events = [e for e in await uow.audit_events(limit=1000) if e.action == "alert.note"]
    assert [e.detail for e in events][-2:] == [f"note 2 added to alert {alert.id}",
                                               f"note 3 added to alert {alert.id}"]


async def test_a_search_finds_check_in_notes_and_situations_in_both_languages(
        world: World) -> None:
    code = world.client.code
    newest_note = max(world.seeded.notes.items())
    newest_situation = max(world.seeded.situations.items())
    for language, note_word, situation_word in (("en", "Check-in note", "High-risk situation"),
                                                ("es", "Nota del registro", "Situación de riesgo")):
        async with world.store.transaction() as uow:
            await uow.session.execute(update(ClinicianRow).where(
                ClinicianRow.id == world.lane.id).values(language=language))
        session = await signed_in(world, world.lane)
        try:
            for query, (day, text), word in (("Ana", newest_note, note_word),
                                             ("park", newest_situation, situation_word)):
                status, page, _h = await get(
                    session, world.url(f"/clients/{code}/journal?q={query}"))
                assert status == 200
                found = re.findall(r'<h3 class="when">(.*?)</h3>\s*<p class="entry">(.*?)</p>',
                                   page, flags=re.S)
                assert found, (language, query)
                heading, first = found[0]
                assert html.unescape(first) == text and word in visible_text(heading)
                assert day.isoformat() in heading
                assert all(word in visible_text(h) for h, _t in found)
        finally:
            await session.close()
