"""Every file Steadfast writes is its owner's alone from its first byte, whatever umask the
shell or the service manager hands down: the key file, the SQLite database with its -wal
and -shm while the bot runs, and backups, a pg_dump's partial file included."""

from __future__ import annotations

import asyncio
import contextlib
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from storage.crypto import MasterKeyring
from tests.conftest import Database
from tests.e2e import ROOT, ChildBot, bot_settings

PERMISSIVE = 0o022  # Debian's default: files 0644, readable by every local user


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def steadfast(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """`steadfast ARGS` started from a shell whose umask is PERMISSIVE."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("STEADFAST_")}
    return subprocess.run(
        ["sh", "-c", f'umask {PERMISSIVE:03o} && exec "$@"', "sh", sys.executable, "-m",
         "cli", *args], cwd=cwd, env={**base, "PYTHONPATH": str(ROOT), **env},
        capture_output=True, text=True, timeout=120)


async def test_the_key_the_database_its_wal_and_shm_and_a_backup_are_the_owners_alone(
        emulator: Any, tmp_path: Path) -> None:
    key, db = tmp_path / "steadfast.key", tmp_path / "steadfast.db"
    env = {"STEADFAST_MASTER_KEY_FILE": str(key),
           "STEADFAST_DATABASE_URL": f"sqlite+aiosqlite:///{db}"}
    made = await asyncio.to_thread(steadfast, ["keys", "generate"], env, tmp_path)
    assert made.returncode == 0, made.stderr
    upgraded = await asyncio.to_thread(steadfast, ["db", "upgrade"], env, tmp_path)
    assert upgraded.returncode == 0, upgraded.stderr
    assert mode(key) == 0o600 and mode(db) == 0o600

    settings = bot_settings(emulator, env["STEADFAST_DATABASE_URL"],
                            MasterKeyring.load_file(key), scheduler_enabled=False)
    child = ChildBot(settings, tmp_path, key_file=key)
    outer = os.umask(PERMISSIVE)  # what the bot's process starts with
    try:
        child.start()
    finally:
        os.umask(outer)
    try:
        await child.wait_ready()
        wal, shm = Path(f"{db}-wal"), Path(f"{db}-shm")
        # WAL mode: both there while the bot runs (mode() fails on a missing file).
        assert {path.name: mode(path) for path in (db, wal, shm)} == {
            db.name: 0o600, wal.name: 0o600, shm.name: 0o600}
        backup = tmp_path / "backup.db"
        taken = await asyncio.to_thread(steadfast, ["db", "backup", str(backup)], env, tmp_path)
        assert taken.returncode == 0, taken.stderr
        assert mode(backup) == 0o600
    finally:
        assert await child.terminate() == 0


@pytest.mark.postgres
@pytest.mark.parametrize("database", ["postgres"], indirect=True)
def test_a_pg_dump_backup_is_private_while_it_is_being_written(
        database: Database, ring: MasterKeyring, tmp_path: Path) -> None:
    key = tmp_path / "steadfast.key"
    ring.create_file(key)
    target = tmp_path / "backup.dump"
    partial = target.with_name(target.name + ".partial")
    seen: list[int] = []
    done = threading.Event()

    def watch() -> None:
        """Every mode the partial file shows while pg_dump writes it, from its first."""
        while not done.is_set():
            with contextlib.suppress(FileNotFoundError):
                seen.append(mode(partial))
            done.wait(0.0005)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        taken = steadfast(["db", "backup", str(target)], {
            "STEADFAST_DATABASE_URL": database.url, "STEADFAST_MASTER_KEY_FILE": str(key)},
            tmp_path)
    finally:
        done.set()
        watcher.join()
    assert taken.returncode == 0, taken.stderr
    assert seen, "the partial file was never seen"
    assert set(seen) == {0o600}, [oct(m) for m in sorted(set(seen))]
    assert mode(target) == 0o600 and not partial.exists()
