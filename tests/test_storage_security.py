"""Encryption at rest, on SQLite and PostgreSQL: what an attacker with the database sees."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import uuid
from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update

from journal.clock import FakeClock
from storage.crypto import (
    DecryptionError,
    KeyErasedError,
    KeyringError,
    MasterKeyring,
    new_data_key,
    nonce_of,
    seal,
)
from storage.models import CheckInRow, JournalEntryRow
from storage.uow import Store
from tests.conftest import Database
from tests.helpers import make_client, make_clinician


async def _write_day(store: Store, clock: FakeClock, client_id: str, day: date, text: str) -> str:
    async with store.transaction() as uow:
        checkin = await uow.checkins.create(
            client_id=client_id, local_date=day, status="in_progress", questionnaire_id="t",
            questionnaire_version="1", item_ids=["high_risk_what"], now=clock.now())
        await uow.checkins.save(checkin.id, state={"answers": {"high_risk_what": text}})
        await uow.journal.write(client_id=client_id, text=text, now=clock.now())
        return checkin.id


async def _read_all(store: Store, client_id: str) -> list[str]:
    async with store.unit_of_work() as uow:
        days = await uow.checkins.recent(client_id, since=date(2000, 1, 1))
        entries = await uow.journal.recent(client_id, limit=1000)
    return [d.state["answers"]["high_risk_what"] for d in days if d.state] + [
        e.text for e in entries]


async def test_a_canary_answer_appears_nowhere_in_plaintext(
        store: Store, database: Database, clock: FakeClock,
        caplog: pytest.LogCaptureFixture, tmp_path) -> None:
    canary = f"CANARY-{uuid.uuid4().hex}"
    caplog.set_level(logging.DEBUG)
    logging.getLogger("sqlalchemy.engine").setLevel(logging.INFO)  # logs every parameter
    try:
        clinician = await make_clinician(store, clock)
        client = await make_client(store, clock, clinician, telegram_id=9001)
        await _write_day(store, clock, client.id, date(2026, 3, 2), canary)
        async with store.transaction() as uow:
            await uow.alerts.add(client_id=client.id, checkin_id=None, level="high",
                                 detail={"answers": [canary]}, now=clock.now(),
                                 next_escalation_at=None)
            await uow.outbox.add(chat_id=1, kind="notice", method="sendMessage",
                                 params={"text": canary}, now=clock.now())
        assert canary in await _read_all(store, client.id)  # it really was stored
    finally:
        logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)

    needle = canary.encode()
    assert canary not in caplog.text
    if database.kind == "sqlite":
        assert database.path is not None
        files = [database.path, database.path.with_name(database.path.name + "-wal")]
        assert files[1].exists(), "the WAL should hold the fresh writes"
        for path in files:
            assert needle not in path.read_bytes(), f"canary found in {path.name}"
    else:
        dump = subprocess.run(
            ["pg_dump", "-h", "127.0.0.1", "-U", "postgres", "--no-owner", database.name or ""],
            capture_output=True, check=True, timeout=60).stdout
        assert b"CREATE TABLE" in dump and needle not in dump


async def test_a_ciphertext_moved_to_another_row_or_client_fails_clearly(
        store: Store, clock: FakeClock) -> None:
    clinician = await make_clinician(store, clock)
    alice = await make_client(store, clock, clinician, telegram_id=1)
    bob = await make_client(store, clock, clinician, telegram_id=2)
    a1 = await _write_day(store, clock, alice.id, date(2026, 3, 1), "alice day one")
    a2 = await _write_day(store, clock, alice.id, date(2026, 3, 2), "alice day two")
    b1 = await _write_day(store, clock, bob.id, date(2026, 3, 1), "bob day one")

    async with store.transaction() as uow:
        stolen = await uow.session.scalar(select(CheckInRow.state_ct).where(CheckInRow.id == a1))
        await uow.session.execute(update(CheckInRow).where(CheckInRow.id.in_([a2, b1]))
                                  .values(state_ct=stolen))
    for target in (a2, b1):  # same client other row, and another client's row
        async with store.unit_of_work() as uow:
            with pytest.raises(DecryptionError) as excinfo:
                await uow.checkins.get(target)
        message = str(excinfo.value)
        assert "does not belong to this row" in message and "alice" not in message


async def test_rotation_keeps_everything_readable_and_refuses_retiring_used_keys(
        database: Database, clock: FakeClock) -> None:
    ring1 = MasterKeyring.generate()
    store = Store.open(database.url, ring1)
    try:
        clinician = await make_clinician(store, clock)
        c1 = await make_client(store, clock, clinician, telegram_id=1)
        await _write_day(store, clock, c1.id, date(2026, 3, 1), "first")
    finally:
        await store.close()

    ring2 = ring1.with_new_primary()
    store = Store.open(database.url, ring2)
    try:
        async with store.transaction() as uow:
            assert await uow.vault.rewrap_all(ring2) >= 1
            assert set(await uow.vault.master_keys_in_use()) == {ring2.primary_id}
        c2 = await make_client(store, clock, clinician, telegram_id=2)
        await _write_day(store, clock, c2.id, date(2026, 3, 2), "second")
    finally:
        await store.close()

    ring3 = ring2.with_new_primary()
    # ring3 still has ring1's key; a keyring without ring2's key cannot open anything yet
    store = Store.open(database.url, MasterKeyring({ring3.primary_id: ring3.key(ring3.primary_id)}))
    try:
        async with store.unit_of_work() as uow:
            with pytest.raises(KeyringError):
                uow.vault.check_ring_covers(await uow.vault.master_keys_in_use())
    finally:
        await store.close()
    store = Store.open(database.url, ring3)
    try:
        async with store.transaction() as uow:
            await uow.vault.rewrap_all(ring3)
        assert await _read_all(store, c1.id) == ["first", "first"]
        assert await _read_all(store, c2.id) == ["second", "second"]
        async with store.unit_of_work() as uow:
            assert set(await uow.vault.master_keys_in_use()) == {ring3.primary_id}
    finally:
        await store.close()
    with pytest.raises(KeyringError):
        ring3.without(ring3.primary_id)  # the primary can never be retired


async def test_erasing_a_client_makes_only_their_records_unreadable(
        store: Store, clock: FakeClock) -> None:
    clinician = await make_clinician(store, clock)
    gone = await make_client(store, clock, clinician, telegram_id=1)
    kept = await make_client(store, clock, clinician, telegram_id=2)
    day_gone = await _write_day(store, clock, gone.id, date(2026, 3, 1), "gone")
    await _write_day(store, clock, kept.id, date(2026, 3, 1), "kept")
    async with store.transaction() as uow:
        assert await uow.clients.erase(gone.id, clock.now())

    async with store.unit_of_work() as uow:
        with pytest.raises(KeyErasedError):
            await uow.vault.client_key(gone.id)
        assert (await uow.checkins.get(day_gone)).state is None  # type: ignore[union-attr]
        row = await uow.session.scalar(
            select(JournalEntryRow).where(JournalEntryRow.client_id == gone.id))
        assert row is not None and row.body_ct  # the ciphertext is still there, unreadable
        with pytest.raises(KeyErasedError):
            await uow.journal.recent(gone.id)
    assert await _read_all(store, kept.id) == ["kept", "kept"]


def test_no_nonce_repeats_across_100000_encryptions_under_one_key() -> None:
    key = new_data_key()
    nonces = {nonce_of(seal(key, b"x", place="t.c", row_id=str(i), owner="o"))
              for i in range(100_000)}
    assert len(nonces) == 100_000


_OPS = st.lists(st.sampled_from(["write", "rotate", "erase", "write"]), min_size=1, max_size=8)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=_OPS)
def test_any_sequence_of_write_rotate_erase_keeps_live_data_readable(
        ops: list[str], sqlite_template, tmp_path_factory) -> None:
    import shutil

    path = tmp_path_factory.mktemp("prop") / "p.db"
    shutil.copyfile(sqlite_template, path)
    url = f"sqlite+aiosqlite:///{path}"
    asyncio.run(_property_run(url, ops))


async def _property_run(url: str, ops: list[str]) -> None:
    from datetime import UTC, datetime

    clock = FakeClock(datetime(2026, 1, 1, tzinfo=UTC))
    ring = MasterKeyring.generate()
    store = Store.open(url, ring)
    clinician = await make_clinician(store, clock)
    expected: dict[str, list[str]] = {}
    erased: set[str] = set()
    day = date(2026, 1, 1)
    try:
        for n, op in enumerate(ops):
            if op == "write":
                client = await make_client(store, clock, clinician, telegram_id=100 + n)
                await _write_day(store, clock, client.id, day, f"text {n}")
                expected[client.id] = [f"text {n}", f"text {n}"]
            elif op == "rotate":
                ring = ring.with_new_primary()
                await store.close()
                store = Store.open(url, ring)
                async with store.transaction() as uow:
                    await uow.vault.rewrap_all(ring)
                    in_use = await uow.vault.master_keys_in_use()
                assert set(in_use) <= {ring.primary_id}
                for old in ring.ids[1:]:
                    ring = ring.without(old)  # nothing uses it any more: retiring is allowed
                await store.close()
                store = Store.open(url, ring)
            elif op == "erase" and set(expected) - erased:
                victim = sorted(set(expected) - erased)[0]
                async with store.transaction() as uow:
                    await uow.clients.erase(victim, clock.now())
                erased.add(victim)
            day += timedelta(days=1)
        for client_id, texts in expected.items():
            if client_id in erased:
                async with store.unit_of_work() as uow:
                    with pytest.raises(KeyErasedError):
                        await uow.journal.recent(client_id)
            else:
                assert await _read_all(store, client_id) == texts
    finally:
        await store.close()


def test_sensitive_values_never_show_in_reprs() -> None:
    ring = MasterKeyring.generate()
    secret = ring.key(ring.primary_id)
    assert secret.hex() not in repr(ring) and ring.primary_id in repr(ring)
    key = new_data_key()
    assert key.secret.hex() not in repr(key)
    assert os.urandom(1)  # keep the import honest on platforms without urandom
