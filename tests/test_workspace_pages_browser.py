"""Every workspace page in a real Chromium (Debian's, driven by Playwright), on a laptop
(1366 px) and a phone (390 px), in English and Spanish: nothing wider than the screen,
axe-core's WCAG 2.1 A and AA rules without a violation, chart text large enough to read on
a phone and no two labels of a chart drawn over each other, and at phone width a label
beside every value of every table.

axe-core is the npm package pinned in tests/axe/package-lock.json, injected into each page
by the test (`npm ci` installs it when tests/axe/node_modules is missing). Screenshots of
every page at both widths go to $STEADFAST_SCREENSHOTS-pages (default
build/screenshots-pages); the session prints the folder."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestServer
from sqlalchemy import update

from app.composition import build_services
from app.server import build_server
from app.settings import Settings
from journal.clock import FakeClock
from journal.review.adherence import client_today
from journal.review.seed import seed_history
from storage.crypto import MasterKeyring
from storage.models import ClinicianRow
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
             + "-pages")
AXE_DIR = ROOT / "tests" / "axe"
AXE = AXE_DIR / "node_modules" / "axe-core" / "axe.min.js"
WIDTHS = {"laptop": (1366, 900), "phone": (390, 844)}
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
SOURCES = {"en": ("Check-in note", "High-risk situation"),
           "es": ("Nota del registro", "Situación de riesgo")}
MIN_CHART_TEXT = 11.0  # px, as drawn on the screen

# What sticks out past the viewport's sides, and every region whose content is wider than
# itself (it would scroll sideways: the cut-off a reader meets). Off to the left entirely is
# a visually hidden text (the skip link, a table's header row at phone width), not a cut.
OFFENDERS_JS = """() => {
  const width = document.documentElement.clientWidth;
  const scrolls = (el) => {
    for (let up = el.parentElement; up; up = up.parentElement) {
      const o = getComputedStyle(up).overflowX;
      if (o === 'auto' || o === 'scroll' || o === 'hidden') return true;
    }
    return false;
  };
  const name = (el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
    (el.classList.length ? '.' + [...el.classList].join('.') : '');
  const found = [];
  for (const el of document.body.querySelectorAll('*')) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 && box.height === 0) continue;
    if (box.right <= 0) continue;
    const o = getComputedStyle(el).overflowX;
    if ((o === 'auto' || o === 'scroll') && el.scrollWidth > el.clientWidth + 1) {
      found.push(`${name(el)} scrolls sideways: ${el.scrollWidth} in ${el.clientWidth}`);
    }
    if ((box.right > width + 0.5 || box.left < -0.5) && !scrolls(el)) {
      found.push(`${name(el)} ${Math.round(box.left)}..${Math.round(box.right)}`);
    }
  }
  return {width, scroll: document.documentElement.scrollWidth, found: found.slice(0, 20)};
}"""

# Each shown chart's text: its size as drawn (the SVG's scale times its font size) and the
# pairs of labels whose boxes overlap.
CHART_TEXT_JS = """(least) => {
  const out = [];
  for (const svg of document.querySelectorAll('svg.chart, svg.calendar')) {
    const frame = svg.getBoundingClientRect();
    if (frame.width === 0) continue;
    const texts = [...svg.querySelectorAll('text')].map((t) => {
      const box = t.getBoundingClientRect();
      const size = parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a;
      return {text: t.textContent, size, box: [box.left, box.top, box.right, box.bottom]};
    });
    const overlaps = [];
    for (let i = 0; i < texts.length; i++) {
      for (let j = i + 1; j < texts.length; j++) {
        const a = texts[i].box, b = texts[j].box;
        const w = Math.min(a[2], b[2]) - Math.max(a[0], b[0]);
        const h = Math.min(a[3], b[3]) - Math.max(a[1], b[1]);
        if (w > 0.5 && h > 0.5) overlaps.push(texts[i].text + ' / ' + texts[j].text);
      }
    }
    const small = texts.filter((t) => t.size < least).map((t) => t.text + ' ' + t.size.toFixed(1));
    const outside = texts.filter((t) => t.box[0] < frame.left - 0.5 ||
                                        t.box[2] > frame.right + 0.5).map((t) => t.text);
    out.push({id: svg.id, count: texts.length, overlaps, small, outside});
  }
  return out;
}"""

# At phone width a table's header row is hidden: every value cell must carry its label.
UNLABELLED_JS = """() => {
  const found = [];
  for (const table of document.querySelectorAll('table')) {
    const head = table.querySelector('thead');
    if (!head || head.getBoundingClientRect().right > 0) continue;  // headers still shown
    for (const cell of table.querySelectorAll('tbody td')) {
      const label = cell.getAttribute('data-label');
      const shown = label && getComputedStyle(cell, '::before').content.includes(label);
      if (!shown) { found.push((table.className || table.id) + ': ' + cell.textContent.trim()); }
    }
  }
  return found.slice(0, 10);
}"""


def axe_source() -> str:
    """axe-core's script, installed from tests/axe/package-lock.json if it is not yet."""
    if not AXE.exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=AXE_DIR, check=True,
                       capture_output=True, timeout=300)
    return AXE.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def shots() -> Path:
    shutil.rmtree(SHOTS, ignore_errors=True)
    SHOTS.mkdir(parents=True)
    return SHOTS


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path,
                shots: Path, request: pytest.FixtureRequest) -> AsyncIterator[dict[str, Any]]:
    folder = tmp_path_factory.mktemp("pages-browser")
    shutil.copyfile(sqlite_template, folder / "steadfast.db")
    url = f"sqlite+aiosqlite:///{folder / 'steadfast.db'}"
    ring = MasterKeyring.generate()
    ring.create_file(folder / "steadfast.key")
    clock = FakeClock(datetime(2026, 1, 5, 9, 0, tzinfo=UTC))  # a year across New Year
    store = Store.open(url, ring)
    settings = Settings(_env_file=None, bot_token="123456:TEST-TOKEN", database_url=url,
                        master_key_file=folder / "steadfast.key", web_port=8081,
                        default_timezone="Europe/Madrid")
    sup = await make_clinician(store, clock, 601, name="Dr Sup", role="supervisor")
    async with store.transaction() as uow:
        client = await uow.clients.add_invited(clinician_id=sup.id, language="en",
                                               timezone="Europe/Madrid", checkin_time="20:00",
                                               now=clock.now())
        client = await uow.clients.update(client.id, telegram_id=9101, status="active",
                                          enrolled_at=clock.now() - timedelta(days=400))
    services = build_services(settings, store, clock)
    await seed_history(store, services.questionnaire, services.rules, client,
                       end=client_today(client, clock.now()), days=365, varied_acks=True)
    async with store.transaction() as uow:  # one alert waiting: /alerts asks to acknowledge
        await uow.alerts.add(client_id=client.id, checkin_id=None, level="high",
                             detail={"reasons": ["GENERAL_INDICATOR", "HIGH_RISK_SITUATION"]},
                             now=clock.now() - timedelta(hours=2), next_escalation_at=None)
    server = TestServer(build_server([workspace(services)]), host="127.0.0.1")
    await server.start_server()
    try:
        async with chromium() as browser:
            yield {"store": store, "browser": browser, "sup": sup, "client": client,
                   "access": services.web_access, "axe": axe_source(),
                   "base": str(server.make_url("")).rstrip("/")}
    finally:
        await server.close()
        await store.close()
        reporter = request.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"workspace page screenshots: {SHOTS}")


