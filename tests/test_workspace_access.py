"""The workspace's sign-in rules on both databases: tokens kept only as hashes, a link used
once, and sessions that end when a staff member is deactivated or changes role. And the
admin commands and a bot without the workspace never load Jinja2."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import socket
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from journal.administration import AdminService
from journal.clock import FakeClock
from journal.web_access import NewSession, WebAccess
from storage.crypto import MasterKeyring
from storage.models import WebInitDataRow, WebSessionRow, WebSignInRow
from storage.uow import Store
from tests.conftest import Database
from tests.e2e import bot_settings, eventually
from tests.helpers import make_clinician
from tests.test_workspace_client import signed_in, world  # noqa: F401 (the fixture, by name)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def access(clock: FakeClock) -> WebAccess:
    return WebAccess(clock=clock, idle=timedelta(minutes=15), limit=timedelta(hours=8))


async def test_a_link_is_192_bits_kept_as_its_hash_and_works_once(
        store: Store, clock: FakeClock) -> None:
    lane = await make_clinician(store, clock, telegram_id=7001)
    web = access(clock)
    async with store.transaction() as uow:
        token = await web.new_link(uow, lane)
    assert len(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))) == 24
    async with store.unit_of_work() as uow:
        stored = (await uow.session.execute(select(WebSignInRow.token_hash))).scalars().all()
    assert stored == [hashlib.sha256(token.encode()).hexdigest()]
    async with store.transaction() as uow:
        session = await web.use_link(uow, token)
    assert session is not None and session.clinician.id == lane.id
    async with store.transaction() as uow:
        assert await web.use_link(uow, token) == "used_token"
    async with store.unit_of_work() as uow:
        row = (await uow.session.execute(select(WebSessionRow.token_hash,
                                                WebSessionRow.csrf_hash))).one()
    assert row.token_hash == hashlib.sha256(session.token.encode()).hexdigest()
    assert row.csrf_hash == hashlib.sha256(session.csrf_token.encode()).hexdigest()
    assert session.token not in (row.token_hash, row.csrf_hash)


async def test_mini_app_init_data_signs_in_once_even_when_two_instances_race(
        store: Store, clock: FakeClock) -> None:
    lane = await make_clinician(store, clock, telegram_id=7001)
    web = access(clock)
    signed_at = clock.now()

    async def sign_in() -> object:
        async with store.transaction() as uow:
            return await web.use_init_data(uow, telegram_id=lane.telegram_id,
                                           signature="ab" * 32, signed_at=signed_at)

    # Two instances given the same initData at once: one session, one replay.
    results = await asyncio.gather(sign_in(), sign_in())
    assert sorted(map(type, results), key=str) == sorted([NewSession, str], key=str)
    assert "replayed_init_data" in results
    async with store.unit_of_work() as uow:
        kept = (await uow.session.execute(select(WebInitDataRow.hash_digest))).scalars().all()
        sessions = (await uow.session.execute(select(WebSessionRow.id))).scalars().all()
    assert kept == [hashlib.sha256(("ab" * 32).encode()).hexdigest()] and len(sessions) == 1
    # Once it has expired it is refused as too old, and its row goes at the next sign-in.
    clock.advance(minutes=5, seconds=1)
    assert await sign_in() == "stale_init_data"
    async with store.transaction() as uow:
        assert isinstance(await web.use_init_data(
            uow, telegram_id=lane.telegram_id, signature="cd" * 32,
            signed_at=clock.now()), NewSession)
    async with store.unit_of_work() as uow:
        kept = (await uow.session.execute(select(WebInitDataRow.hash_digest))).scalars().all()
    assert kept == [hashlib.sha256(("cd" * 32).encode()).hexdigest()]


async def test_sessions_end_at_their_absolute_limit_even_when_in_use(
        store: Store, clock: FakeClock) -> None:
    lane = await make_clinician(store, clock, telegram_id=7001)
    web = access(clock)
    async with store.transaction() as uow:
        session = await web.use_telegram(uow, lane.telegram_id)
    assert session is not None
    for _ in range(8 * 6 - 1):  # every ten minutes for 7 h 50 min
        clock.advance(minutes=10)
        async with store.transaction() as uow:
            assert await web.session(uow, session.token) is not None
    clock.advance(minutes=10)
    async with store.transaction() as uow:
        assert await web.session(uow, session.token) is None


async def test_deactivating_or_demoting_staff_ends_their_sessions(
        store: Store, clock: FakeClock) -> None:
    admin = AdminService(store=store, clock=clock)
    lane = await make_clinician(store, clock, telegram_id=7001)
    boss = await make_clinician(store, clock, telegram_id=7002, role="supervisor")
    web = access(clock)
    async with store.transaction() as uow:
        lanes = await web.use_telegram(uow, lane.telegram_id)
        bosses = await web.use_telegram(uow, boss.telegram_id)
    assert lanes is not None and bosses is not None

    await admin.set_clinician_role(telegram_id=boss.telegram_id, supervisor=False)
    async with store.transaction() as uow:
        assert await web.session(uow, bosses.token) is None
        assert await web.session(uow, lanes.token) is not None
        assert await web.use_telegram(uow, boss.telegram_id) is not None  # a clinician now

    await admin.deactivate_clinician(telegram_id=lane.telegram_id)
    async with store.transaction() as uow:
        assert await web.session(uow, lanes.token) is None
        assert await web.use_telegram(uow, lane.telegram_id) is None
        events = [e.action for e in await uow.audit_events()]
    assert {"clinician.role", "clinician.deactivate", "web.sessions_ended"} <= set(events)


def test_admin_commands_and_a_bot_without_the_workspace_do_not_load_jinja2(
        tmp_path: Path) -> None:
    probe = ("import sys; from cli import main\n"
             "for args in (['clinician', 'list', '--help'], ['web', '--help']):\n"
             "    try:\n        main(args)\n    except SystemExit:\n        pass\n"
             "from bot.dispatcher import build_app\n"
             "from app.settings import Settings\n"
             "from storage.crypto import MasterKeyring\n"
             "keys = ','.join(MasterKeyring.generate().dump().splitlines()[1:])\n"
             "app = build_app(Settings(_env_file=None, bot_token='1:A', master_keys=keys,\n"
             "    database_url='sqlite+aiosqlite:///' + sys.argv[1]))\n"
             "print(sorted(m for m in ('jinja2', 'aiohttp_jinja2') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe, str(tmp_path / "x.db")],
                         capture_output=True, text=True, cwd=tmp_path, timeout=60,
                         env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])})
    assert out.stdout.strip().endswith("[]"), out.stdout + out.stderr
    assert "--port" in out.stdout


async def test_with_a_webhook_the_workspace_shares_its_server_and_offers_the_mini_app(
        emulator: Any, sqlite_database: Database, ring: MasterKeyring, clock: FakeClock) -> None:
    from bot.intake import WebhookConfig
    from process.run import run_bot

    store = Store.open(sqlite_database.url, ring)
    await make_clinician(store, clock, telegram_id=7001)
    emulator.person(7001, "Lane")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    config = WebhookConfig(host="127.0.0.1", port=port, path="/hook",
                           secret="s3cret-token-for-tests_0123", public_url=f"{base}/hook")
    settings = bot_settings(emulator, sqlite_database.url, ring,
                            web_public_url="https://workspace.clinic.example")
    stop, ready = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(run_bot(settings, webhook=config, stop=stop, clock=clock,
                                       migrate=False, handle_signals=False, ready=ready))
    try:
        await asyncio.wait_for(ready.wait(), 30)
        await emulator.send_text(7001, "/workspace")  # pushed to the webhook
        reply = await emulator.wait_for_message(7001, contains="/sign-in/")
        assert "https://workspace.clinic.example/sign-in/" in reply.text
        assert reply.button_texts == ["Open the workspace"]
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}/caseload") as response:
                assert response.status == 401
                assert "Send /workspace" in await response.text()
                assert response.headers["Cache-Control"] == "no-store"
            async with http.get(f"{base}/webapp") as response:
                assert response.status == 200
                assert "frame-ancestors https://web.telegram.org" in response.headers[
                    "Content-Security-Policy"]
                assert response.headers["Strict-Transport-Security"] == "max-age=31536000"
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
        await store.close()


async def test_steadfast_web_serves_the_workspace_alone(
        sqlite_database: Database, ring: MasterKeyring, clock: FakeClock) -> None:
    from app.settings import Settings
    from process.web import run_web

    settings = Settings(_env_file=None, bot_token="123456:T", database_url=sqlite_database.url,  # type: ignore[call-arg]
                        master_keys=",".join(ring.dump().splitlines()[1:]))
    port = free_port()
    stop = asyncio.Event()
    task = asyncio.create_task(run_web(settings, "127.0.0.1", port, stop=stop, clock=clock,
                                       handle_signals=False))
    try:
        async with aiohttp.ClientSession() as http:
            async def answer() -> int:
                try:
                    async with http.get(f"http://127.0.0.1:{port}/nowhere") as response:
                        return response.status
                except aiohttp.ClientConnectionError:
                    return 0
            assert await eventually(answer, timeout=30) == 404
            async with http.get(f"http://127.0.0.1:{port}/caseload",
                                allow_redirects=False) as response:
                assert response.status == 401
                assert "Traceback" not in await response.text()
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


ALERT_FILTERS = ("/alerts", "/alerts?state=open", "/alerts?state=acknowledged",
                 *(f"/alerts?level={level}" for level in ("critical", "high", "elevated")),
                 *(f"/alerts?level={level}&state={state}" for level in
                   ("critical", "high", "elevated") for state in ("open", "acknowledged")))


async def test_filtered_alert_pages_never_list_another_clinicians_alerts(
        world: Any) -> None:  # noqa: F811 (the client page's world, by name)
    """Every filtered /alerts URL, signed out, as the owner and as another clinician: the
    other clinician's pages never name the client, whatever the filter."""
    code = world.client.code
    async with aiohttp.ClientSession() as stranger:
        for path in ALERT_FILTERS:
            async with stranger.get(world.url(path), allow_redirects=False) as answer:
                assert answer.status == 401, path
    seen = []
    for clinician, theirs in ((world.lane, True), (world.ortiz, False)):
        session = await signed_in(world, clinician)
        try:
            for path in ALERT_FILTERS:
                async with session.get(world.url(path)) as answer:
                    assert answer.status == 200, path
                    shown = code in await answer.text()
                if not theirs:
                    assert not shown, path
                seen.append(shown)
        finally:
            await session.close()
    assert any(seen)  # the owner's pages do list the client's alerts
