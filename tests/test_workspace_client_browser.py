"""The client page in a real Chromium (Debian's, driven by Playwright): a clinician signs in
with a one-time link, reads a year of charts, changes the range, searches the journal and
edits the plan by keyboard, on a laptop and at phone width, with no script and no style the
page's Content-Security-Policy would block.

Screenshots go to $STEADFAST_SCREENSHOTS-client (default build/screenshots-client); the
session prints the folder."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestServer

from app.composition import build_services
from app.server import build_server
from app.settings import Settings
from journal.clock import FakeClock
from journal.review.adherence import client_today
from journal.review.seed import seed_history
from storage.crypto import MasterKeyring
from storage.uow import Store
from tests.browser import BROWSER_MARKS, chromium
from tests.e2e import ROOT
from tests.helpers import make_clinician
from web.routes import workspace

pytestmark = BROWSER_MARKS
# A full page of a year is tall (a phone's, with the values opened, many thousand px): on
# a busy machine Chromium takes a while to draw it, and a screenshot is evidence, not a check.
SHOT_TIMEOUT = 120_000  # ms
SHOTS = Path((os.environ.get("STEADFAST_SCREENSHOTS") or str(ROOT / "build" / "screenshots"))
             + "-client")


@pytest.fixture(scope="module")
def shots() -> Path:
    """A fresh folder for this run's screenshots of the client page."""
    shutil.rmtree(SHOTS, ignore_errors=True)
    SHOTS.mkdir(parents=True)
    return SHOTS


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path,
                shots: Path, request: pytest.FixtureRequest) -> AsyncIterator[dict[str, Any]]:
    folder = tmp_path_factory.mktemp("client-browser")
    shutil.copyfile(sqlite_template, folder / "steadfast.db")
    url = f"sqlite+aiosqlite:///{folder / 'steadfast.db'}"
    ring = MasterKeyring.generate()
    ring.create_file(folder / "steadfast.key")
    clock = FakeClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    store = Store.open(url, ring)
    settings = Settings(_env_file=None, bot_token="123456:TEST-TOKEN", database_url=url,
                        master_key_file=folder / "steadfast.key", web_port=8081,
                        default_timezone="Europe/Madrid")
    lane = await make_clinician(store, clock, 501, name="Dr Lane")
    async with store.transaction() as uow:
        client = await uow.clients.add_invited(clinician_id=lane.id, language="en",
                                               timezone="Europe/Madrid", checkin_time="20:00",
                                               now=clock.now())
        client = await uow.clients.update(client.id, telegram_id=9001, status="active",
                                          enrolled_at=clock.now() - timedelta(days=400))
    services = build_services(settings, store, clock)
    seeded = await seed_history(store, services.questionnaire, services.rules, client,
                                end=client_today(client, clock.now()), days=365, varied_acks=True)
    server = TestServer(build_server([workspace(services)]), host="127.0.0.1")
    await server.start_server()
    try:
        async with chromium() as browser:
            yield {"store": store, "server": server, "browser": browser, "lane": lane,
                   "client": client, "seeded": seeded, "access": services.web_access,
                   "base": str(server.make_url("")).rstrip("/")}
    finally:
        await server.close()
        await store.close()
        reporter = request.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"client page screenshots: {SHOTS}")


@pytest_asyncio.fixture(loop_scope="module")
async def page(world: dict[str, Any]) -> AsyncIterator[Any]:
    context = await world["browser"].new_context(viewport={"width": 1280, "height": 900},
                                                 locale="en-GB")
    page = await context.new_page()
    page.set_default_timeout(15_000)
    blocked: list[str] = []
    page.on("console", lambda m: blocked.append(m.text)
            if "Content Security Policy" in m.text else None)
    page.blocked = blocked
    try:
        yield page
    finally:
        await context.close()


async def sign_in(world: dict[str, Any], page: Any) -> None:
    async with world["store"].transaction() as uow:
        token = await world["access"].new_link(uow, world["lane"])
    await page.goto(f"{world['base']}/sign-in/{token}")
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url("**/caseload")


async def shot(page: Any, name: str) -> None:
    await page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True,
                          timeout=SHOT_TIMEOUT)


