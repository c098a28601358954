"""An audit trail that cannot be silently shortened or rolled back: wiped, cut to an
older head, or replaced by an older backup's copy, it no longer reaches the checkpoint
kept beside the key file, and `steadfast audit verify` and a start both say so."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, insert, select

from app.settings import SettingsError
from journal.clock import FakeClock
from storage.audit import CheckpointFile
from storage.crypto import MasterKeyring
from storage.models import AuditEventRow, AuditHeadRow
from storage.uow import Store
from tests.conftest import Database
from tests.e2e import InProcessBot, bot_settings
from tests.helpers import make_clinician
from tests.test_audit_and_cli import cli

COLUMNS = ("id", "seq", "at", "action", "client_index", "sealed", "mac")


@pytest.fixture
def key_file(ring: MasterKeyring, tmp_path: Path) -> Path:
    path = tmp_path / "steadfast.key"
    ring.create_file(path)
    return path


@pytest.fixture
def env(database: Database, key_file: Path) -> dict[str, str]:
    return {"STEADFAST_DATABASE_URL": database.url, "STEADFAST_MASTER_KEY_FILE": str(key_file)}


@pytest.fixture
async def kept(database: Database, ring: MasterKeyring, key_file: Path) -> Any:
    """A store that keeps the checkpoint where the command line looks for it."""
    store = Store.open(database.url, ring, audit_checkpoint=CheckpointFile(
        key_file.with_name(key_file.name + ".audit-checkpoint")))
    yield store
    await store.close()


async def _events(store: Store, clock: FakeClock, n: int) -> None:
    for i in range(n):
        async with store.transaction() as uow:
            await uow.audit(at=clock.advance(minutes=1), actor="clinician:1",
                            action="client.view", detail=f"view {i}")


async def _copy(store: Store) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    async with store.unit_of_work() as uow:
        events = [dict(r._mapping) for r in await uow.session.execute(
            select(*(getattr(AuditEventRow, c) for c in COLUMNS)))]
        head = [dict(r._mapping) for r in await uow.session.execute(
            select(AuditHeadRow.id, AuditHeadRow.seq, AuditHeadRow.mac))]
    return events, head


async def _put_back(store: Store, copy: tuple[list[dict[str, Any]], list[dict[str, Any]]]
                    ) -> None:
    events, head = copy
    async with store.transaction() as uow:
        await uow.session.execute(delete(AuditEventRow))
        await uow.session.execute(delete(AuditHeadRow))
        if events:
            await uow.session.execute(insert(AuditEventRow), events)
        if head:
            await uow.session.execute(insert(AuditHeadRow), head)


async def test_a_normal_trail_verifies_against_the_checkpoint_and_says_which(
        kept: Store, clock: FakeClock, env: dict[str, str], tmp_path: Path) -> None:
    await _events(kept, clock, 5)
    ok = cli(["audit", "verify"], env, tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert "intact: 5 events" in ok.stdout
    assert "steadfast.key.audit-checkpoint: event 5, written" in ok.stdout
    assert oct((tmp_path / "steadfast.key.audit-checkpoint").stat().st_mode & 0o777) == "0o600"
    # The command line's own events move it too.
    add = cli(["clinician", "add", "--telegram-id", "77", "--name", "Dr Ortiz"], env, tmp_path)
    assert add.returncode == 0, add.stderr
    again = cli(["audit", "verify"], env, tmp_path)
    assert again.returncode == 0 and "event 6, written" in again.stdout


@pytest.mark.parametrize("tamper", ["wipe", "cut the head", "older copy"])
async def test_a_shortened_or_rolled_back_trail_is_found(
        tamper: str, kept: Store, clock: FakeClock, env: dict[str, str],
        tmp_path: Path) -> None:
    await _events(kept, clock, 3)
    at_three = await _copy(kept)
    await _events(kept, clock, 13)
    assert cli(["audit", "verify"], env, tmp_path).returncode == 0
    if tamper == "wipe":
        await _put_back(kept, ([], []))
    elif tamper == "cut the head":  # events 4-16 gone, the head saved at 3 put back
        events, head = await _copy(kept)
        await _put_back(kept, ([e for e in events if e["seq"] <= 3], at_three[1]))
    else:
        await _put_back(kept, at_three)
    broken = cli(["audit", "verify"], env, tmp_path)
    assert broken.returncode == 1, broken.stdout
    assert "Traceback" not in broken.stderr
    assert "but the checkpoint saw event 16" in broken.stderr
    assert "checkpoint at" in broken.stdout and "event 16, written" in broken.stdout


async def test_an_older_copy_that_reaches_as_far_but_differs_is_found(
        kept: Store, ring: MasterKeyring, database: Database, clock: FakeClock,
        env: dict[str, str], tmp_path: Path) -> None:
    await _events(kept, clock, 3)
    older = await _copy(kept)
    await _events(kept, clock, 2)
    await _put_back(kept, older)
    plain = Store.open(database.url, ring)  # another writer, no checkpoint: a forked trail
    try:
        await _events(plain, clock, 4)
    finally:
        await plain.close()
    broken = cli(["audit", "verify"], env, tmp_path)
    assert broken.returncode == 1
    assert "event 5 is not the one the checkpoint saw" in broken.stderr


async def test_an_emptied_trail_is_found_even_without_a_checkpoint(
        store: Store, clock: FakeClock, env: dict[str, str], tmp_path: Path) -> None:
    await make_clinician(store, clock, telegram_id=71, name="Dr Lane")
    await _put_back(store, ([], []))
    broken = cli(["audit", "verify"], env, tmp_path)
    assert broken.returncode == 1
    assert "the trail is empty, but the database holds 0 clients and 1 staff" in broken.stderr


async def test_a_missing_checkpoint_is_a_finding_until_one_is_written(
        store: Store, clock: FakeClock, env: dict[str, str], tmp_path: Path) -> None:
    await _events(store, clock, 2)  # written by a store that keeps none
    missing = cli(["audit", "verify"], env, tmp_path)
    assert missing.returncode == 1 and "no audit checkpoint at" in missing.stderr
    sealed = cli(["audit", "checkpoint"], env, tmp_path)  # sealing it is an event too
    assert sealed.returncode == 0 and "written at event 3" in sealed.stdout
    ok = cli(["audit", "verify"], env, tmp_path)
    assert ok.returncode == 0 and "intact: 3 events" in ok.stdout


async def test_a_deliberate_restore_is_accepted_only_when_asked_and_is_itself_audited(
        kept: Store, clock: FakeClock, env: dict[str, str], tmp_path: Path) -> None:
    await _events(kept, clock, 2)
    older = await _copy(kept)
    await _events(kept, clock, 3)
    await _put_back(kept, older)
    refused = cli(["audit", "checkpoint"], env, tmp_path)
    assert refused.returncode == 1 and "--accept" in refused.stderr
    accepted = cli(["audit", "checkpoint", "--accept"], env, tmp_path)
    assert accepted.returncode == 0 and "written at event 3" in accepted.stdout
    ok = cli(["audit", "verify"], env, tmp_path)
    assert ok.returncode == 0 and "intact: 3 events" in ok.stdout
    shown = cli(["audit", "show"], env, tmp_path)
    assert "audit.checkpoint" in shown.stdout and "the checkpoint saw event 5" in shown.stdout


async def test_a_start_writes_genesis_restarts_and_refuses_a_rolled_back_trail(
        emulator: Any, sqlite_database: Database, ring: MasterKeyring, clock: FakeClock,
        tmp_path: Path) -> None:
    checkpoint = tmp_path / "audit.checkpoint"
    settings = bot_settings(emulator, sqlite_database.url, ring,
                            audit_checkpoint_file=checkpoint)
    bot = await InProcessBot(settings, clock=clock).start()  # an empty trail: genesis
    await bot.stop()
    assert checkpoint.exists()
    store = Store.open(sqlite_database.url, ring, audit_checkpoint=CheckpointFile(checkpoint))
    try:
        async with store.unit_of_work() as uow:
            assert [e.action for e in await uow.audit_events()] == ["audit.genesis"]
        at_genesis = await _copy(store)
        await _events(store, clock, 2)
        bot = await InProcessBot(settings, clock=clock).start()  # a restart passes
        await bot.stop()
        await _put_back(store, at_genesis)
    finally:
        await store.close()
    with pytest.raises(SettingsError, match="does not match its checkpoint: the trail ends "
                                            "at event 1, but the checkpoint saw event 3"):
        await InProcessBot(settings, clock=clock).start()


async def test_a_checkpoint_file_moved_back_by_hand_does_not_verify(
        kept: Store, clock: FakeClock, env: dict[str, str], key_file: Path,
        tmp_path: Path) -> None:
    await _events(kept, clock, 4)
    older = await _copy(kept)
    await _events(kept, clock, 2)
    path = key_file.with_name(key_file.name + ".audit-checkpoint")
    data = json.loads(path.read_text())
    data["seq"], data["mac"] = 4, max(older[0], key=lambda e: e["seq"])["mac"]  # the older trail's own head
    await _put_back(kept, older)
    path.write_text(json.dumps(data))
    broken = cli(["audit", "verify"], env, tmp_path)
    assert broken.returncode == 1
    assert "checkpoint at" in broken.stderr and "does not verify" in broken.stderr


async def test_a_start_without_a_checkpoint_yet_writes_one_and_says_so_loudly(
        emulator: Any, sqlite_database: Database, ring: MasterKeyring, clock: FakeClock,
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """What an upgrade or a new host looks like: events, and no checkpoint file yet."""
    store = Store.open(sqlite_database.url, ring)
    try:
        await _events(store, clock, 3)
    finally:
        await store.close()
    checkpoint = tmp_path / "audit.checkpoint"
    settings = bot_settings(emulator, sqlite_database.url, ring,
                            audit_checkpoint_file=checkpoint)
    bot = await InProcessBot(settings, clock=clock).start()
    await bot.stop()
    assert "AUDIT CHECKPOINT MISSING" in caplog.text
    assert json.loads(checkpoint.read_text())["seq"] == 3
