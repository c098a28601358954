"""Fault stories: an update the bot cannot read or handle is confirmed, skipped and logged by
id and error type only, in polling and in webhook mode, and everyone else is still served."""

from __future__ import annotations

import asyncio
import logging
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.intake import WebhookConfig
from journal.clock import FakeClock
from storage.crypto import MasterKeyring
from storage.uow import Store
from tests.conftest import Database
from tests.e2e import ChildBot, bot_settings, eventually
from tests.helpers import make_clinician
from tests.stories import enrolled_client
from tests.test_e2e_runtime import SECRET, free_port

pytestmark = pytest.mark.faults

CLINICIAN, CLIENT = 7001, 8001
NOT_UNDERSTOOD = "I did not understand that. Please try again."


def poison_updates(secret: str) -> list[dict[str, Any]]:
    """What a careful reviewer would send: each carries the secret phrase."""
    sam = {"id": CLIENT, "is_bot": False, "first_name": "Sam", "language_code": "en"}
    chat = {"id": CLIENT, "type": "private", "first_name": "Sam"}
    return [
        # aiogram cannot parse it: message_id is not a number, date is missing.
        {"message": {"message_id": "not-a-number", "chat": chat, "from": sam,
                     "text": f"my journal {secret}"}},
        # A message without `from` in a private chat: nobody to answer.
        {"message": {"message_id": 900, "date": 1700000000, "chat": chat,
                     "text": f"no sender {secret}"}},
        # An update type this aiogram does not know.
        {"future_update_kind": {"text": f"from the future {secret}", "chat": chat}},
    ]


def surrogate_update(secret: str) -> dict[str, Any]:
    """A lone surrogate in the text ("\\ud83d" as a JSON escape): it cannot be stored."""
    sam = {"id": CLIENT, "is_bot": False, "first_name": "Sam", "language_code": "en"}
    return {"message": {"message_id": 901, "date": 1700000000, "from": sam,
                        "chat": {"id": CLIENT, "type": "private", "first_name": "Sam"},
                        "text": f"half an emoji \ud83d {secret}"}}


async def people(store: Store, clock: FakeClock, emulator: Any) -> None:
    clinician = await make_clinician(store, clock, telegram_id=CLINICIAN)
    await enrolled_client(store, clock, clinician, CLIENT)
    emulator.person(CLINICIAN, "Lane")
    emulator.person(CLIENT, "Sam")
    # Sam has written before, so Telegram knows the chat (a reply may go there).
    await emulator.send_text(CLIENT, "hello")


async def test_a_poison_update_in_polling_mode_is_skipped_and_the_bot_keeps_serving(
        emulator: Any, sqlite_database: Database, ring: MasterKeyring, clock: FakeClock,
        tmp_path: Path) -> None:
    secret = f"SECRET-PHRASE-{uuid.uuid4().hex}"
    store = Store.open(sqlite_database.url, ring)
    await people(store, clock, emulator)
    child = ChildBot(bot_settings(emulator, sqlite_database.url, ring), tmp_path).start()
    try:
        await child.wait_ready()
        await emulator.wait_for_message(CLIENT)  # the bot answered "hello"
        bad = [emulator.inject_update(raw) for raw in poison_updates(secret)]
        odd = emulator.inject_update(surrogate_update(secret))
        # The client is answered once about the text that cannot be kept...
        reply = await emulator.wait_for_message(CLIENT, contains=NOT_UNDERSTOOD, timeout=15)
        # ...and keeps being served after all of them.
        sent = await emulator.send_command(CLIENT, "/checkin")
        await emulator.wait_for_message(CLIENT, contains=" of ", after=sent.message_id,
                                        timeout=15)
        # Every bad update was confirmed: nothing is left to deliver again.
        await eventually(lambda: emulator.pending_update_count == 0, timeout=15)
        offsets = [int(c.params.get("offset") or 0) for c in emulator.calls_of("getUpdates")]
        assert max(offsets) > max(*bad, odd)
        assert child.process is not None and child.process.poll() is None  # still running
        assert await child.terminate() == 0

        # A restart does not read them again (it would crash-loop or answer twice).
        child = ChildBot(bot_settings(emulator, sqlite_database.url, ring), tmp_path).start()
        await child.wait_ready()
        sent = await emulator.send_command(CLIENT, "/help")
        await emulator.wait_for_message(CLIENT, after=sent.message_id, timeout=15)
        assert [m.message_id for m in emulator.chat(CLIENT)
                if NOT_UNDERSTOOD in m.text] == [reply.message_id]
        assert await child.terminate() == 0
    finally:
        if child.process and child.process.poll() is None:
            child.kill()
        await store.close()

    log = child.log.read_text(errors="replace")
    assert f"update {bad[0]} could not be read and was skipped: ValidationError" in log
    assert secret not in log and "input_value" not in log and "Traceback" not in log
    assert not any(secret in m.text for m in emulator.chat(CLIENT))