async def test_a_year_of_charts_read_on_a_laptop_and_a_phone(world: dict[str, Any],
                                                             page: Any) -> None:
    code = world["client"].code
    await sign_in(world, page)
    await page.get_by_role("link", name=code).click()
    await page.wait_for_url(f"**/clients/{code}")
    assert await page.get_by_role("heading", name=f"Client {code}").is_visible()
    # Keyboard: the range links are reachable and followed with Enter.
    link = page.get_by_role("link", name="365 days")
    await link.focus()
    await page.keyboard.press("Enter")
    await page.wait_for_url("**days=365*")
    assert await page.get_by_role("link", name="365 days").get_attribute(
        "aria-current") == "page"
    # Each chart is an image with a name and a description a screen reader reads.
    general = page.get_by_role("img", name="General indicator").first
    assert await general.is_visible()
    assert await page.locator("#chart-general-d").text_content()
    for name in ("Access to victims", "Hostility", "Substance abuse", "Confidence for tomorrow"):
        assert await page.get_by_role("img", name=name).is_visible(), name
    # Month names along a year's axis, and no series drawn over another in one chart.
    axis = await page.locator("#chart-general text").all_text_contents()
    assert {"May", "Jul", "Sep", "Nov"} <= {a.split()[0] for a in axis}, axis
    assert await page.locator("#chart-general polyline").count() >= 2  # daily and average
    await shot(page, "client-year-laptop")
    # The values as a table, opened by keyboard.
    await page.get_by_text("The values as a table").focus()
    await page.keyboard.press("Enter")
    assert await page.get_by_role("table", name="Each day's values").is_visible()
    await page.set_viewport_size({"width": 390, "height": 844})
    # At phone width nothing but the calendar's own region scrolls sideways.
    wide = await page.evaluate("document.documentElement.scrollWidth")
    assert wide <= 390, wide
    assert await page.get_by_role("img", name="General indicator").last.is_visible()
    await shot(page, "client-year-phone")
    assert page.blocked == []


async def test_journal_search_and_plan_edit_by_keyboard(world: dict[str, Any],
                                                       page: Any) -> None:
    code = world["client"].code
    await sign_in(world, page)
    await page.goto(f"{world['base']}/clients/{code}?days=14")
    newest_first = sorted(world["seeded"].journal, reverse=True)
    day = newest_first[20][1].split(":")[0]  # "Journal of 11 Jan", past the first page
    search = page.get_by_label("Search the client's words")
    await search.fill(day)
    await search.press("Enter")
    await page.wait_for_url("**/journal?q=*")
    entries = page.locator("p.entry")
    assert await entries.count() == 1 and day in await entries.first.inner_text()
    assert await page.get_by_role("status").is_visible()
    await shot(page, "client-journal-search")
    await page.get_by_role("link", name=f"Back to client {code}").click()
    await page.get_by_text("Edit the whole plan as text").focus()
    await page.keyboard.press("Enter")  # the text form folds open
    plan = page.get_by_label("Edit the plan")
    await plan.fill("Coping steps:\n- Ring Ana\n- Walk the dog")
    await page.keyboard.press("Tab")
    await page.keyboard.press("Enter")
    await page.wait_for_url("**plan=saved*")
    assert await page.get_by_role("status").filter(has_text="Plan saved").is_visible()
    assert "Ring Ana" in await page.locator("#plan").inner_text()
    await shot(page, "client-plan-saved")
    async with world["store"].unit_of_work() as uow:
        saved = await uow.plans.get(world["client"].id)
    assert saved.coping_steps == ("Ring Ana", "Walk the dog")
    assert page.blocked == []


