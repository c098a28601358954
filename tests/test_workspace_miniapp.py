"""The workspace as a Mini App inside Telegram Web, in a real Chromium: web.telegram.org
frames the page, so the session's cookies are a cross-site frame's. A browser keeps no
SameSite=Strict cookie there and sends no unpartitioned one back, so the Mini App's are
SameSite=None and Partitioned, and no page outside that frame carries them.

The workspace is served as it is behind a TLS proxy: its public address is https, the
process speaks http on loopback (Chromium treats http://localhost as secure, so it keeps
Secure cookies). The top-level page https://web.telegram.org/k/ is answered by the test
(no internet here), and Chromium's local-network check, which would stop a public page
from framing localhost, is switched off."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from tests.browser import (
    BROWSER_MARKS,
    chromium,
    in_telegram_web,
    init_data,
    serving,
    telegram_stack,
)
from tests.helpers import make_client, make_clinician
from tests.mailbox import free_port
from web.auth import CSRF_COOKIE, HOST_PREFIX, SESSION_COOKIE

pytestmark = BROWSER_MARKS

LANE, CLIENT = 7201, 8201
SESSION = HOST_PREFIX + SESSION_COOKIE  # the workspace's public address is https


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory,
                sqlite_template: Path) -> AsyncIterator[dict[str, Any]]:
    async with telegram_stack(tmp_path_factory.mktemp("miniapp"), sqlite_template) as s:
        lane = await make_clinician(s.store, s.clock, telegram_id=LANE, name="Dr Lane")
        client = await make_client(s.store, s.clock, lane, telegram_id=CLIENT)
        s.emu.person(LANE, "Lane")
        await s.emu.send_text(LANE, "/start")
        port = free_port()
        async with (serving(s, port, web_public_url=f"https://localhost:{port}"),
                    chromium() as browser):
            yield {"emu": s.emu, "clock": s.clock, "client": client, "browser": browser,
                   "port": port, "token": s.emu.token}


async def telegram_web(world: dict[str, Any]) -> Any:
    """A fresh browser on Telegram Web, framing the Mini App the /workspace button opens,
    with initData signed as Telegram signs it."""
    emu, port = world["emu"], world["port"]
    sent = await emu.send_text(LANE, "/workspace")
    message = await emu.wait_for_message(LANE, contains="/sign-in/", after=sent.message_id)
    button = message.reply_markup["inline_keyboard"][0][0]
    assert button["web_app"]["url"] == f"https://localhost:{port}/webapp"
    # The TLS proxy's side: the same path over loopback http.
    app_url = button["web_app"]["url"].replace("https://", "http://", 1)
    signed = init_data(world["token"], LANE, world["clock"].now()).replace("&", "%26")
    context = await world["browser"].new_context(viewport={"width": 1100, "height": 800},
                                                 locale="en-GB")
    page = await context.new_page()
    page.set_default_timeout(20_000)

    await in_telegram_web(page, f"{app_url}#tgWebAppData={signed}")
    return page


async def test_the_mini_app_signs_in_inside_telegram_web(world: dict[str, Any]) -> None:
    page = await telegram_web(world)
    try:
        app = page.frame_locator("iframe")
        # Signed in inside the frame: the caseload with the clinician's client.
        await app.get_by_role("link", name=world["client"].code).wait_for()
        cookies = {c["name"]: c for c in await page.context.cookies()}
        session = cookies[SESSION]  # over https: Secure, Path=/, this host only
        assert session["httpOnly"] and session["secure"] and session["sameSite"] == "None"
        assert session["path"] == "/" and not session["domain"].startswith(".")
        assert cookies[HOST_PREFIX + CSRF_COOKIE]["sameSite"] == "None"
        # The cookies belong to this site framed by Telegram Web only: the same address
        # opened as a page of its own carries none of them.
        alone = await page.context.new_page()
        response = await alone.goto(f"http://localhost:{world['port']}/caseload")
        assert response.status == 401
        await alone.close()
        # Signing out inside the frame ends the session and expires its cookies.
        await app.get_by_role("button", name="Sign out").click()
        await app.get_by_role("heading", name="You are signed out").wait_for()
        assert not [c for c in await page.context.cookies() if c["name"] == SESSION]
        frame = next(f for f in page.frames if f.url.startswith("http://localhost"))
        again = await frame.goto(f"http://localhost:{world['port']}/caseload")
        assert again.status == 401
    finally:
        await page.context.close()


async def test_the_mini_app_on_a_phone_replaces_an_older_sessions_cookie(
        world: dict[str, Any]) -> None:
    """The phone apps open the Mini App as a page of its own. A cookie of an earlier
    session (unpartitioned: the sign-in link's) is expired by the new sign-in, so the
    browser never sends two sessions."""
    port = world["port"]
    context = await world["browser"].new_context(viewport={"width": 390, "height": 844})
    try:
        page = await context.new_page()
        page.set_default_timeout(20_000)
        emu = world["emu"]
        sent = await emu.send_text(LANE, "/workspace")
        message = await emu.wait_for_message(LANE, contains="/sign-in/",
                                             after=sent.message_id)
        link = message.text[message.text.index("https://localhost"):].split()[0]
        await page.goto(link.replace("https://", "http://", 1))  # the TLS proxy's side
        await page.get_by_role("button", name="Sign in").click()
        await page.wait_for_url("**/caseload")
        earlier = [c for c in await context.cookies() if c["name"] == SESSION]
        assert len(earlier) == 1 and earlier[0]["sameSite"] == "Strict"
        signed = init_data(world["token"], LANE, world["clock"].now()).replace("&", "%26")
        await page.goto(f"http://localhost:{port}/webapp#tgWebAppData={signed}")
        await page.wait_for_url("**/caseload")
        await page.get_by_role("link", name=world["client"].code).wait_for()
        sessions = [c for c in await context.cookies() if c["name"] == SESSION]
        assert len(sessions) == 1 and sessions[0]["value"] != earlier[0]["value"]
        assert sessions[0]["sameSite"] == "None"
    finally:
        await context.close()
