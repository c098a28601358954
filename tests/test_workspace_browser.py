"""The workspace in a real Chromium (Debian's, driven by Playwright) against the bot and
the Telegram emulator: a clinician signs in with the link /workspace sends, reads the
caseload, opens a client, acknowledges an alert with a note, and the alert's Telegram
message is edited to handled. Each refusal is its own test. One bot, one emulator and one
browser serve the whole module (a fresh browser context, so fresh cookies, per test).

Screenshots of every page go to $STEADFAST_SCREENSHOTS (default build/screenshots); the
session prints the folder."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import select, update

from journal.alerts.rules import Finding
from journal.alerts.rules_file import load_rules
from journal.alerts.service import AlertService
from journal.checkin.questionnaire_file import load_questionnaire
from journal.web_access import digest
from storage.models import AlertNoteRow, AlertRow, ClinicianRow, WebSessionRow
from tests.browser import (
    BROWSER_MARKS,
    chromium,
    in_telegram_web,
    init_data,
    serving,
    telegram_stack,
)
from tests.conftest import SCREENSHOTS
from tests.e2e import eventually
from tests.helpers import make_client, make_clinician
from tests.mailbox import free_port
from tests.review_seed import seed_history
from web.auth import SESSION_COOKIE

pytestmark = BROWSER_MARKS

LANE, OTHER, SUPERVISOR, CLIENT, OTHER_CLIENT = 7101, 7102, 7103, 8101, 8102
HEADERS = {
    "cache-control": "no-store",
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
}
SHOTS = SCREENSHOTS  # printed at the end of the session (tests/conftest.py)


@pytest.fixture(scope="module")
def shots() -> Path:
    """A fresh folder for this run's screenshots."""
    shutil.rmtree(SHOTS, ignore_errors=True)
    SHOTS.mkdir(parents=True)
    return SHOTS


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path,
                shots: Path) -> AsyncIterator[dict[str, Any]]:
    async with telegram_stack(tmp_path_factory.mktemp("workspace"), sqlite_template) as s:
        store, clock, emu = s.store, s.clock, s.emu
        lane = await make_clinician(store, clock, telegram_id=LANE, name="Dr Lane")
        other = await make_clinician(store, clock, telegram_id=OTHER, name="Dr Other")
        await make_clinician(store, clock, telegram_id=SUPERVISOR, name="Dr Sup",
                             role="supervisor")
        client = await make_client(store, clock, lane, telegram_id=CLIENT)
        elsewhere = await make_client(store, clock, other, telegram_id=OTHER_CLIENT)
        q = load_questionnaire()
        rules = load_rules(questionnaire=q)
        await seed_history(store, q, rules, elsewhere, end=clock.now().date(), days=20)
        for user, name in ((LANE, "Lane"), (OTHER, "Other"), (SUPERVISOR, "Sup"),
                           (CLIENT, "Sam"), (OTHER_CLIENT, "Kim")):
            emu.person(user, name)
            await emu.send_text(user, "/start")
        port = free_port()
        async with serving(s, port), chromium() as browser:
            yield {"emu": emu, "store": store, "clock": clock, "client": client,
                   "elsewhere": elsewhere, "base": f"http://127.0.0.1:{port}",
                   "browser": browser, "token": emu.token,
                   "alerts": AlertService(clock=clock, questionnaire=q, rules=rules)}


@pytest_asyncio.fixture(loop_scope="module")
async def page(world: dict[str, Any]) -> AsyncIterator[Any]:
    context = await world["browser"].new_context(viewport={"width": 1100, "height": 800},
                                                 locale="en-GB")
    page = await context.new_page()
    page.set_default_timeout(20_000)
    try:
        yield page
    finally:
        await context.close()


async def shot(page: Any, name: str, *, phone: bool = False) -> None:
    await page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    if phone:
        size = page.viewport_size
        await page.set_viewport_size({"width": 390, "height": 844})
        await page.screenshot(path=str(SHOTS / f"{name}-phone.png"), full_page=True)
        await page.set_viewport_size(size)