async def test_a_poison_update_in_webhook_mode_answers_200_once_and_the_bot_keeps_serving(
        emulator: Any, sqlite_database: Database, ring: MasterKeyring, clock: FakeClock,
        caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]) -> None:
    from process.run import run_bot

    caplog.set_level(logging.DEBUG)
    secret = f"SECRET-PHRASE-{uuid.uuid4().hex}"
    store = Store.open(sqlite_database.url, ring)
    await people(store, clock, emulator)
    port = free_port()
    url = f"http://127.0.0.1:{port}/hook"
    config = WebhookConfig(host="127.0.0.1", port=port, path="/hook", secret=SECRET,
                           public_url=url)
    stop, ready = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(run_bot(
        bot_settings(emulator, sqlite_database.url, ring, scheduler_enabled=False),
        webhook=config, stop=stop, clock=clock, migrate=False, handle_signals=False,
        ready=ready))
    try:
        await asyncio.wait_for(ready.wait(), 20)
        await emulator.wait_for_message(CLIENT)  # "hello" was pushed and answered
        bad = [emulator.inject_update(raw) for raw in poison_updates(secret)]
        odd = emulator.inject_update(surrogate_update(secret))
        await emulator.wait_for_message(CLIENT, contains=NOT_UNDERSTOOD, timeout=15)
        sent = await emulator.send_command(CLIENT, "/checkin")
        await emulator.wait_for_message(CLIENT, contains=" of ", after=sent.message_id,
                                        timeout=15)
        await eventually(lambda: emulator.pending_update_count == 0, timeout=15)
        # Each was pushed once and answered 200: Telegram has no reason to send it again.
        for update_id in (*bad, odd):
            attempts = [a for a in emulator.webhook_attempts if a.update_id == update_id]
            assert [a.status for a in attempts] == [200], update_id

        # A body that is not even JSON is confirmed too, not answered with 500.
        headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET,
                   "Content-Type": "application/json"}
        async with aiohttp.ClientSession() as http, http.post(
                url, data=f"{{not json {secret}", headers=headers) as response:
            assert response.status == 200
        sent = await emulator.send_command(CLIENT, "/help")
        await emulator.wait_for_message(CLIENT, after=sent.message_id, timeout=15)
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)
        await store.close()

    captured = capfd.readouterr()
    assert f"update {bad[0]} could not be read and was skipped: ValidationError" in caplog.text
    for text in (caplog.text, captured.out, captured.err):
        assert secret not in text and "input_value" not in text
    assert not any(secret in m.text for m in emulator.chat(CLIENT))


class TcpGate:
    """A loopback TCP relay in front of PostgreSQL: closing it is a real database outage
    (connections cut, new ones refused), opening it again is the recovery."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def open(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port,
                                                  reuse_address=True)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self._writers |= {writer, up_writer}

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            try:
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                sink.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers -= {writer, up_writer}


@pytest.mark.postgres
async def test_a_webhook_update_during_a_database_outage_answers_500_until_it_is_applied(
        emulator: Any, pg_template: str, ring: MasterKeyring, clock: FakeClock) -> None:
    """TransientFailure is not a poison update: Telegram must deliver it again."""
    from sqlalchemy import func, select

    from process.run import run_bot
    from storage.models import InviteRow
    from tests.conftest import RUN_ID, _pg_async_url, _pg_execute

    name = f"steadfast_t_{RUN_ID}_{uuid.uuid4().hex[:8]}"
    await _pg_execute(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"')
    direct = _pg_async_url(name)
    gate = TcpGate(int(direct.rsplit(":", 1)[1].split("/", 1)[0]))
    await gate.open()
    through_gate = direct.replace(f":{gate.target_port}/", f":{gate.port}/")
    store = Store.open(direct, ring)
    await make_clinician(store, clock, telegram_id=CLINICIAN)
    emulator.person(CLINICIAN, "Lane")

    async def invites() -> int:
        async with store.unit_of_work() as uow:
            return int(await uow.session.scalar(
                select(func.count()).select_from(InviteRow)) or 0)

    port = free_port()
    config = WebhookConfig(host="127.0.0.1", port=port, path="/hook", secret=SECRET,
                           public_url=f"http://127.0.0.1:{port}/hook")
    stop, ready = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(run_bot(
        bot_settings(emulator, through_gate, ring, scheduler_enabled=False),
        webhook=config, stop=stop, clock=clock, migrate=False, handle_signals=False,
        ready=ready))
    try:
        await asyncio.wait_for(ready.wait(), 20)
        await emulator.send_text(CLINICIAN, "/invite")
        await emulator.wait_for_message(CLINICIAN, contains="t.me/", timeout=15)

        await gate.close()  # the database goes away
        await emulator.send_text(CLINICIAN, "/invite")
        failed = await eventually(lambda: [a for a in emulator.webhook_attempts
                                           if a.status == 500], timeout=15)
        update_id = failed[0].update_id
        await eventually(lambda: sum(a.update_id == update_id and a.status == 500
                                     for a in emulator.webhook_attempts) >= 2, timeout=15)
        assert emulator.pending_update_count == 1 and await invites() == 1

        await gate.open()  # it is back: the next redelivery is applied, once
        await eventually(lambda: emulator.pending_update_count == 0, timeout=20)
        assert [a.status for a in emulator.webhook_attempts
                if a.update_id == update_id][-1] == 200
        await eventually(lambda: len([m for m in emulator.chat(CLINICIAN)
                                      if "t.me/" in m.text]) == 2, timeout=15)
        assert await invites() == 2
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)
        await store.close()
        await gate.close()
        await _pg_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
