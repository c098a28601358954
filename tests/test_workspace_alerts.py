"""The Open alerts page tells what a clinician needs to act: each alert's reasons (audited
as the chat's Details button is), its age, and where every copy truly stands: whom it
reached and when, or that the supervisor could not be reached (Telegram answered 400
"chat not found" for their chat). The client page's timeline says the same. Filters by
level and state are plain GET parameters, and anything else in them is a 400 page.

One bot per story, over real HTTP against the Bot API emulator, and the workspace served
from the same store, read in English and in Spanish."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from app.composition import build_services
from app.server import build_server
from journal.alerts.rules import Finding
from journal.clock import FakeClock
from storage.crypto import MasterKeyring
from storage.models import AlertCopyRow, OutboxRow
from storage.records import Client, Clinician
from storage.uow import Store
from tests.conftest import Database
from tests.e2e import InProcessBot, bot_settings, eventually
from tests.helpers import make_client, make_clinician
from tests.test_workspace_client import visible_text
from web.context import SERVICES_KEY
from web.routes import workspace

LANE, OTHER, SUP, GONE, CLIENT, OTHERS_CLIENT = 7001, 7003, 7002, 7004, 8001, 8003


async def sign_in(server: TestServer, store: Store, clinician: Clinician
                  ) -> aiohttp.ClientSession:
    access = server.app[SERVICES_KEY].web_access
    async with store.transaction() as uow:
        token = await access.new_link(uow, clinician)
    session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    async with session.get(server.make_url(f"/sign-in/{token}")) as shown:
        assert shown.status == 200
    async with session.post(server.make_url("/sign-in"), data={"token": token},
                            headers={"Sec-Fetch-Site": "same-origin"}) as used:
        assert used.status == 200 and used.url.path == "/caseload", used.url
    return session


async def read(session: aiohttp.ClientSession, server: TestServer, path: str
               ) -> tuple[int, str]:
    async with session.get(server.make_url(path)) as answer:
        return answer.status, visible_text(await answer.text())


def lines(text: str) -> list[str]:
    return [" ".join(line.split()) for line in text.splitlines() if line.strip()]


@pytest.fixture
async def story(emulator: Any, sqlite_database: Database, ring: MasterKeyring,
                clock: FakeClock) -> AsyncIterator[dict[str, Any]]:
    """Dr Lane's client raises a critical alert nobody acknowledges; it escalates to Dr Sup
    (reached) and to Dr Gone, whose chat Telegram does not know (never started the bot).
    Dr Other's client has an open high alert of their own."""
    store = Store.open(sqlite_database.url, ring)
    lane = await make_clinician(store, clock, telegram_id=LANE, name="Dr Lane")
    other = await make_clinician(store, clock, telegram_id=OTHER, name="Dr Other")
    sup = await make_clinician(store, clock, telegram_id=SUP, name="Dr Sup", role="supervisor")
    await make_clinician(store, clock, telegram_id=GONE, name="Dr Gone", role="supervisor")
    client = await make_client(store, clock, lane, telegram_id=CLIENT)
    others = await make_client(store, clock, other, telegram_id=OTHERS_CLIENT)
    for user, name in ((LANE, "Lane"), (OTHER, "Other"), (SUP, "Sup"), (CLIENT, "Sam"),
                       (OTHERS_CLIENT, "Kim")):
        emulator.person(user, name)
        await emulator.send_text(user, "/start")
    settings = bot_settings(emulator, sqlite_database.url, ring)
    services = build_services(settings, store, clock)
    bot = await InProcessBot(settings, clock=clock).start()
    server = TestServer(build_server([workspace(services)]), host="127.0.0.1")
    await server.start_server()
    try:
        async with store.transaction() as uow:
            alert = await services.alerts.raise_alert(
                uow, client, findings=[Finding("self_harm", "critical", "SELF_HARM")],
                checkin_id=None, answers={"self_harm": True})
            theirs = await services.alerts.raise_alert(
                uow, others, findings=[Finding("hrs", "high", "HIGH_RISK_SITUATION")],
                checkin_id=None, answers={})
        await emulator.wait_for_message(LANE, contains="alert for client")
        clock.advance(minutes=16)
        async with store.transaction() as uow:
            assert await services.alerts.escalate_due(uow) == 1
        await emulator.wait_for_message(SUP, contains="ESCALATED")

        async def dead_copy() -> bool:  # the worker gave up on Dr Gone's copy: 400
            async with store.unit_of_work() as uow:
                statuses = (await uow.session.scalars(
                    select(OutboxRow.status).join(AlertCopyRow,
                                                  AlertCopyRow.outbox_id == OutboxRow.id)
                    .where(AlertCopyRow.chat_id == GONE))).all()
            return statuses == ["dead"]

        await eventually(dead_copy, timeout=30)
        yield {"store": store, "server": server, "lane": lane, "other": other, "sup": sup,
               "client": client, "others": others, "alert": alert.id, "theirs": theirs.id,
               "clock": clock}
    finally:
        await server.close()
        await bot.stop()
        await store.close()