async def sign_in_link(world: dict[str, Any], user: int = LANE) -> str:
    emu = world["emu"]
    sent = await emu.send_text(user, "/workspace")
    message = await emu.wait_for_message(user, contains="/sign-in/", after=sent.message_id)
    found = re.search(r"http://\S+/sign-in/\S+", message.text)
    assert found, message.text
    return found.group(0)


async def sign_in(world: dict[str, Any], page: Any, user: int = LANE) -> None:
    await page.goto(await sign_in_link(world, user))
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url("**/caseload")


async def raise_alert(world: dict[str, Any], level: str = "critical") -> str:
    return await raise_alert_for(world, world["client"], level)


async def raise_alert_for(world: dict[str, Any], client: Any, level: str = "critical") -> str:
    async with world["store"].transaction() as uow:
        alert = await world["alerts"].raise_alert(
            uow, client, findings=[Finding("self_harm", level, "SELF_HARM")],
            checkin_id=None, answers={"self_harm": True})
    return str(alert.id)


def assert_headers(headers: dict[str, str]) -> None:
    for name, value in HEADERS.items():
        assert headers.get(name) == value, (name, headers.get(name))
    csp = headers["content-security-policy"]
    assert "default-src 'self'" in csp
    assert "frame-ancestors https://web.telegram.org https://*.telegram.org" in csp


# --- the story ----------------------------------------------------------------------------


async def test_a_clinician_signs_in_reviews_and_acknowledges_an_alert(
        world: dict[str, Any], page: Any) -> None:
    emu, code = world["emu"], world["client"].code
    before = max((m.message_id for m in emu.chat(LANE)), default=0)
    alert_id = await raise_alert(world)
    telegram_alert = await emu.wait_for_message(LANE, contains="Critical alert for client",
                                                after=before)
    assert "Acknowledge" in telegram_alert.button_texts

    link = await sign_in_link(world)
    first = await page.goto(link)
    assert_headers(first.headers)
    await shot(page, "01-sign-in")
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url("**/caseload")
    cookies = {c["name"]: c for c in await page.context.cookies()}
    assert cookies["steadfast_session"]["httpOnly"] is True
    assert cookies["steadfast_session"]["sameSite"] == "Strict"

    # The caseload: Lane's client only, with the open critical alert.
    table = page.get_by_role("table")
    await table.wait_for()
    assert await page.get_by_role("link", name=code).count() == 1
    assert world["elsewhere"].code not in await page.content()
    row = page.get_by_role("row").filter(has_text=code)
    assert "Critical: 1" in await row.inner_text()
    await shot(page, "02-caseload", phone=True)

    await page.get_by_role("link", name=code).click()
    await page.wait_for_url(f"**/clients/{code}")
    assert await page.get_by_role("heading", name=f"Client {code}").is_visible()
    await shot(page, "03-client", phone=True)
    # The open alert heads the since view, one link from its acknowledgement form.
    await page.get_by_role("link", name="Acknowledge it below").click()
    await page.wait_for_url("**#alert-*")
    target = page.url.rsplit("#", 1)[1]
    assert await page.locator(f"#{target} button", has_text="Acknowledge").is_visible()

    await page.get_by_role("navigation", name="Workspace").get_by_role(
        "link", name="Alerts").click()
    await page.wait_for_url("**/alerts")
    assert "UTC" in await page.locator("li.alert").inner_text()  # the time names its zone
    await shot(page, "04-alerts", phone=True)
    await page.get_by_label("Note of the action you took").fill("Called; safety plan reviewed.")
    await page.keyboard.press("Tab")  # by keyboard: the button comes next
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/alerts?done=*")
    assert await page.get_by_role("status").is_visible()
    assert "No open alerts." in await page.content()
    await shot(page, "05-acknowledged")

    def handled() -> bool:
        message = next(m for m in emu.chat(LANE) if m.message_id == telegram_alert.message_id)
        return "acknowledged by Dr Lane" in message.text and message.button_texts == ["Details"]

    await eventually(handled, timeout=20)
    async with world["store"].unit_of_work() as uow:
        status = await uow.session.scalar(select(AlertRow.status).where(AlertRow.id == alert_id))
        note = await uow.session.scalar(select(AlertNoteRow.text_ct)
                                        .where(AlertNoteRow.alert_id == alert_id))
        actions = [e.action for e in await uow.audit_events(limit=500)]
    assert status == "acknowledged" and note is not None
    assert b"safety plan" not in note  # stored sealed
    assert {"web.sign_in", "caseload.view", "caseload.trends", "client.report",
            "alert.acknowledge", "alert.note"} <= set(actions)


