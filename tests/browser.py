"""What the workspace's browser tests share: Debian's Chromium driven by Playwright, and
the bot with its emulator and a database copied from the migrated template.

    BROWSER_MARKS               a browser module's pytestmark
    chromium()                  Playwright and a launched Chromium, closed on exit
    telegram_stack(folder, template)  the emulator, the store and a fake clock
    serving(stack, port, **settings)  the bot over them, its workspace on `port`
    init_data(token, user_id, auth_date)  a Mini App's initData, signed as Telegram does
    in_telegram_web(page, app_url)    the page opens Telegram Web framing the Mini App
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from journal.clock import FakeClock
from storage.crypto import MasterKeyring
from storage.uow import Store
from tests.e2e import InProcessBot, bot_settings

CHROMIUM = Path("/usr/bin/chromium")
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
# Without the local-network check, a public page (Telegram Web, answered by a test) may
# frame the workspace on loopback, as it frames a real one.
CHROMIUM_ARGS = ("--no-sandbox", "--disable-features=LocalNetworkAccessChecks")
TELEGRAM_WEB = "https://web.telegram.org/k/"
# A browser module's pytestmark: slow, one event loop for its module-wide world, and
# skipped where Debian's chromium is not installed.
BROWSER_MARKS = [
    pytest.mark.slow,
    pytest.mark.asyncio(loop_scope="module"),
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed"),
]


@asynccontextmanager
async def chromium() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    playwright = await async_playwright().start()
    try:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM),
                                                   args=list(CHROMIUM_ARGS))
        try:
            yield browser
        finally:
            await browser.close()
    finally:
        await playwright.stop()


@dataclass(frozen=True)
class Stack:
    emu: Any  # telegram_emulator.BotAPIEmulator
    store: Store
    clock: FakeClock
    ring: MasterKeyring
    url: str


@asynccontextmanager
async def telegram_stack(folder: Path, template: Path) -> AsyncIterator[Stack]:
    from telegram_emulator import BotAPIEmulator

    path = folder / "steadfast.db"
    shutil.copyfile(template, path)
    url = f"sqlite+aiosqlite:///{path}"
    ring = MasterKeyring.generate()
    emu = BotAPIEmulator(token="123456:TEST-TOKEN", username="steadfast_test_bot")
    await emu.start()
    try:
        store = Store.open(url, ring)
        try:
            yield Stack(emu, store, FakeClock(START), ring, url)
        finally:
            await store.close()
    finally:
        await emu.stop()


@asynccontextmanager
async def serving(stack: Stack, port: int, **settings: Any) -> AsyncIterator[InProcessBot]:
    bot = await InProcessBot(bot_settings(stack.emu, stack.url, stack.ring, web_port=port,
                                          scheduler_enabled=False, **settings),
                             clock=stack.clock).start()
    try:
        yield bot
    finally:
        await bot.stop()


def init_data(token: str, user_id: int, auth_date: datetime) -> str:
    """initData as Telegram signs it: HMAC-SHA256 under HMAC("WebAppData", token), with a
    query id of its own, as each opening of a Mini App has."""
    fields = {"auth_date": str(int(auth_date.timestamp())),
              "query_id": "AAE" + secrets.token_urlsafe(12),
              "user": json.dumps({"id": user_id, "first_name": "Lane"}, separators=(",", ":"))}
    check = "\n".join(f"{k}={v}" for k, v in sorted(fields.items()))
    secret = hmac.new(b"WebAppData", token.encode(), hashlib.sha256).digest()
    fields["hash"] = hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()
    return urlencode(fields)


async def in_telegram_web(page: Any, app_url: str) -> None:
    """Open Telegram Web (answered here: no internet) framing `app_url`, a Mini App address
    with its #tgWebAppData, as web.telegram.org frames a Mini App: another site."""

    async def telegram(route: Any) -> None:
        await route.fulfill(status=200, content_type="text/html", body=(
            "<!doctype html><title>Telegram Web</title>"
            f'<iframe src="{app_url}" style="width:1000px;height:700px"></iframe>'))

    await page.route(f"{TELEGRAM_WEB}**", telegram)
    await page.goto(TELEGRAM_WEB)