# Who reaches which page: a page beyond someone's access answers as an unknown one does.
ACCESS_MATRIX = [
    ("/program", "supervisor", 200),
    ("/program", "clinician", 404),
    ("/program", None, 401),
    *((page, role, status) for page in ("/program/figures", "/program/figures.csv",
                                        "/program/figures?weeks=4&months=2",
                                        "/program/export")
      for role, status in (("supervisor", 200), ("clinician", 404), (None, 401))),
    ("/approvals", "supervisor", 200),
    ("/approvals", "clinician", 404),
    ("/approvals", None, 401),
    *((page, role, 200) for page in ("/caseload", "/alerts", "/alerts?state=acknowledged")
      for role in ("clinician", "supervisor")),
    *((page, None, 401) for page in ("/caseload", "/alerts", "/alerts?state=acknowledged")),
    # A client's one-page "since" PDF: no client by that code is the unknown page.
    *(("/clients/NOSUCH/since.pdf", role, 404) for role in ("clinician", "supervisor")),
    ("/clients/NOSUCH/since.pdf", None, 401),
    # A client's plan history: signed out asked to sign in; a code not in one's caseload
    # (here, none exists) is the unknown page (the owner's view: test_workspace_plan.py).
    ("/clients/ZZZ-99/plan/history", None, 401),
    ("/clients/ZZZ-99/plan/history", "clinician", 404),
    ("/clients/ZZZ-99/plan/history", "supervisor", 404),
    # A supervising officer: their own page, and every other one as an unknown page.
    ("/supervisees", "officer", 200),
    ("/supervisees", "clinician", 404),
    ("/supervisees", "supervisor", 404),
    ("/supervisees", None, 401),
    ("/progress/0123456789abcdef0123456789abcdef", "officer", 404),  # not theirs: unknown
    ("/progress/0123456789abcdef0123456789abcdef", "clinician", 404),
    ("/progress/0123456789abcdef0123456789abcdef", None, 401),
    *((page, "officer", 404) for page in ("/caseload", "/alerts", "/alerts?state=acknowledged",
                                          "/program", "/clients/ABC-23",
                                          "/clients/ABC-23/journal", "/reports/ABC-23")),
    # A client's appointments: an unknown code is the unknown page (whose client it is
    # is tried in test_appointments_are_their_clinicians_and_a_supervisors_alone).
    ("/clients/ZZZ-ZZ/appointments", "clinician", 404),
    ("/clients/ZZZ-ZZ/appointments", "supervisor", 404),
    ("/clients/ZZZ-ZZ/appointments", None, 401),
    ("/clients/ZZZ-ZZ/homework", "clinician", 404),
    ("/clients/ZZZ-ZZ/homework", None, 401),
    ("/homework/0123456789abcdef0123456789abcdef", "clinician", 404),
    ("/homework/0123456789abcdef0123456789abcdef", "supervisor", 404),
    ("/homework/0123456789abcdef0123456789abcdef", None, 401),
    *(("/groups", role, 200) for role in ("clinician", "supervisor")),
    ("/groups", None, 401),
    *((f"/groups/{'0' * 32}{tail}", role, 404) for tail in ("", "/sheet",
                                                             "/sessions/202603021000")
      for role in ("clinician", "supervisor")),
    (f"/groups/{'0' * 32}/sheet", None, 401),
    *(("/calendar", role, 200) for role in ("clinician", "supervisor")),
    ("/calendar", None, 401),
    # The feed is read without signing in: its URL is the secret; an unknown one is 404.
    ("/calendar/not-a-token.ics", None, 404),
    ("/calendar/not-a-token.ics", "clinician", 404),
]