async def new_page(world: dict[str, Any], language: str, width: str) -> Any:
    # bypass_csp: only so the test may inject axe-core; the page's own parts are all 'self'.
    w, h = WIDTHS[width]
    context = await world["browser"].new_context(
        viewport={"width": w, "height": h}, bypass_csp=True,
        locale="es-ES" if language == "es" else "en-GB",
        extra_http_headers={"Accept-Language": "es-ES,es;q=0.9" if language == "es"
                            else "en-GB,en;q=0.9"})
    page = await context.new_page()
    page.set_default_timeout(30_000)
    return page


async def sign_in(world: dict[str, Any], page: Any, language: str) -> None:
    async with world["store"].transaction() as uow:
        await uow.session.execute(update(ClinicianRow).where(
            ClinicianRow.id == world["sup"].id).values(language=language))
        token = await world["access"].new_link(uow, world["sup"])
    await page.goto(f"{world['base']}/sign-in/{token}")
    await page.locator("main button[type=submit]").click()
    await page.wait_for_url("**/caseload")


async def check(world: dict[str, Any], page: Any, name: str, problems: list[str]) -> None:
    """Screenshot the page, then open every <details> and measure and audit all of it."""
    await page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True,
                          timeout=SHOT_TIMEOUT)
    shown_in = await page.evaluate("() => document.documentElement.lang")
    if shown_in != name.rsplit("-", 1)[-1]:
        problems.append(f"{name}: the page speaks {shown_in!r}")
    await page.evaluate("() => document.querySelectorAll('details').forEach(d => d.open = true)")
    if name.startswith("client-14-days"):  # the tables folded away, as they read opened
        await page.screenshot(path=str(SHOTS / f"{name}-opened.png"), full_page=True,
                              timeout=SHOT_TIMEOUT)
    wide = await page.evaluate(OFFENDERS_JS)
    if wide["found"] or wide["scroll"] > wide["width"]:
        problems.append(f"{name}: wider than the screen ({wide['scroll']} > {wide['width']}): "
                        f"{wide['found']}")
    unlabelled = await page.evaluate(UNLABELLED_JS)
    if unlabelled:
        problems.append(f"{name}: values without their label: {unlabelled}")
    for chart in await page.evaluate(CHART_TEXT_JS, MIN_CHART_TEXT):
        for kind in ("overlaps", "small", "outside"):
            if chart[kind]:
                problems.append(f"{name} {chart['id']}: {kind} {chart[kind][:6]}")
    if not await page.evaluate("() => typeof axe !== 'undefined'"):
        await page.add_script_tag(content=world["axe"])
    audit = await page.evaluate(
        "(tags) => axe.run(document, {runOnly: {type: 'tag', values: tags}})"
        ".then(r => ({passes: r.passes.length, violations: r.violations.map(v => ({"
        "id: v.id, impact: v.impact, "
        "nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))}))", WCAG)
    assert audit["passes"] > 5, f"{name}: axe checked next to nothing"
    if audit["violations"]:
        problems.append(f"{name}: axe {json.dumps(audit['violations'])}")