async def test_the_report_downloads_as_a_pdf_with_its_audit_event(
        world: dict[str, Any], page: Any) -> None:
    code = world["client"].code
    await sign_in(world, page)
    await page.goto(f"{world['base']}/clients/{code}")
    await page.get_by_label("Days to cover").fill("14")
    async with page.expect_download(timeout=60_000) as info:  # the PDF is drawn first
        await page.get_by_role("button", name="Download the PDF").click()
    download = await info.value
    path = await download.path()
    assert (await asyncio.to_thread(Path(path).read_bytes)).startswith(b"%PDF")
    assert download.suggested_filename.startswith(f"steadfast-{code}-")
    async with world["store"].unit_of_work() as uow:
        events = await uow.audit_events(limit=500)
    assert any(e.action == "client.report" and "14" in e.detail for e in events)


async def test_a_supervisor_sees_every_caseload_and_the_dead_letters(
        world: dict[str, Any], page: Any) -> None:
    await sign_in(world, page, SUPERVISOR)
    content = await page.content()
    assert world["client"].code in content and world["elsewhere"].code in content
    # Each roll-up's trend: the seeded client has two weeks of check-ins, the other none.
    seeded = await page.get_by_role("row").filter(has_text=world["elsewhere"].code).inner_text()
    assert len(re.findall(r"rising|falling|steady", seeded)) == 2, seeded
    bare = await page.get_by_role("row").filter(has_text=world["client"].code).inner_text()
    assert bare.count("not enough check-ins") == 2, bare
    assert "Dr Other" in seeded and "Dr Lane" in bare  # whose client each is
    assert await page.get_by_role("heading", name="Messages that could not be "
                                                  "delivered").is_visible()
    await shot(page, "06-supervisor-caseload")


# --- refusals -----------------------------------------------------------------------------


async def test_a_link_works_once(world: dict[str, Any], page: Any) -> None:
    link = await sign_in_link(world)
    await page.goto(link)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url("**/caseload")
    await page.context.clear_cookies()
    again = await page.goto(link)
    assert again.status == 403
    assert await page.get_by_role("heading", name="This sign-in link is no longer "
                                                  "valid").is_visible()
    assert_headers(again.headers)
    await shot(page, "07-link-used")


async def test_an_expired_link_is_refused(world: dict[str, Any], page: Any) -> None:
    link = await sign_in_link(world)
    world["clock"].advance(minutes=5, seconds=1)
    response = await page.goto(link)
    assert response.status == 403
    assert "no longer valid" in await page.content()


async def test_a_session_idle_too_long_is_signed_out(world: dict[str, Any], page: Any) -> None:
    await sign_in(world, page)
    cookie = next(c for c in await page.context.cookies() if c["name"] == SESSION_COOKIE)
    world["clock"].advance(minutes=59)  # a therapy session and more
    assert (await page.goto(f"{world['base']}/alerts")).status == 200  # still in use
    world["clock"].advance(minutes=60, seconds=1)
    response = await page.goto(f"{world['base']}/caseload")
    assert response.status == 401
    assert await page.get_by_role("heading", name="You are signed out").is_visible()
    assert_headers(response.headers)
    await shot(page, "08-signed-out")
    async with world["store"].unit_of_work() as uow:
        ended = await uow.session.scalar(select(WebSessionRow.ended_at).where(
            WebSessionRow.token_hash == digest(cookie["value"])))
    assert ended is not None