@pytest.mark.parametrize(("path", "role", "status"), ACCESS_MATRIX)
async def test_the_access_matrix(path: str, role: str | None, status: int, tmp_path: Path,
                                 sqlite_database: Database, clock: FakeClock) -> None:
    from aiohttp.test_utils import TestServer

    from app.composition import build_services
    from app.server import build_server
    from app.settings import Settings
    from web.routes import workspace

    ring = MasterKeyring.generate()
    ring.create_file(key := tmp_path / "steadfast.key")
    settings = Settings(_env_file=None, bot_token="123456:T",  # type: ignore[call-arg]
                        database_url=sqlite_database.url, master_key_file=key, web_port=8081)
    store = Store.open(sqlite_database.url, ring)
    services = build_services(settings, store, clock)
    server = TestServer(build_server([workspace(services)]), host="127.0.0.1")
    await server.start_server()
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            if role is not None:
                person = await make_clinician(store, clock, telegram_id=7001, role=role)
                async with store.transaction() as uow:
                    token = await services.web_access.new_link(uow, person)
                async with http.post(server.make_url("/sign-in"), data={"token": token},
                                     headers={"Sec-Fetch-Site": "same-origin"}) as used:
                    assert used.url.path == ("/supervisees" if role == "officer"
                                             else "/caseload")
            async with http.get(server.make_url(path), allow_redirects=False) as answer:
                assert answer.status == status
            if status == 404:  # the very page an unknown address gives
                async with http.get(server.make_url(path)) as answer:
                    shown = await answer.text()
                async with http.get(server.make_url("/no-such-page")) as answer:
                    unknown = await answer.text()
                assert shown.split("<main")[1] == unknown.split("<main")[1]
    finally:
        await server.close()
        await store.close()


