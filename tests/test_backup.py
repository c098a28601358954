"""The restore drill: a backup taken while the store is open, restored into a fresh database
with its key file, verifies and opens; the same backup with another key, or none, opens
nothing. On SQLite and on PostgreSQL (pg_dump / pg_restore), through the real command line."""

from __future__ import annotations

import asyncio
import os
import shutil
import stat
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from journal.alerts.rules_file import load_rules
from journal.checkin.questionnaire_file import load_questionnaire
from journal.clock import FakeClock, SystemClock
from journal.review.service import ReviewService
from storage.crypto import MasterKeyring
from storage.uow import Store
from tests.conftest import PG_ADMIN_URL, RUN_ID, Database, _pg_async_url, _pg_execute
from tests.helpers import make_clinician
from tests.review_seed import seed_history
from tests.stories import enrolled_client
from tests.test_audit_and_cli import cli


def review_service() -> ReviewService:
    q = load_questionnaire()
    return ReviewService(clock=SystemClock(), questionnaire=q, rules=load_rules(questionnaire=q))


async def _seed(store: Store) -> tuple[str, str, str]:
    """A clinician and a client with 20 days of check-ins, alerts, journal entries and the
    audit events they wrote. Returns the client's code, a journal text and a check-in's
    typed answer."""
    clinician = await make_clinician(store, FakeClock(datetime.now(UTC)), telegram_id=7401,
                                     name="Dr Backup")
    client = await enrolled_client(store, FakeClock(datetime.now(UTC) - timedelta(days=20)),
                                   clinician, 8401, timezone="UTC")
    q = load_questionnaire()
    seeded = await seed_history(store, q, load_rules(questionnaire=q), client,
                                end=datetime.now(UTC).date(), days=20)
    assert seeded.alerts and seeded.journal and seeded.situations
    async with store.transaction() as uow:
        await uow.audit(at=datetime.now(UTC), actor="clinician:1", action="client.view",
                        client_id=client.id, detail="seen before the backup")
    return client.code, seeded.journal[0][1], next(iter(seeded.situations.values()))


def _restore(database: Database, backup: Path, tmp_path: Path) -> tuple[str, str | None]:
    """The backup in a fresh database, as docs/operations.md says; (url, PostgreSQL name)."""
    if database.kind == "sqlite":
        restored = tmp_path / "restored" / "steadfast.db"
        restored.parent.mkdir()
        shutil.copyfile(backup, restored)
        return f"sqlite+aiosqlite:///{restored}", None
    name = f"steadfast_restore_{RUN_ID}_{uuid.uuid4().hex[:8]}"
    asyncio.run(_pg_execute(f'CREATE DATABASE "{name}"'))
    server = PG_ADMIN_URL.rsplit("/", 1)[0]
    done = subprocess.run(["pg_restore", "--no-owner", f"--dbname={server}/{name}", str(backup)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return _pg_async_url(name), name


async def test_a_backup_restores_with_its_key_and_opens_nothing_without_it(
        database: Database, store: Store, ring: MasterKeyring, tmp_path: Path) -> None:
    code, journal_text, situation = await _seed(store)
    key_file = tmp_path / "steadfast.key"
    ring.create_file(key_file)
    live = {"STEADFAST_DATABASE_URL": database.url, "STEADFAST_MASTER_KEY_FILE": str(key_file)}
    target = tmp_path / "backup.db"
    made = await asyncio.to_thread(cli, ["db", "backup", str(target)], live, tmp_path)
    assert made.returncode == 0, made.stderr
    assert f"Backed up the database to {target}" in made.stdout
    assert "master key is not in it" in made.stdout
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert not target.with_name("backup.db.partial").exists()
    again = await asyncio.to_thread(cli, ["db", "backup", str(target)], live, tmp_path)
    assert again.returncode == 1 and "exists already" in again.stderr  # never overwritten

    # What the backup holds as it would be read: plaintext SQL for PostgreSQL's dump.
    if database.kind == "sqlite":
        readable = target.read_bytes()
    else:
        readable = subprocess.run(["pg_restore", "--file=-", str(target)], capture_output=True,
                                  timeout=60, check=True).stdout
        assert b"CREATE TABLE public.clients" in readable  # the dump was read back whole
    assert journal_text.encode() not in readable  # encrypted columns stay encrypted
    assert situation.encode() not in readable

    url, name = await asyncio.to_thread(_restore, database, target, tmp_path)
    try:
        restored = {"STEADFAST_DATABASE_URL": url, "STEADFAST_MASTER_KEY_FILE": str(key_file)}
        # A backup is behind the live trail's checkpoint by design: its chain alone.
        verified = await asyncio.to_thread(cli, ["audit", "verify", "--chain-only"], restored,
                                           tmp_path)
        assert verified.returncode == 0, verified.stderr
        assert "Audit trail intact" in verified.stdout
        # The report, as `steadfast report` reads it, from the restored store and key file.
        restored_store = Store.open(url, MasterKeyring.load_file(key_file))
        try:
            async with restored_store.transaction() as uow:
                data = await review_service().report_for_admin(uow, code, 30)
        finally:
            await restored_store.close()
        assert data.client_code == code and data.alerts and data.asked >= 15
        assert journal_text in [entry.text for entry in data.journal]

        other_key = tmp_path / "other.key"
        MasterKeyring.generate().create_file(other_key)
        for key, args in ((other_key, ["report", code, "-o", str(tmp_path / "x.pdf")]),
                          (tmp_path / "no-such.key", ["audit", "verify"])):
            env = {"STEADFAST_DATABASE_URL": url, "STEADFAST_MASTER_KEY_FILE": str(key)}
            refused = await asyncio.to_thread(cli, args, env, tmp_path)
            assert refused.returncode == 2, (args, refused.stdout, refused.stderr)
            assert refused.stderr.startswith("steadfast: STEADFAST_MASTER_KEY_FILE")
            assert "Traceback" not in refused.stderr and not refused.stdout
            assert journal_text not in refused.stderr
        assert not (tmp_path / "x.pdf").exists()
    finally:
        if name is not None:
            await _pg_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.postgres
def test_without_pg_dump_the_backup_says_what_to_install(
        pg_template: str, tmp_path: Path) -> None:
    env = {"STEADFAST_DATABASE_URL": _pg_async_url(pg_template),
           "STEADFAST_MASTER_KEYS": "unused", "PATH": str(tmp_path)}
    done = cli(["db", "backup", str(tmp_path / "b.dump")], env, tmp_path)
    assert done.returncode == 1
    assert done.stderr.startswith("steadfast: pg_dump is not installed")
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "b.dump").exists()


def test_the_backup_command_does_not_import_aiogram(sqlite_database: Database,
                                                    tmp_path: Path) -> None:
    target = tmp_path / "quick.db"
    probe = ("import sys; from cli import main\n"
             f"try:\n    main(['db', 'backup', {str(target)!r}])\nexcept SystemExit as e:\n"
             "    assert not e.code, e.code\n"
             "print('AIOGRAM' if 'aiogram' in sys.modules else 'CLEAN')")
    env = {k: v for k, v in os.environ.items() if not k.startswith("STEADFAST_")}
    env.update(STEADFAST_DATABASE_URL=sqlite_database.url,
               PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         cwd=tmp_path, timeout=60, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith("CLEAN") and target.is_file()