async def test_a_post_without_its_csrf_token_is_refused(world: dict[str, Any], page: Any) -> None:
    alert_id = await raise_alert(world, "high")
    await sign_in(world, page)
    for form in ({"note": "x"}, {"note": "x", "csrf_token": "forged"}):
        response = await page.request.post(f"{world['base']}/alerts/{alert_id}/acknowledge",
                                           form=form, max_redirects=0)
        assert response.status == 403
        assert "This request was refused" in await response.text()
        assert_headers(response.headers)
    async with world["store"].unit_of_work() as uow:
        status = await uow.session.scalar(select(AlertRow.status).where(AlertRow.id == alert_id))
    assert status == "open"
    # The page's own form, with its token, works.
    await page.goto(f"{world['base']}/alerts")
    await page.get_by_role("button", name="Acknowledge").first.click()
    await page.wait_for_url("**/alerts?done=*")


async def test_initdata_signed_with_another_token_or_too_old_is_refused(
        world: dict[str, Any], page: Any) -> None:
    now = world["clock"].now()
    url = f"{world['base']}/webapp/sign-in"
    cases = {
        "another token": init_data("654321:OTHER-TOKEN", LANE, now),
        "too old": init_data(world["token"], LANE, now - timedelta(minutes=5, seconds=5)),
        "a client": init_data(world["token"], CLIENT, now),
    }
    for why, data in cases.items():
        response = await page.request.post(url, data=json.dumps({"init_data": data}),
                                           headers={"Content-Type": "application/json",
                                                    "Origin": world["base"]})
        assert response.status == 403, why
    assert not await page.context.cookies()
    # The Mini App's page with such initData says so, in words.
    forged = cases["another token"].replace("&", "%26")
    await page.goto(f"{world['base']}/webapp#tgWebAppData={forged}")
    await page.get_by_role("heading", name="Not signed in").wait_for()
    assert "did not work" in await page.get_by_role("status").inner_text()
    await page.goto("about:blank")  # Telegram opens the Mini App afresh each time
    # Signed with the bot's token and fresh, it signs in, through the Mini App's page.
    fresh = init_data(world["token"], LANE, now)
    await page.goto(f"{world['base']}/webapp#tgWebAppData={fresh.replace('&', '%26')}")
    await page.wait_for_url("**/caseload")
    assert await page.get_by_role("link", name=world["client"].code).is_visible()


async def test_a_mini_app_framed_by_telegram_web_without_its_cookies_says_what_to_do(
        world: dict[str, Any], page: Any) -> None:
    """Over http (a test setup, no Secure cookies) the Mini App's cookies are Strict, and a
    browser keeps none of them in Telegram Web's cross-site frame, as a browser that blocks
    every third-party cookie does over https: the page says to use the link."""
    signed = init_data(world["token"], LANE, world["clock"].now()).replace("&", "%26")
    await in_telegram_web(page, f"{world['base']}/webapp#tgWebAppData={signed}")
    status = page.frame_locator("iframe").get_by_role("status")
    await status.filter(has_text="keeps no sign-in inside Telegram Web").wait_for()
    assert "open the sign-in link" in await status.inner_text()
    assert await page.frame_locator("iframe").get_by_role(
        "heading", name="Not signed in").is_visible()
    await shot(page, "11-mini-app-in-telegram-web-without-cookies")
    assert not [c for c in await page.context.cookies() if c["name"] == "steadfast_session"]


async def test_another_clinicians_client_looks_missing(world: dict[str, Any], page: Any) -> None:
    await sign_in(world, page)
    base = world["base"]
    pages = {}
    for name, code in (("another's", world["elsewhere"].code), ("missing", "ZZZ-99"),
                       ("forged", "<script>")):
        response = await page.goto(f"{base}/clients/{code}")
        pages[name] = (response.status, await page.locator("main").inner_text())
        report = await page.request.get(f"{base}/reports/{code}?days=7")
        assert report.status == 404
    assert pages["another's"] == pages["missing"] == pages["forged"]
    assert pages["missing"][0] == 404
    await shot(page, "09-not-found")