async def test_an_officer_sees_their_supervisees_page_and_no_clinician_page(
        world: Any, clock: FakeClock) -> None:  # noqa: F811 (the client page's world, by name)
    """Officer Reyes signs in with a link like staff do: /supervisees lists the client who
    agreed (counts and levels, not a word of theirs) and not the other; every clinician
    page, about either client, is the unknown page."""
    from journal.sharing import SharingService

    admin = AdminService(store=world.store, clock=clock)
    reyes = await admin.add_clinician(telegram_id=7501, name="Officer Reyes", role="officer")
    sharing = SharingService(clock=clock)
    async with world.store.transaction() as uow:
        agreement, client, _ = await sharing.propose(
            uow, code=world.client.code, officer_telegram_id=7501, by=world.lane)
        await sharing.answer(uow, client, agreement.id, agree=True)
    session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    try:
        from web.context import SERVICES_KEY

        async with world.store.transaction() as uow:
            token = await world.server.app[SERVICES_KEY].web_access.new_link(uow, reyes)
        async with session.post(world.url("/sign-in"), data={"token": token},
                                headers={"Sec-Fetch-Site": "same-origin"}) as used:
            assert used.status == 200 and used.url.path == "/supervisees"
            listed = await used.text()
        assert world.client.code in listed and world.other.code not in listed
        assert "/caseload" not in listed  # the officer's own navigation
        async with session.get(world.url("/no-such-page")) as answer:
            unknown = (await answer.text()).split("<main")[1]
        for code in (world.client.code, world.other.code):
            for path in (f"/clients/{code}", f"/clients/{code}/journal", f"/reports/{code}",
                         "/caseload", "/alerts", "/program"):
                async with session.get(world.url(path)) as answer:
                    assert answer.status == 404, path
                    assert (await answer.text()).split("<main")[1] == unknown, path
        for path in (f"/clients/{world.client.code}/team", f"/clients/{world.client.code}/plan",
                     "/alerts/x/acknowledge", "/alerts/x/notes"):
            async with session.post(world.url(path), data={"officer": "7501"}) as answer:
                assert answer.status == 404, path
        async with world.store.unit_of_work() as uow:
            viewed = [e for e in await uow.audit_events(client_id=world.client.id)
                      if e.action == "officer.view"]
        assert [e.actor for e in viewed] == [f"clinician:{reyes.id}"]
    finally:
        await session.close()