@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize("width", ["laptop", "phone"])
async def test_every_page_fits_reads_and_passes_axe(world: dict[str, Any], language: str,
                                                    width: str) -> None:
    page = await new_page(world, language, width)
    problems: list[str] = []
    code = world["client"].code
    base = world["base"]
    tag = f"{width}-{language}"
    try:
        # Signed out: the sign-in page, a link already used, a page that needs a session,
        # the Mini App without Telegram's initData.
        async with world["store"].transaction() as uow:  # a link speaks its owner's language
            await uow.session.execute(update(ClinicianRow).where(
                ClinicianRow.id == world["sup"].id).values(language=language))
            token = await world["access"].new_link(uow, world["sup"])
        await page.goto(f"{base}/sign-in/{token}")
        await check(world, page, f"sign-in-{tag}", problems)
        await page.goto(f"{base}/sign-in/{'x' * 43}")
        await check(world, page, f"link-gone-{tag}", problems)
        await page.goto(f"{base}/caseload")
        await check(world, page, f"not-signed-in-{tag}", problems)
        await page.goto(f"{base}/webapp")  # the Mini App opened outside Telegram
        await page.locator("#status").filter(has_text="/workspace").wait_for()
        await check(world, page, f"mini-app-{tag}", problems)
        # Signed in, as a supervisor who also has a client with a year of history.
        await sign_in(world, page, language)
        pages = [("caseload", "/caseload"), ("client-14-days", f"/clients/{code}?days=14"),
                 ("client-30-days", f"/clients/{code}"),
                 ("client-365-days", f"/clients/{code}?days=365"),
                 ("journal-search", f"/clients/{code}/journal?q=park"),
                 ("journal", f"/clients/{code}/journal?page=2"),
                 ("alerts", "/alerts"), ("program", "/program"),
                 ("not-found", "/clients/ZZZ-99")]
        for name, path in pages:
            await page.goto(base + path)
            await check(world, page, f"{name}-{tag}", problems)
        # The search, as a clinician types it: a check-in note, then a situation, each
        # hit saying where it came from.
        await page.goto(f"{base}/clients/{code}")
        for query, source in (("Ana", SOURCES[language][0]), ("park", SOURCES[language][1])):
            box = page.locator("#journal-q")
            await box.fill(query)
            await box.press("Enter")
            await page.wait_for_url(f"**/journal?q={query}")
            shown = page.locator("ol.hits li")
            assert await shown.count() == 10, query
            assert await shown.first.locator(".source").inner_text() == source
            assert query.casefold() in (await shown.first.locator(".entry").inner_text()
                                        ).casefold()
        await page.goto(f"{base}/caseload")
        await page.locator("form[action='/sign-out'] button").click()
        await page.wait_for_load_state()
        await check(world, page, f"signed-out-{tag}", problems)
    finally:
        await page.context.close()
    (SHOTS / f"problems-{tag}.txt").write_text("\n".join(problems) + "\n", encoding="utf-8")
    assert not problems, "\n".join(problems)