async def test_pages_speak_the_staff_members_language_and_zone(
        world: dict[str, Any], page: Any) -> None:
    async with world["store"].transaction() as uow:
        await uow.session.execute(update(ClinicianRow).where(ClinicianRow.telegram_id == OTHER)
                                  .values(language="es", timezone="Europe/Madrid"))
    await raise_alert_for(world, world["elsewhere"])
    link = await sign_in_link(world, OTHER)
    await page.goto(link)
    await page.get_by_role("button", name="Entrar").click()
    await page.wait_for_url("**/caseload")
    assert await page.get_by_role("heading", name="Casos").is_visible()
    await page.get_by_role("link", name="Alertas").click()
    assert "CET" in await page.locator("li.alert").first.inner_text()  # Madrid in March
    await shot(page, "10-alerts-es")
    response = await page.goto(f"{world['base']}/no-such-page")
    assert response.status == 404
    assert await page.get_by_role("heading", name="No encontrado").is_visible()


async def test_clients_and_strangers_get_no_link(world: dict[str, Any]) -> None:
    emu = world["emu"]
    emu.person(9001, "Stranger")
    for user, answer in ((CLIENT, "not available to you"), (9001, "Ask your clinician")):
        sent = await emu.send_text(user, "/workspace")
        reply = await emu.wait_for_message(user, contains=answer, after=sent.message_id)
        assert "/sign-in/" not in reply.text
    assert not any("/sign-in/" in m.text for user in (CLIENT, 9001) for m in emu.chat(user))


async def test_an_alerts_reasons_are_read_on_the_alerts_page_then_acknowledged_and_noted(
        world: dict[str, Any]) -> None:
    """At a laptop's 1366 px: the reasons are on /alerts itself (no trip to the client
    page), the alert is acknowledged with a note, and a correction is added beside it."""
    context = await world["browser"].new_context(viewport={"width": 1366, "height": 800},
                                                 locale="en-GB")
    page = await context.new_page()
    page.set_default_timeout(20_000)
    try:
        before = max((m.message_id for m in world["emu"].chat(LANE)), default=0)
        alert_id = await raise_alert(world, "high")
        await world["emu"].wait_for_message(LANE, contains="High alert for client",
                                            after=before)
        await sign_in(world, page)
        await page.goto(f"{world['base']}/alerts?level=high&state=open")
        alert = page.locator(f'article[aria-labelledby="a-{alert_id}"]')
        reasons = alert.get_by_role("list", name="Reasons")
        assert await reasons.inner_text() == "Thoughts of self-harm or suicide"
        assert "Raised just now" in await alert.inner_text()
        assert "Delivered to Dr Lane, " in await alert.inner_text()
        await shot(page, "11-alert-reasons")
        await alert.get_by_label("Note of the action you took").fill("Phoned; plan reviewed.")
        await alert.get_by_role("button", name="Acknowledge").click()
        await page.wait_for_url("**/alerts?done=*")

        world["clock"].advance(minutes=5)  # the correction comes later
        handled = page.locator(f'article[aria-labelledby="h-{alert_id}"]')
        await handled.get_by_label("Add a note").fill("Correction: phoned at 9, not 8.")
        await handled.get_by_role("button", name="Add note").click()
        await page.wait_for_url("**/alerts?noted=*")
        notes = page.locator(f'article[aria-labelledby="h-{alert_id}"] ol.notes li')
        await eventually(lambda: notes.count(), timeout=10)
        texts = await notes.all_inner_texts()
        assert len(texts) == 2, texts
        assert texts[0].startswith("Note by Dr Lane, ") and "Phoned; plan reviewed." in texts[0]
        assert texts[1].startswith("Note by Dr Lane, ") and "Correction: phoned at 9" in texts[1]
        await shot(page, "12-alert-notes")
    finally:
        await context.close()