async def test_the_client_page_shows_the_team_and_proposes_from_the_form(
        world: Any, clock: FakeClock) -> None:  # noqa: F811 (the client page's world, by name)
    """The clinician proposes from the client page (with the CSRF token), sees the proposal
    and its history; another clinician's form, or one without the token, changes nothing;
    an officer cannot post it at all."""
    from tests.test_workspace_client import csrf_of

    admin = AdminService(store=world.store, clock=clock)
    reyes = await admin.add_clinician(telegram_id=7501, name="Officer Reyes", role="officer")
    code = world.client.code
    lane = await signed_in(world, world.lane)
    ortiz = await signed_in(world, world.ortiz)
    try:
        async with lane.get(world.url(f"/clients/{code}")) as answer:
            shown = await answer.text()
        assert "Nothing is shared with anyone outside the clinic." in shown
        assert "Officer Reyes" in shown  # offered in the form
        token = csrf_of(shown)
        async with lane.post(world.url(f"/clients/{code}/team"),
                             data={"officer": "7501"}) as answer:
            assert answer.status == 403  # no CSRF token
        async with ortiz.post(world.url(f"/clients/{code}/team"),
                              data={"officer": "7501", "csrf_token": token}) as answer:
            assert answer.status in (403, 404)  # not their token, not their client
        async with world.store.unit_of_work() as uow:
            assert await uow.sharing.of_client(world.client.id) == []
        async with lane.post(world.url(f"/clients/{code}/team"),
                             data={"officer": "7501", "csrf_token": token},
                             headers={"Origin": world.url("").rstrip("/")}) as answer:
            assert answer.status == 200 and answer.url.query.get("team") == "proposed"
            shown = await answer.text()
        assert "waiting for the client&#39;s answer" in shown or \
            "waiting for the client's answer" in shown
        assert "proposed to the client" in shown
        async with world.store.unit_of_work() as uow:
            proposals = await uow.sharing.of_client(world.client.id)
        assert [(p.officer_id, p.status) for p in proposals] == [(reyes.id, "proposed")]
    finally:
        await lane.close()
        await ortiz.close()


