"""Fault stories about master keys: a rotation under a running bot, and the wrong key.

Each runs the real `steadfast run` process over real HTTP to the emulator, and the real
`steadfast keys ...` commands against the same key file and database."""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from journal.checkin.flow import Stored
from journal.clock import FakeClock
from storage.crypto import MasterKeyring
from storage.models import ClientKeyRow, ClientRow
from storage.records import Client
from storage.uow import Store
from tests.conftest import Database
from tests.e2e import ROOT, ChildBot, bot_settings, eventually
from tests.helpers import make_clinician
from tests.stories import Phone, enrolled_client
from tests.test_e2e_enrolment import CLINICIAN, enrol, invite_link

pytestmark = pytest.mark.faults

CLIENT, NEWCOMER = 8001, 8002
SLOW = 20.0  # seconds: a loaded machine runs a real process and a subprocess at once


async def steadfast(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """The real command line, in a thread so the emulator on this loop keeps answering."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("STEADFAST_")}
    full_env.update(env)
    full_env["PYTHONPATH"] = str(ROOT)
    return await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "cli", *args], env=full_env, cwd=cwd,
        capture_output=True, text=True, timeout=180)


async def answers_of(database: Database, key_file: Path, client: Client) -> dict[str, Any]:
    """The client's newest check-in answers as the database holds them (committed), read
    with the key file as it is now."""
    store = Store.open(database.url, MasterKeyring.load_file(key_file))
    try:
        async with store.unit_of_work() as uow:
            checkins = await uow.checkins.recent(client.id, since=date(2000, 1, 1))
        states = [c.state for c in checkins if c.state is not None]
        return dict(Stored.from_data(states[-1]).state.answers) if states else {}
    finally:
        await store.close()


async def saved(database: Database, key_file: Path, client: Client, item: str) -> Any:
    found: dict[str, Any] = {}

    async def check() -> bool:
        found.update(await answers_of(database, key_file, client))
        return item in found

    loop = asyncio.get_running_loop()
    deadline = loop.time() + SLOW
    while not await check():
        assert loop.time() < deadline, f"{item} not saved; answers {sorted(found)}"
        await asyncio.sleep(0.1)
    return found[item]


async def wrapping_master_key(database: Database, key_file: Path, telegram_id: int) -> str:
    store = Store.open(database.url, MasterKeyring.load_file(key_file))
    try:
        async with store.unit_of_work() as uow:
            master_id = await uow.session.scalar(
                select(ClientKeyRow.master_key_id).join(ClientRow,
                                                        ClientRow.id == ClientKeyRow.client_id)
                .where(ClientRow.telegram_index == await uow.vault.telegram_index(telegram_id)))
        return str(master_id)
    finally:
        await store.close()


async def hang_up(child: ChildBot, times: int) -> None:
    """SIGHUP, then wait until the process says it read the key file (the `times`-th time)."""
    assert child.process is not None
    child.process.send_signal(signal.SIGHUP)
    await eventually(lambda: child.log_text().count("master keys reloaded (SIGHUP)") >= times,
                     timeout=SLOW)


@pytest.mark.slow
@pytest.mark.parametrize("sighup", [False, True], ids=["unsignalled", "sighup"])
async def test_rotate_and_retire_under_a_running_bot_keep_every_reply_and_delivery(
        sighup: bool, emulator: Any, sqlite_database: Database, clock: FakeClock,
        tmp_path: Path) -> None:
    key_file = tmp_path / "steadfast.key"
    ring = MasterKeyring.generate()
    ring.create_file(key_file)
    old_id = ring.primary_id
    store = Store.open(sqlite_database.url, ring)
    clinician = await make_clinician(store, clock, telegram_id=CLINICIAN, name="Dr Lane")
    client = await enrolled_client(store, clock, clinician, CLIENT)
    await store.close()
    emulator.person(CLINICIAN, "Lane")
    emulator.person(CLIENT, "Sam")
    emulator.person(NEWCOMER, "Robin", language_code="en")
    env = {"STEADFAST_MASTER_KEY_FILE": str(key_file),
           "STEADFAST_DATABASE_URL": sqlite_database.url}
    # No scheduler ticks: prompts at real times of day would interleave with the story.
    child = ChildBot(bot_settings(emulator, sqlite_database.url, ring), tmp_path,
                     key_file=key_file, extra_env={"STEADFAST_SCHEDULER_ENABLED": "false"})
    child.start()
    phone = Phone(emulator, CLIENT)
    try:
        await child.wait_ready(timeout=60)
        started = await emulator.send_text(CLINICIAN, "/start")  # the bot may write to them
        await emulator.wait_for_message(CLINICIAN, after=started.message_id, timeout=SLOW)
        await phone.checkin()
        await phone.press("No")  # victim access, saved under the old key
        assert await saved(sqlite_database, key_file, client, "victim_access") == "no"

        rotated = await steadfast(["keys", "rotate"], env, tmp_path)
        assert rotated.returncode == 0, rotated.stderr
        new_id = MasterKeyring.load_file(key_file).primary_id
        assert new_id != old_id and f"New primary master key {new_id}" in rotated.stdout
        if sighup:
            await hang_up(child, 1)

        # The running bot goes on with the same check-in: answers saved, questions arrive.
        await phone.press("2")  # anger
        await phone.press("None")  # sexual thoughts
        await phone.press("No")  # supervision
        asked = await phone.press("8")  # coping
        assert asked is not None and "ending your life" in asked.text
        await phone.press("Yes")
        await emulator.wait_for_message(CLIENT, contains="help is available", timeout=SLOW)
        # The alert queued in the outbox reaches the clinician.
        alert = await emulator.wait_for_message(CLINICIAN, contains="alert for client",
                                                timeout=SLOW)
        assert "Critical alert" in alert.text and client.code in alert.text
        assert await saved(sqlite_database, key_file, client, "self_harm") is True

        # A new client enrols: their data key is created under the new primary, and the
        # clinician's notice is delivered.
        await enrol(emulator, NEWCOMER, await invite_link(emulator))
        await emulator.wait_for_message(CLINICIAN, contains="enrolled", timeout=SLOW)
        assert await wrapping_master_key(sqlite_database, key_file, NEWCOMER) == new_id

        retired = await steadfast(["keys", "retire", old_id], env, tmp_path)
        assert retired.returncode == 0, retired.stderr
        assert MasterKeyring.load_file(key_file).ids == [new_id]
        if sighup:
            await hang_up(child, 2)

        # After the old key is gone: the clinician's list opens the alert, both clients
        # get their check-in questions, and the first client's answers are still saved.
        sent = await emulator.send_text(CLINICIAN, "/alerts")
        listed = await emulator.wait_for_message(CLINICIAN, contains=client.code,
                                                 after=sent.message_id, timeout=SLOW)
        assert "Critical alert" in listed.text
        await phone.press("No")  # after the crisis resources: the next item
        newcomer = Phone(emulator, NEWCOMER)
        first = await newcomer.checkin()
        assert "1 of" in first.text
        await newcomer.press("No")
        for person in (CLIENT, NEWCOMER, CLINICIAN):
            assert not any("went wrong" in m.text for m in emulator.chat(person))

        log = child.log_text()
        assert "Traceback" not in log and "KeyringError" not in log
        assert "alembic" not in log  # no Alembic INFO lines at the default level
        for key_id in MasterKeyring.load_file(key_file).ids + [old_id]:
            secret = (ring if key_id == old_id else MasterKeyring.load_file(key_file)).key(key_id)
            assert base64.b64encode(secret).decode() not in log
        assert await child.terminate() == 0
    finally:
        if child.process is not None and child.process.poll() is None:
            child.kill()


@pytest.mark.slow
@pytest.mark.parametrize("source", ["file", "inline"])
async def test_run_with_the_wrong_key_exits_2_naming_the_setting_and_the_key(
        source: str, emulator: Any, sqlite_database: Database, ring: MasterKeyring,
        clock: FakeClock, tmp_path: Path) -> None:
    store = Store.open(sqlite_database.url, ring)
    clinician = await make_clinician(store, clock, telegram_id=CLINICIAN)
    await enrolled_client(store, clock, clinician, CLIENT)
    await store.close()
    # The same id with other bytes (a key file from another installation, renamed).
    wrong = MasterKeyring({ring.primary_id: os.urandom(32)})
    key_file = tmp_path / "wrong.key"
    wrong.create_file(key_file)
    settings = bot_settings(emulator, sqlite_database.url, wrong)
    child = ChildBot(settings, tmp_path, key_file=key_file if source == "file" else None)
    child.start()
    assert await child.wait_exit() == 2
    log = child.log_text()
    setting = "STEADFAST_MASTER_KEY_FILE" if source == "file" else "STEADFAST_MASTER_KEYS"
    lines = [line for line in log.splitlines() if line.strip()]
    assert lines == [f"steadfast: {setting}: master key {ring.primary_id!r} does not open "
                     "the database's data keys (wrong key file?)"], log
    assert emulator.calls_of("getUpdates") == []  # it never began serving


async def test_a_key_file_missing_the_key_in_use_is_named_and_an_empty_database_passes(
        database: Database, ring: MasterKeyring, clock: FakeClock, tmp_path: Path) -> None:
    empty_env = {"STEADFAST_DATABASE_URL": database.url,
                 "STEADFAST_MASTER_KEY_FILE": str(tmp_path / "other.key")}
    other = MasterKeyring.generate()
    other.create_file(tmp_path / "other.key")
    fresh = await steadfast(["keys", "status"], empty_env, tmp_path)  # a fresh install
    assert fresh.returncode == 0, fresh.stderr
    assert "open every data key" in fresh.stdout

    store = Store.open(database.url, ring)
    clinician = await make_clinician(store, clock, telegram_id=CLINICIAN)
    await enrolled_client(store, clock, clinician, CLIENT)
    await store.close()
    status = await steadfast(["keys", "status"], empty_env, tmp_path)
    assert status.returncode == 2
    assert f"{ring.primary_id}: MISSING" in status.stdout
    assert status.stderr.strip() == (
        f"steadfast: STEADFAST_MASTER_KEY_FILE: master key {ring.primary_id!r} is missing, "
        "and data keys need it (wrong key file?)")


@pytest.mark.parametrize("command", [
    ["report", "AAA-00"], ["audit", "verify"], ["audit", "show"], ["client", "erase", "AAA-00",
                                                                   "--yes"],
    ["keys", "rotate"], ["keys", "retire", "k-old"], ["outbox", "status"], ["clinician", "list"],
])
async def test_admin_commands_that_decrypt_refuse_the_wrong_key(
        command: list[str], sqlite_database: Database, ring: MasterKeyring, clock: FakeClock,
        tmp_path: Path) -> None:
    store = Store.open(sqlite_database.url, ring)
    clinician = await make_clinician(store, clock, telegram_id=CLINICIAN)
    await enrolled_client(store, clock, clinician, CLIENT)
    await store.close()
    wrong = MasterKeyring({ring.primary_id: os.urandom(32)}).with_new_primary()
    key_file = tmp_path / "wrong.key"
    wrong.create_file(key_file)
    before = key_file.read_bytes()
    result = await steadfast(command, {"STEADFAST_DATABASE_URL": sqlite_database.url,
                                       "STEADFAST_MASTER_KEY_FILE": str(key_file)}, tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.strip().splitlines() == [
        f"steadfast: STEADFAST_MASTER_KEY_FILE: master key {ring.primary_id!r} does not open "
        "the database's data keys (wrong key file?)"]
    assert key_file.read_bytes() == before  # rotate wrote nothing with keys that do not open