async def test_the_since_view_at_laptop_and_phone_width_in_english_and_spanish(
        world: dict[str, Any], page: Any) -> None:
    from sqlalchemy import update

    from storage.models import ClinicianRow

    code = world["client"].code
    await sign_in(world, page)
    try:
        for language, width in (("en", 1366), ("en", 390), ("es", 1366), ("es", 390)):
            async with world["store"].transaction() as uow:
                await uow.session.execute(update(ClinicianRow).where(
                    ClinicianRow.id == world["lane"].id).values(language=language))
            await page.set_viewport_size({"width": width, "height": 844 if width == 390
                                          else 900})
            words = ({"title": "Since the last session", "show": "Show", "since": "Since",
                      "pdf": "Download this as one page (PDF)", "plan": "Plan",
                      "bad": "is not a day this view can start on"} if language == "en" else
                     {"title": "Desde la última sesión", "show": "Mostrar", "since": "Desde",
                      "pdf": "Descargar esto en una página (PDF)", "plan": "Plan",
                      "bad": "no es un día desde el que pueda empezar esta vista"})
            await page.goto(f"{world['base']}/clients/{code}")
            # The first screen holds the since view's heading, not a chart.
            heading = page.get_by_role("heading", name=words["title"], exact=True)
            box = await heading.bounding_box()
            assert box is not None and box["y"] < 844, (language, width, box)
            # A day picked in the form, by keyboard.
            await page.get_by_label(words["since"], exact=True).fill("2026-02-20")
            await page.get_by_role("button", name=words["show"], exact=True).press("Enter")
            await page.wait_for_url("**since=2026-02-20*")
            assert await page.locator("#since-day").input_value() == "2026-02-20"
            wide = await page.evaluate("document.documentElement.scrollWidth")
            assert wide <= width, (language, width, wide)
            await shot(page, f"client-since-{language}-{width}")
            # The longer views behind the section menu: an anchor, no script.
            await page.get_by_role("navigation").get_by_role(
                "link", name=words["plan"], exact=True).click()
            await page.wait_for_url("**#plan")
            # The one-page PDF, named after the client and its days.
            async with page.expect_download() as download:
                await page.get_by_role("link", name=words["pdf"]).click()
            name = (await download.value).suggested_filename
            assert name.startswith(f"steadfast-{code}-since-2026-02-20-to-"), name
            # A bad day is said kindly, beside the field.
            await page.goto(f"{world['base']}/clients/{code}?since=30-02-2026")
            error = page.get_by_role("alert")
            assert words["bad"] in await error.inner_text()
            assert await page.locator("#since-day").get_attribute("aria-invalid") == "true"
            if width == 390:
                await shot(page, f"client-since-error-{language}-{width}")
    finally:
        async with world["store"].transaction() as uow:
            await uow.session.execute(update(ClinicianRow).where(
                ClinicianRow.id == world["lane"].id).values(language="en"))
@pytest.mark.parametrize("width", [1366, 390])
async def test_a_plan_part_is_edited_by_keyboard_alone(world: dict[str, Any], page: Any,
                                                       width: int) -> None:
    """The form of one part, by keys only: reword the first item, remove the second, add
    one with a reason; at laptop and at phone width, nothing scrolling sideways."""
    code = world["client"].code
    await page.set_viewport_size({"width": width, "height": 900})
    await sign_in(world, page)
    await page.goto(f"{world['base']}/clients/{code}#plan-controls")
    form = page.locator("#plan-controls")
    async with world["store"].unit_of_work() as uow:
        before = (await uow.plans.get(world["client"].id)).texts("controls")
    first = form.get_by_label("Item 1")
    await first.focus()
    await page.keyboard.press("Control+A")
    await page.keyboard.type(f"{before[0]} (agreed {width})")
    if len(before) > 1:
        await form.get_by_label("Remove").nth(1).focus()
        await page.keyboard.press("Space")
    await form.get_by_label("New item").focus()
    await page.keyboard.type(f"Monitored internet {width}")
    await page.keyboard.press("Tab")  # to the reason
    await page.keyboard.type("Agreed with the probation officer")
    await page.keyboard.press("Tab")  # to the Save button
    await page.keyboard.press("Enter")
    await page.wait_for_url("**plan=saved*")
    wide = await page.evaluate("document.documentElement.scrollWidth")
    assert wide <= width, wide
    await shot(page, f"client-plan-part-{width}")
    async with world["store"].unit_of_work() as uow:
        after = (await uow.plans.get(world["client"].id)).texts("controls")
        versions = await uow.plans.versions(world["client"].id)
    assert after == (f"{before[0]} (agreed {width})", f"Monitored internet {width}")
    assert versions[0].reason == "Agreed with the probation officer"
    assert page.blocked == []
