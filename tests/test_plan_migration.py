"""A three-section plan of old (0011: warning signs, coping steps, support people) comes
through `steadfast db upgrade` in the plan's new parts with nothing lost, as its version 1;
and the downgrade gives the three sections back."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from alembic import command
from sqlalchemy import text

from journal.clock import FakeClock
from storage.crypto import MasterKeyring, open_sealed, seal
from storage.db import create_engine
from storage.migrate import alembic_config
from storage.records import Plan
from storage.uow import Store
from tests.conftest import Database
from tests.helpers import make_clinician
from tests.stories import enrolled_client
from tests.test_audit_and_cli import cli
from tests.test_sealed_identity_migration import _plain

CLIENT, STAFF = 7_420_000_124, 6_420_000_002
OLD = {"warning_signs": ["Staying up late online", "Sentirme solo 🙁"],
       "coping_steps": ["Call my sponsor", "Go for a walk"],
       "support_people": ["Ana: 600 000 000", "Group on Thursdays (Luis)"]}


async def _client_key(store: Store, client_id: str) -> object:
    async with store.unit_of_work() as uow:
        return await uow.vault.client_key(client_id)


async def test_a_three_section_plan_moves_into_the_new_parts_intact(
        database: Database, store: Store, ring: MasterKeyring, clock: FakeClock,
        tmp_path: Path) -> None:
    clinician = await make_clinician(store, clock, telegram_id=STAFF)
    client = await enrolled_client(store, clock, clinician, CLIENT)
    empty = await enrolled_client(store, clock, clinician, CLIENT + 1)
    key = await _client_key(store, client.id)
    await store.close()

    # The database as an installation of 0011 holds it: a plan sealed as three sections.
    config = alembic_config(database.url, ring)
    await asyncio.to_thread(command.downgrade, config, "0011")
    blob = seal(key, json.dumps(OLD).encode(),  # type: ignore[arg-type]
                place="plans.body", row_id=client.id, owner=client.id)
    written_at = clock.now()
    engine = create_engine(database.url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text(
                "INSERT INTO plans (client_id, body_ct, updated_at, updated_by) "
                "VALUES (:c, :b, :t, NULL)"), {"c": client.id, "b": blob, "t": written_at})
    finally:
        await engine.dispose()

    key_file = tmp_path / "steadfast.key"
    ring.create_file(key_file)
    env = {"STEADFAST_DATABASE_URL": database.url, "STEADFAST_MASTER_KEY_FILE": str(key_file)}
    done = await asyncio.to_thread(cli, ["db", "upgrade"], env, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Call my sponsor" not in done.stdout + done.stderr

    after = Store.open(database.url, ring)
    try:
        async with after.unit_of_work() as uow:
            plan = await uow.plans.get(client.id)
            versions = await uow.plans.versions(client.id)
            assert (await uow.plans.get(empty.id)).is_empty
            assert await uow.plans.versions(empty.id) == []
    finally:
        await after.close()
    assert plan.warning_signs == tuple(OLD["warning_signs"])
    assert all(item.field("stage") == "" for item in plan.items("cycle"))  # placed later
    assert plan.coping_steps == tuple(OLD["coping_steps"])
    assert plan.support_people == tuple(OLD["support_people"])
    assert plan.parts == Plan.from_sections(client.id, tuple(OLD["warning_signs"]),
                                            tuple(OLD["coping_steps"]),
                                            tuple(OLD["support_people"])).parts
    assert plan.version == 1 and plan.updated_at == written_at
    assert [(v.number, v.by, v.reason, v.at) for v in versions] == [
        (1, None, "Moved into the plan's new parts", written_at)]
    assert versions[0].plan.parts == plan.parts
    # Nothing of the plan in plaintext anywhere it was moved to.
    for table in ("plans", "plan_versions"):
        rows = await _plain(database.url, f"SELECT * FROM {table}")
        assert "Call my sponsor" not in repr(rows)

    # Back to 0011: the three sections as they were.
    await asyncio.to_thread(command.downgrade, config, "0011")
    rows = await _plain(database.url, "SELECT body_ct FROM plans")
    assert len(rows) == 1
    raw = rows[0][0]
    back = open_sealed(key, bytes(raw), place="plans.body",  # type: ignore[arg-type]
                       row_id=client.id, owner=client.id)
    assert json.loads(back) == OLD
