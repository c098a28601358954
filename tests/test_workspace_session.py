"""A workspace session that lasts a therapy session, over real HTTP on a real SQLite store
with a fake clock: it ends after the idle time (an hour unless set), every page says when
and carries the warning the script reveals shortly before, "stay signed in" moves the end
on (only with the CSRF token), and the signed-out page speaks the clinician's language, or
the browser's when nobody is known."""

from __future__ import annotations

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
from journal.times import shown_time
from storage.crypto import MasterKeyring
from storage.records import Clinician
from storage.uow import Store
from tests.conftest import Database
from web.context import SERVICES_KEY
from web.routes import workspace


@dataclass
class World:
    store: Store
    server: TestServer
    clock: FakeClock
    lane: Clinician  # English
    ortiz: Clinician  # Spanish

    def url(self, path: str) -> str:
        return str(self.server.make_url(path))


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
                                         now=clock.now(), language="es")
    server = TestServer(build_server([workspace(build_services(settings, store, clock))]),
                        host="127.0.0.1")
    await server.start_server()
    try:
        yield World(store, server, clock, lane, ortiz)
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


async def page(session: aiohttp.ClientSession, url: str, **headers: str) -> tuple[int, str]:
    async with session.get(url, headers=headers, allow_redirects=False) as answer:
        return answer.status, await answer.text()