async def test_an_officer_reads_and_acknowledges_a_progress_report_in_the_workspace(
        world: Any, clock: FakeClock) -> None:  # noqa: F811 (the client page's world, by name)
    from journal.progress import ProgressService
    from journal.sharing import SharingService
    from tests.test_workspace_client import csrf_of

    admin = AdminService(store=world.store, clock=clock)
    reyes = await admin.add_clinician(telegram_id=7501, name="Officer Reyes", role="officer")
    ross = await admin.add_clinician(telegram_id=7502, name="Officer Ross", role="officer")
    sharing = SharingService(clock=clock)
    progress = ProgressService(clock=clock, sharing=sharing)
    async with world.store.transaction() as uow:
        agreement, client, _ = await sharing.propose(
            uow, code=world.client.code, officer_telegram_id=7501, by=world.lane)
        await sharing.answer(uow, client, agreement.id, agree=True)
        assert await progress.make_drafts(uow, clock.now().date().replace(day=1)) == 1
        await progress.send(uow, world.lane, world.client.code, "Attends every group.")
        report_id = (await uow.progress.latest(agreement.id)).id  # type: ignore[union-attr]
    from web.context import SERVICES_KEY

    async def officer_session(officer: Any) -> aiohttp.ClientSession:
        session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        async with world.store.transaction() as uow:
            token = await world.server.app[SERVICES_KEY].web_access.new_link(uow, officer)
        async with session.post(world.url("/sign-in"), data={"token": token},
                                headers={"Sec-Fetch-Site": "same-origin"}) as used:
            assert used.url.path == "/supervisees"
        return session

    mine, other, lane = (await officer_session(reyes), await officer_session(ross),
                         await signed_in(world, world.lane))
    try:
        async with mine.get(world.url("/supervisees")) as answer:
            assert f"/progress/{report_id}" in await answer.text()
        async with mine.get(world.url(f"/progress/{report_id}")) as answer:
            assert answer.status == 200
            shown = await answer.text()
        assert "Attends every group." in shown and "leaves out" in shown
        for session in (other, lane):
            async with session.get(world.url(f"/progress/{report_id}")) as answer:
                assert answer.status == 404
        async with mine.post(world.url(f"/progress/{report_id}/acknowledge"),
                             data={"csrf_token": csrf_of(shown)},
                             headers={"Origin": world.url("").rstrip("/")}) as answer:
            assert answer.status == 200 and "Receipt acknowledged." in await answer.text()
        async with world.store.unit_of_work() as uow:
            actions = [e.action for e in await uow.audit_events(client_id=world.client.id)]
        assert "progress.acknowledge" in actions
    finally:
        for session in (mine, other, lane):
            await session.close()


async def test_appointments_are_their_clinicians_and_a_supervisors_alone(
        world: Any, clock: FakeClock) -> None:  # noqa: F811 (the fixture)
    """The appointments page, its form and the attendance: the client's own clinician and a
    supervisor; another clinician gets the unknown page, a stranger the sign-in."""
    from tests.test_workspace_client import csrf_of

    code = world.client.code
    page_url = world.url(f"/clients/{code}/appointments")
    day = (clock.now() + timedelta(days=3)).date().isoformat()
    async with aiohttp.ClientSession() as stranger, stranger.get(
            page_url, allow_redirects=False) as answer:
        assert answer.status == 401
    boss = await make_clinician(world.store, clock, telegram_id=503, name="Dr Boss",
                                role="supervisor")
    lane = await signed_in(world, world.lane)
    ortiz = await signed_in(world, world.ortiz)
    chief = await signed_in(world, boss)
    try:
        async with lane.get(page_url) as answer:
            assert answer.status == 200
            token = csrf_of(await answer.text())
        form = {"csrf_token": token, "kind": "court", "date": day, "time": "09:30",
                "place": "Juzgado 3"}
        async with lane.post(page_url, data={**form, "csrf_token": "forged"}) as refused:
            assert refused.status == 403
        async with lane.post(page_url, data={**form, "date": "2001-01-01"}) as kept:
            assert kept.status == 400 and "was not saved" in await kept.text()
        async with lane.post(page_url, data=form) as saved:
            assert saved.status == 200 and saved.url.query.get("saved") == "1"
            assert "Juzgado 3" in await saved.text()
        async with chief.get(page_url) as answer:
            assert answer.status == 200 and "Juzgado 3" in await answer.text()
        async with ortiz.get(page_url) as answer:
            other_page = await answer.text()
            assert answer.status == 404 and "Juzgado" not in other_page
        async with ortiz.get(world.url("/clients/ZZZ-ZZ/appointments")) as answer:
            assert other_page.split("<main")[1] == (await answer.text()).split("<main")[1]
        async with world.store.unit_of_work() as uow:
            made = (await uow.appointments.of_client(world.client.id))[0]
        clock.advance(timedelta(days=4))  # the appointment has begun; sign in afresh
        for session in (lane, ortiz):
            await session.close()
        lane = await signed_in(world, world.lane)
        ortiz = await signed_in(world, world.ortiz)
        async with lane.get(page_url) as answer:
            token = csrf_of(await answer.text())
        async with ortiz.get(world.url("/caseload")) as answer:
            their_token = csrf_of(await answer.text())
        async with ortiz.post(page_url, data={**form, "csrf_token": their_token}) as answer:
            assert answer.status == 404
        mark_url = world.url(f"/appointments/{made.id}/attendance")
        async with ortiz.post(mark_url, data={"csrf_token": their_token,
                                              "mark": "no_show"}) as answer:
            assert answer.status == 404
        async with lane.post(mark_url, data={"csrf_token": token, "mark": "nonsense"}) as answer:
            assert answer.status == 400
        async with lane.post(mark_url, data={"csrf_token": token, "mark": "late"}) as answer:
            assert answer.status == 200 and "late" in await answer.text()
        async with world.store.unit_of_work() as uow:
            made = (await uow.appointments.of_client(world.client.id))[0]
            assert made.attendance == "late"
            actions = [e.action for e in await uow.audit_events(client_id=world.client.id)]
        assert {"appointment.add", "appointment.view", "appointment.attendance"} <= set(actions)
    finally:
        for session in (lane, ortiz, chief):
            await session.close()


