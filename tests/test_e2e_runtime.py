"""The bot as a running service: webhook secrets, redelivered updates, SIGTERM mid-work."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import func, select

from bot.intake import WebhookConfig
from journal.clock import FakeClock
from storage.crypto import MasterKeyring
from storage.models import InviteRow, ProcessedUpdateRow
from storage.uow import Store
from tests.conftest import Database
from tests.e2e import ChildBot, bot_settings, eventually
from tests.helpers import make_clinician

CLINICIAN = 7001
SECRET = "s3cret-token-for-tests_0123"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def count(store: Store, model: Any) -> int:
    async with store.unit_of_work() as uow:
        return int(await uow.session.scalar(select(func.count()).select_from(model)) or 0)


def invite_update(update_id: int, message_id: int = 50) -> dict[str, Any]:
    user = {"id": CLINICIAN, "is_bot": False, "first_name": "Lane", "language_code": "en"}
    return {"update_id": update_id, "message": {
        "message_id": message_id, "date": 1700000000, "text": "/invite",
        "chat": {"id": CLINICIAN, "type": "private", "first_name": "Lane"}, "from": user,
        "entities": [{"type": "bot_command", "offset": 0, "length": 7}]}}


async def test_webhook_accepts_the_right_secret_only_and_applies_an_update_once(
        emulator: Any, sqlite_database: Database, ring: MasterKeyring, clock: FakeClock) -> None:
    from process.run import run_bot

    store = Store.open(sqlite_database.url, ring)
    await make_clinician(store, clock, telegram_id=CLINICIAN)
    emulator.person(CLINICIAN, "Lane")
    port = free_port()
    url = f"http://127.0.0.1:{port}/hook"
    config = WebhookConfig(host="127.0.0.1", port=port, path="/hook", secret=SECRET,
                           public_url=url)
    stop, ready = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(run_bot(bot_settings(emulator, sqlite_database.url, ring),
                                       webhook=config, stop=stop, clock=clock, migrate=False,
                                       handle_signals=False, ready=ready))
    try:
        await asyncio.wait_for(ready.wait(), 20)
        assert emulator.webhook_url == url
        # Telegram (the emulator) pushes a person's message with the secret header.
        await emulator.send_text(CLINICIAN, "/invite")
        await emulator.wait_for_message(CLINICIAN, contains="t.me/")
        assert await count(store, InviteRow) == 1

        async with aiohttp.ClientSession() as http:
            for header in ({}, {"X-Telegram-Bot-Api-Secret-Token": "wrong"}):
                async with http.post(url, json=invite_update(900), headers=header) as response:
                    assert response.status == 401
            assert await count(store, InviteRow) == 1  # nothing happened without the secret

            good = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
            for _ in range(2):  # Telegram redelivers an update whose answer it did not get
                async with http.post(url, json=invite_update(901), headers=good) as response:
                    assert response.status == 200
        assert await count(store, InviteRow) == 2  # the repeated update id changed nothing
        async with store.unit_of_work() as uow:
            assert await uow.updates.seen(901)
        invites = [m for m in emulator.chat(CLINICIAN) if "t.me/" in m.text]
        assert len(invites) == 2
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)
        await store.close()


async def test_sigterm_during_activity_exits_0_and_loses_nothing(
        emulator: Any, sqlite_database: Database, ring: MasterKeyring, clock: FakeClock,
        tmp_path: Path) -> None:
    store = Store.open(sqlite_database.url, ring)
    await make_clinician(store, clock, telegram_id=CLINICIAN)
    emulator.person(CLINICIAN, "Lane")
    settings = bot_settings(emulator, sqlite_database.url, ring)
    child = ChildBot(settings, tmp_path).start()
    try:
        await child.wait_ready()
        emulator.delay_next("sendMessage", count=3, seconds=0.4)  # keep updates in flight
        for _ in range(6):
            await emulator.send_text(CLINICIAN, "/invite")
        await eventually(lambda: emulator.calls_of("sendMessage"), timeout=30)
        assert await child.terminate() == 0
        log = child.log.read_text()
        assert "Steadfast stopped cleanly" in log and "Traceback" not in log
        done_before = await count(store, InviteRow)
        assert done_before >= 1

        # Whatever was not confirmed before the stop is delivered again and handled once.
        child = ChildBot(settings, tmp_path).start()
        await child.wait_ready()
        await eventually(lambda: len([m for m in emulator.chat(CLINICIAN)
                                      if "t.me/" in m.text]) >= 6, timeout=30)
        await asyncio.sleep(0.5)
        assert await count(store, InviteRow) == 6
        assert await count(store, ProcessedUpdateRow) == 6
        assert await child.terminate() == 0
    finally:
        if child.process and child.process.poll() is None:
            child.kill()
        await store.close()