def csrf_of(text: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', text)
    assert found, "the page has no CSRF token"
    return found.group(1)


async def test_a_session_outlasts_a_therapy_session_and_ends_an_idle_hour_later(
        world: World) -> None:
    assert Settings.model_fields["web_session_idle_minutes"].default == 60
    session = await signed_in(world, world.lane)
    try:
        world.clock.advance(minutes=50)  # a whole therapy session without a click
        assert (await page(session, world.url("/caseload")))[0] == 200
        world.clock.advance(minutes=59)
        assert (await page(session, world.url("/caseload")))[0] == 200
        world.clock.advance(minutes=60)
        status, text = await page(session, world.url("/caseload"))
        assert status == 401 and "You are signed out" in text
        world.clock.advance(minutes=1)  # ended stays ended
        assert (await page(session, world.url("/caseload")))[0] == 401
    finally:
        await session.close()


async def test_every_page_says_when_the_session_ends_and_carries_the_warning(
        world: World) -> None:
    session = await signed_in(world, world.lane)
    try:
        world.clock.advance(minutes=7)
        status, text = await page(session, world.url("/caseload"))
        assert status == 200
        ends = shown_time(world.clock.now() + timedelta(minutes=60), "UTC")
        assert ends == "2026-03-02 10:07 UTC"
        # Without script: the header says it. With: the warning, hidden until 5 min before.
        assert f"Left idle, this session ends at {ends}." in text
        end = re.search(r'<p class="session-end" id="session-end" data-left="(\d+)" '
                        r'data-warn="(\d+)">', text)
        assert end is not None and end.groups() == ("3600", "300")
        warning = re.search(r'<div id="session-warning"[^>]*data-ends="([^"]+)" hidden>(.*?)'
                            r'</div>\s*<p data-session-over hidden>', text, re.S)
        assert warning is not None and warning.group(1) == ends
        assert f"Your session ends at {ends} unless you stay signed in." in warning.group(2)
        assert 'action="/session/stay"' in warning.group(2)
        assert "Stay signed in" in warning.group(2)
        assert re.search(r'<script src="/static/session\.js\?v=[^"]+" defer></script>', text)
        # Near the absolute limit (8 h) that limit is the end shown, however active.
        for _ in range(15):
            world.clock.advance(minutes=30)
            status, text = await page(session, world.url("/caseload"))
        assert "data-left=\"1380\"" in text  # 8 h after 09:00 is 17:00, 23 min from 16:37
        assert "this session ends at 2026-03-02 17:00 UTC." in text
    finally:
        await session.close()


async def test_stay_signed_in_moves_the_end_on_and_needs_the_csrf_token(world: World) -> None:
    session = await signed_in(world, world.lane)
    try:
        _, text = await page(session, world.url("/caseload"))
        csrf = csrf_of(text)
        world.clock.advance(minutes=57)  # the warning is up: three minutes left
        stay = world.url("/session/stay")
        same = {"Sec-Fetch-Site": "same-origin"}
        async with session.post(stay, data={"back": "/caseload"}, headers=same) as refused:
            assert refused.status == 403
        async with session.post(stay, data={"csrf_token": "forged", "back": "/caseload"},
                                headers=same) as refused:
            assert refused.status == 403
        async with session.post(stay, data={"csrf_token": csrf},
                                headers={"Sec-Fetch-Site": "cross-site"}) as refused:
            assert refused.status == 403
        # The script asks for JSON: the new end, an hour from now.
        async with session.post(stay, data={"csrf_token": csrf},
                                headers={**same, "Accept": "application/json"}) as stayed:
            assert stayed.status == 200
            assert await stayed.json() == {"left": 3600, "ends": "2026-03-02 10:57 UTC"}
        world.clock.advance(minutes=59)
        # Without script the form leads back to the page it was on, never off the site.
        async with session.post(stay, data={"csrf_token": csrf, "back": "/alerts"},
                                headers=same, allow_redirects=False) as stayed:
            assert stayed.status == 303 and stayed.headers["Location"] == "/alerts"
        async with session.post(stay, data={"csrf_token": csrf, "back": "//evil.example/x"},
                                headers=same, allow_redirects=False) as stayed:
            assert stayed.status == 303 and stayed.headers["Location"] == "/caseload"
        world.clock.advance(minutes=59)
        assert (await page(session, world.url("/caseload")))[0] == 200
    finally:
        await session.close()


async def test_the_signed_out_page_speaks_the_clinicians_language(world: World) -> None:
    session = await signed_in(world, world.ortiz)
    try:
        _, text = await page(session, world.url("/caseload"))
        assert "Cerrar sesión" in text
        async with session.post(world.url("/sign-out"), data={"csrf_token": csrf_of(text)},
                                headers={"Sec-Fetch-Site": "same-origin"}) as out:
            signed_out = await out.text()
        assert out.status == 200 and '<html lang="es">' in signed_out
        assert "Ha cerrado la sesión" in signed_out
        assert "Envíe /workspace al bot en Telegram para volver a entrar." in signed_out
        assert not session.cookie_jar.filter_cookies(world.server.make_url("/"))
    finally:
        await session.close()
    # Idle: the session that ended was hers, whatever the browser asks, then and after.
    session = await signed_in(world, world.ortiz)
    try:
        world.clock.advance(minutes=61)
        for _ in range(2):
            status, text = await page(session, world.url("/caseload"), **{
                "Accept-Language": "en-GB,en;q=0.9"})
            assert status == 401 and '<html lang="es">' in text
            assert "Ha cerrado la sesión" in text
    finally:
        await session.close()


async def test_nobody_known_the_signed_out_page_follows_the_browser(world: World) -> None:
    async with aiohttp.ClientSession() as browser:
        status, text = await page(browser, world.url("/caseload"),
                                  **{"Accept-Language": "es-ES,es;q=0.9,en;q=0.5"})
        assert status == 401 and '<html lang="es">' in text and "Ha cerrado la sesión" in text
        status, text = await page(browser, world.url("/caseload"),
                                  **{"Accept-Language": "de-DE,en;q=0.5"})
        assert status == 401 and '<html lang="en">' in text and "You are signed out" in text
    # An English clinician's ended session stays English for a Spanish browser.
    session = await signed_in(world, world.lane)
    try:
        world.clock.advance(minutes=61)
        status, text = await page(session, world.url("/caseload"), **{"Accept-Language": "es"})
        assert status == 401 and '<html lang="en">' in text
    finally:
        await session.close()
