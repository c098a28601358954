"""A store whose master keys change while it runs: a rotation is picked up when a unit of
work meets an unknown master key id (or on SIGHUP), and a broken key file keeps the keys
already loaded."""

from __future__ import annotations

import base64
import logging
from pathlib import Path

import pytest

from journal.clock import FakeClock
from storage.crypto import KeyringError, MasterKeyring
from storage.db import create_engine
from storage.keyring import KeyringService
from storage.uow import Store
from tests.conftest import Database
from tests.helpers import make_client, make_clinician

pytestmark = pytest.mark.faults


def running_store(database: Database, key_file: Path, *, retry_seconds: float = 2.0) -> Store:
    """As `steadfast run` opens it, minus the key file watch (so the unknown-id path is
    what picks the rotation up)."""
    return Store(create_engine(database.url), MasterKeyring.load_file(key_file),
                 reload=lambda: MasterKeyring.load_file(key_file), retry_seconds=retry_seconds)


async def rotate(database: Database, key_file: Path, clock: FakeClock) -> MasterKeyring:
    """What `steadfast keys rotate` does, from another store."""
    new_ring = MasterKeyring.load_file(key_file).with_new_primary()
    new_ring.replace_file(key_file)
    other = Store.open(database.url, new_ring)
    try:
        await KeyringService(store=other, clock=clock).rewrap(new_ring)
    finally:
        await other.close()
    return new_ring


async def read_note(store: Store, client_id: str, blob: bytes) -> object:
    async with store.unit_of_work() as uow:
        return await uow.vault.open_json(client_id, "test.note", "1", blob)


def no_key_material(text: str, *rings: MasterKeyring) -> bool:
    return not any(base64.b64encode(ring.key(k)).decode() in text for ring in rings for k in ring)


async def test_a_rotation_is_picked_up_by_a_running_store_at_the_first_unknown_key_id(
        database: Database, ring: MasterKeyring, clock: FakeClock, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    key_file = tmp_path / "steadfast.key"
    ring.create_file(key_file)
    store = running_store(database, key_file)
    try:
        client = await make_client(store, clock, await make_clinician(store, clock))
        async with store.transaction() as uow:
            blob = await uow.vault.seal_json(client.id, "test.note", "1", {"mood": 3})
            await uow.audit(at=clock.now(), actor="admin:cli", action="test", detail="before")

        caplog.set_level(logging.INFO, logger="storage.uow")
        new_ring = await rotate(database, key_file, clock)
        # The running store still holds only the old key; its next read meets the new id.
        assert store.ring.ids == [ring.primary_id]
        assert await read_note(store, client.id, blob) == {"mood": 3}
        assert store.ring.primary_id == new_ring.primary_id
        async with store.unit_of_work() as uow:  # the audit key (a system key) opens too
            assert (await uow.verify_audit(clock.now())).ok
        # New data keys are wrapped under the new primary.
        newcomer = await make_client(store, clock, await make_clinician(store, clock, 501))
        async with store.unit_of_work() as uow:
            in_use = await uow.vault.master_keys_in_use()
        assert set(in_use) == {new_ring.primary_id}
        assert newcomer.id
        reloads = [r.getMessage() for r in caplog.records]
        assert reloads == [f"master keys reloaded (unknown master key): 2 key(s), primary "
                           f"{new_ring.primary_id}"]
    finally:
        await store.close()


@pytest.mark.parametrize("broken", ["half-written", "not-utf8", "removed"])
async def test_a_broken_key_file_keeps_the_loaded_keys_and_logs_one_line(
        broken: str, database: Database, ring: MasterKeyring, clock: FakeClock,
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    key_file = tmp_path / "steadfast.key"
    ring.create_file(key_file)
    store = running_store(database, key_file, retry_seconds=3600)
    try:
        client = await make_client(store, clock, await make_clinician(store, clock))
        async with store.transaction() as uow:
            blob = await uow.vault.seal_json(client.id, "test.note", "1", ["kept"])
        new_ring = await rotate(database, key_file, clock)
        good = key_file.read_text()
        if broken == "half-written":
            key_file.write_text(good[: len(good) - 20])
        elif broken == "not-utf8":
            key_file.write_bytes(b"\xff\xfe" + good.encode())
        else:
            key_file.unlink()

        caplog.set_level(logging.INFO, logger="storage.uow")
        # The unit of work meets the new id, tries the file once, keeps the old keys and
        # fails as before: nothing half-read replaces them.
        with pytest.raises(KeyringError):
            await read_note(store, client.id, blob)
        assert store.ring.ids == ring.ids
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1 and "not reloaded (unknown master key)" in warnings[0].getMessage()
        assert no_key_material(caplog.text, ring, new_ring)

        # Repaired, but a reload was tried a moment ago: no second try for this read...
        new_ring.replace_file(key_file)
        with pytest.raises(KeyringError):
            await read_note(store, client.id, blob)
        assert len(caplog.records) == 1
        # ...until the operator sends SIGHUP (what the signal handler calls).
        assert store.reload_keys() is True
        assert await read_note(store, client.id, blob) == ["kept"]
        assert no_key_material(caplog.text, ring, new_ring)
    finally:
        await store.close()


async def test_reload_without_a_key_file_changes_nothing(
        database: Database, ring: MasterKeyring) -> None:
    store = Store.open(database.url, ring)  # STEADFAST_MASTER_KEYS: nothing to re-read
    try:
        assert store.reload_keys() is False and store.ring is ring
    finally:
        await store.close()