async def test_the_alerts_page_says_whom_each_copy_reached_and_whom_it_could_not(
        story: dict[str, Any]) -> None:
    server, store = story["server"], story["store"]
    client: Client = story["client"]
    session = await sign_in(server, store, story["lane"])
    try:
        status, page = await read(session, server, "/alerts")
        assert status == 200
        shown = lines(page)
        # Its reasons, as Details shows them; its age, in the viewer's words.
        assert "Thoughts of self-harm or suicide" in shown
        assert "Raised 16 minutes ago" in shown
        # Where each copy stands: delivered to whom and when, and who could not be reached.
        assert any(line.startswith("Delivered to Dr Lane, ") and line.endswith("UTC.")
                   for line in shown), shown
        assert any(line.startswith("Escalation 1: delivered to supervisor Dr Sup, ")
                   for line in shown), shown
        assert "Escalation 1: could not reach the supervisor (Dr Gone)." in shown
        assert not any("delivered to supervisor Dr Gone" in line for line in shown)
        # Dr Other's client is none of Dr Lane's business.
        others: Client = story["others"]
        assert f"Client {others.code}" not in shown

        # The client page's timeline: the same true state, no bare count.
        status, page = await read(session, server, f"/clients/{client.code}")
        assert status == 200
        shown = lines(page)
        assert "Escalation 1: could not reach the supervisor (Dr Gone)." in shown
        assert any(line.startswith("Escalation 1: delivered to supervisor Dr Sup, ")
                   for line in shown), shown
        assert not any(line.startswith("Escalated 1 time") for line in shown)
    finally:
        await session.close()
    # Reading the reasons is audited as the Details button is: which alert, never why.
    async with store.unit_of_work() as uow:
        events = [e for e in await uow.audit_events() if e.action == "alert.details"]
    assert [(e.client_id, e.detail) for e in events] == [
        (client.id, f"alert {story['alert']}")]
    assert all("self-harm" not in e.detail for e in events)


async def test_a_spanish_speaking_supervisor_reads_it_in_spanish(
        story: dict[str, Any]) -> None:
    server, store = story["server"], story["store"]
    async with store.transaction() as uow:
        sup = await uow.clinicians.set_locale(story["sup"].id, language="es",
                                              timezone="Europe/Madrid")
    assert sup is not None
    story["clock"].advance(hours=2)
    session = await sign_in(server, store, sup)
    try:
        status, page = await read(session, server, "/alerts?state=open")
        assert status == 200
        shown = lines(page)
        assert "Pensamientos de autolesión o suicidio" in shown
        assert "Emitida hace 2 horas" in shown
        assert "Escalado 1: no se pudo avisar al supervisor/a (Dr Gone)." in shown
        delivered = [line for line in shown
                     if line.startswith("Escalado 1: entregada al supervisor/a Dr Sup, ")]
        assert delivered and all(line.endswith(("CET.", "CEST.")) for line in delivered)
        # A supervisor sees every caseload: both clients' alerts.
        others: Client = story["others"]
        assert f"Cliente {others.code}" in shown
    finally:
        await session.close()


async def test_filters_by_level_and_state_and_bad_values_are_a_400_page(
        story: dict[str, Any]) -> None:
    server, store = story["server"], story["store"]
    code = story["client"].code
    session = await sign_in(server, store, story["sup"])
    try:
        _status, page = await read(session, server, "/alerts?level=critical")
        assert "Thoughts of self-harm or suicide" in page
        assert "Was in a high-risk situation" not in page
        _status, page = await read(session, server, "/alerts?level=high&state=open")
        assert "Was in a high-risk situation" in page
        assert f"Client {code}" not in page
        _status, page = await read(session, server, "/alerts?state=acknowledged")
        assert f"Client {code}" not in page and "No alerts were acknowledged" in page
        assert "Thoughts of self-harm" not in page  # no reasons read, none audited
        for bad in ("level=severe", "level=CRITICAL", "state=closed", "state=open%00",
                    "level=%C3%A9"):
            status, page = await read(session, server, f"/alerts?{bad}")
            assert status == 400, bad
            assert "Traceback" not in page
    finally:
        await session.close()
