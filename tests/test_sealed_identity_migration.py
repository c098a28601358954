"""A database from before Telegram ids and risk levels were sealed (0007) comes through
`steadfast db upgrade` with its people found by their accounts, its levels and its queued
messages intact, and no plaintext left; without the master keys the upgrade stops and says
why, changing nothing."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from alembic import command
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from journal.clock import FakeClock
from storage.crypto import MasterKeyring
from storage.db import create_engine
from storage.migrate import alembic_config
from storage.uow import Store
from tests.conftest import Database
from tests.helpers import make_clinician, read_schema
from tests.stories import enrolled_client
from tests.test_audit_and_cli import cli

CLIENT, STAFF = 7_420_000_123, 6_420_000_001


async def _plain(url: str, sql: str) -> list[tuple[object, ...]]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return [tuple(row) for row in await connection.execute(text(sql))]
    finally:
        await engine.dispose()


async def test_an_old_database_is_sealed_by_the_upgrade_and_reads_the_same(
        database: Database, store: Store, ring: MasterKeyring, clock: FakeClock,
        tmp_path: Path) -> None:
    clinician = await make_clinician(store, clock, telegram_id=STAFF)
    client = await enrolled_client(store, clock, clinician, CLIENT)
    async with store.transaction() as uow:
        day = await uow.checkins.create(
            client_id=client.id, local_date=clock.now().date(), status="submitted",
            questionnaire_id="q", questionnaire_version="1", item_ids=[], now=clock.now())
        await uow.checkins.save(day.id, risk_level="high")
        alert = await uow.alerts.add(client_id=client.id, checkin_id=day.id, level="critical",
                                     detail={"reasons": []}, now=clock.now(),
                                     next_escalation_at=None)
        queued = await uow.outbox.add(chat_id=CLIENT, kind="notice", method="sendMessage",
                                      params={"text": "hello"}, now=clock.now())
    await store.close()

    # Back to 0007 (which opens the sealed values again, with the keys), as an old
    # installation holds them: plaintext.
    config = alembic_config(database.url, ring)
    await asyncio.to_thread(command.downgrade, config, "0007")
    assert await _plain(database.url, "SELECT telegram_id FROM clients") == [(CLIENT,)]
    assert await _plain(database.url, "SELECT risk_level FROM checkins") == [("high",)]
    assert await _plain(database.url, "SELECT level FROM alerts") == [("critical",)]
    assert await _plain(database.url, "SELECT chat_id FROM outbox") == [(CLIENT,)]

    # Without the keys the upgrade refuses, says why, and leaves the database at 0007.
    env = {"STEADFAST_DATABASE_URL": database.url,
           "STEADFAST_MASTER_KEY_FILE": str(tmp_path / "absent.key")}
    refused = await asyncio.to_thread(cli, ["db", "upgrade"], env, tmp_path)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "needs the master keys" in refused.stderr and "Traceback" not in refused.stderr
    assert str(CLIENT) not in refused.stderr
    assert await _plain(database.url, "SELECT telegram_id FROM clients") == [(CLIENT,)]

    key_file = tmp_path / "steadfast.key"
    ring.create_file(key_file)
    env["STEADFAST_MASTER_KEY_FILE"] = str(key_file)
    done = await asyncio.to_thread(cli, ["db", "upgrade"], env, tmp_path)
    assert done.returncode == 0, done.stderr

    def columns(connection: Connection) -> dict[str, set[str]]:
        return {table: {c["name"] for c in inspect(connection).get_columns(table)}
                for table in ("clients", "checkins", "alerts", "outbox", "conversations",
                              "enrolment_attempts")}

    left = await asyncio.to_thread(read_schema, database.url, columns)
    assert not any({"telegram_id", "risk_level", "level", "chat_id"} & names
                   for names in left.values()), left
    assert (CLIENT,) not in await _plain(database.url, "SELECT * FROM clients")

    after = Store.open(database.url, ring)
    try:
        async with after.unit_of_work() as uow:
            found = await uow.clients.by_telegram_id(CLIENT)
            assert found is not None and found.id == client.id and found.telegram_id == CLIENT
            assert (await uow.clinicians.by_telegram_id(STAFF)) is not None
            assert [d.risk_level for d in await uow.checkins.days(client.id)] == ["high"]
            fresh = await uow.alerts.get(alert.id)
            assert fresh is not None and fresh.level == "critical"
            assert queued is not None
            message = await uow.outbox.get(queued, clock.now() + timedelta(seconds=1))
            assert message is not None and message.chat_id == CLIENT
            assert message.payload == {"method": "sendMessage", "params": {"text": "hello"}}
    finally:
        await after.close()
