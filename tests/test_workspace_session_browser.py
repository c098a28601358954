"""The session's warning in a real Chromium (Debian's): with the idle time cut to a minute,
a page warns half a minute before the end (the script, allowed by the 'self'-only CSP,
reveals it), and "stay signed in" moves the end on without leaving the page."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from tests.browser import BROWSER_MARKS, chromium, serving, telegram_stack
from tests.helpers import make_clinician
from tests.mailbox import free_port

pytestmark = BROWSER_MARKS

LANE = 7301


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path
                ) -> AsyncIterator[dict[str, Any]]:
    async with telegram_stack(tmp_path_factory.mktemp("session"), sqlite_template) as s:
        await make_clinician(s.store, s.clock, telegram_id=LANE, name="Dr Lane")
        s.emu.person(LANE, "Lane")
        await s.emu.send_text(LANE, "/start")
        port = free_port()
        async with serving(s, port, web_session_idle_minutes=1), chromium() as browser:
            yield {"emu": s.emu, "browser": browser}


async def test_the_page_warns_before_the_idle_end_and_stay_signed_in_keeps_it(
        world: dict[str, Any]) -> None:
    emu = world["emu"]
    sent = await emu.send_text(LANE, "/workspace")
    message = await emu.wait_for_message(LANE, contains="/sign-in/", after=sent.message_id)
    link = re.search(r"http://\S+/sign-in/\S+", message.text)
    assert link, message.text
    context = await world["browser"].new_context(locale="en-GB")
    page = await context.new_page()
    page.set_default_timeout(20_000)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    try:
        await page.goto(link.group(0))
        await page.get_by_role("button", name="Sign in").click()
        await page.wait_for_url("**/caseload")
        warning = page.locator("#session-warning")
        assert await warning.is_hidden()  # a minute left, the warning comes at half that
        await warning.wait_for(state="visible", timeout=60_000)
        assert "unless you stay signed in" in await warning.inner_text()
        stay = page.get_by_role("button", name="Stay signed in")
        async with page.expect_response("**/session/stay") as answer:
            await stay.click()
        assert (await answer.value).status == 200
        await warning.wait_for(state="hidden")  # a full minute again
        assert page.url.endswith("/caseload")  # the page never left
        refused = [e for e in errors if "Content Security Policy" in e]
        assert not refused, refused  # (a 404 for /favicon.ico is not one)
    finally:
        await context.close()