async def test_homework_is_read_and_marked_by_its_clinician_and_a_supervisor_alone(
        world: Any, clock: FakeClock) -> None:  # noqa: F811 (the fixture)
    """A client's homework pages: the owner and a supervisor read the answer (audited) and
    mark it discussed; another clinician gets the unknown page; the caseload counts what is
    overdue."""
    from journal.homework import HomeworkRequest
    from tests.test_workspace_client import csrf_of
    from web.context import SERVICES_KEY

    service = world.server.app[SERVICES_KEY].homework
    code, other_code = world.client.code, world.other.code
    due = (clock.now() + timedelta(days=2)).date()
    async with world.store.transaction() as uow:
        [(_c, task)] = await service.assign(uow, world.lane, HomeworkRequest(
            (code,), "anger_log", due))
        [(_c, missed)] = await service.assign(uow, world.lane, HomeworkRequest(
            (code,), "own", due - timedelta(days=1), "Write about the weekend."))
        await service.start(uow, world.client, task.id)
        await service.append(uow, world.client, "I shouted at the bus driver.")
        await service.finish(uow, world.client, task.id)
    clock.advance(timedelta(days=2))  # the own task is overdue now
    boss = await make_clinician(world.store, clock, telegram_id=503, name="Dr Boss",
                                role="supervisor")
    lane = await signed_in(world, world.lane)
    ortiz = await signed_in(world, world.ortiz)
    chief = await signed_in(world, boss)
    one_url = world.url(f"/homework/{task.id}")
    try:
        async with aiohttp.ClientSession() as stranger, stranger.get(
                one_url, allow_redirects=False) as answer:
            assert answer.status == 401
        async with lane.get(world.url(f"/clients/{code}/homework")) as answer:
            listing = await answer.text()
            assert answer.status == 200 and "Anger log" in listing and "missing" in listing
            assert "bus driver" not in listing  # the list opens no answer
        async with lane.get(world.url("/caseload")) as answer:
            caseload = await answer.text()
            assert f'href="/clients/{code}/homework"' in caseload
        async with chief.get(one_url) as answer:
            assert answer.status == 200 and "bus driver" in await answer.text()
        async with ortiz.get(one_url) as answer:
            refused = await answer.text()
            assert answer.status == 404 and "bus driver" not in refused
        async with ortiz.get(world.url("/homework/0123456789abcdef0123456789abcdef")) as answer:
            assert refused.split("<main")[1] == (await answer.text()).split("<main")[1]
        async with ortiz.get(world.url(f"/clients/{code}/homework")) as answer:
            assert answer.status == 404
        async with ortiz.get(world.url(f"/clients/{other_code}/homework")) as answer:
            assert answer.status == 200 and "No homework given yet." in await answer.text()
            their_token = csrf_of(await answer.text())
        async with ortiz.post(world.url(f"/homework/{task.id}/discussed"),
                              data={"csrf_token": their_token}) as answer:
            assert answer.status == 404
        async with lane.get(one_url) as answer:
            token = csrf_of(await answer.text())
        async with lane.post(world.url(f"/homework/{task.id}/discussed"),
                             data={"csrf_token": token}) as answer:
            assert answer.status == 200 and "Mark as discussed" not in await answer.text()
        async with world.store.unit_of_work() as uow:
            assert (await uow.homework.get(task.id)).discussed_at is not None  # type: ignore[union-attr]
            assert (await uow.homework.get(missed.id)).status == "assigned"  # type: ignore[union-attr]
            actions = [e.action for e in await uow.audit_events(client_id=world.client.id)]
        assert actions.count("homework.read") >= 3 and "homework.discussed" in actions
    finally:
        for session in (lane, ortiz, chief):
            await session.close()
