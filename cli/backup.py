"""`steadfast db backup`: a consistent copy of the database while the bot keeps running.

SQLite: the online backup API (sqlite3.Connection.backup) copies every page under a read
lock, so a backup taken between two writes is whole. PostgreSQL: `pg_dump --format=custom`,
a single consistent snapshot that `pg_restore` reads back (docs/operations.md). Either way
the copy is written beside PATH first and moved into place; that file is created readable
by its owner only before a byte is written to it (pg_dump writes into the file it is
given, keeping its mode).

The master key is never in a backup: encrypted columns stay encrypted in it, and restoring
needs the key file kept apart. No aiogram here."""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from cli.base import CliError


def backup(database_url: str, target: Path) -> int:
    """Back the database up to `target`; returns the backup's size in bytes."""
    from sqlalchemy.engine import make_url

    from storage.db import is_sqlite

    target = target.expanduser()
    if target.exists():
        raise CliError(f"{target} exists already: back up to a new file")
    if not target.parent.is_dir():
        raise CliError(f"the folder {target.parent} does not exist")
    partial = target.with_name(target.name + ".partial")
    url = make_url(database_url)
    try:
        if is_sqlite(database_url):
            _sqlite(Path(url.database or ""), partial)
        else:
            _postgres(database_url, partial)
        os.replace(partial, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
    return target.stat().st_size


def _sqlite(source: Path, partial: Path) -> None:
    if not source.is_file():
        raise CliError(f"there is no SQLite database at {source} (STEADFAST_DATABASE_URL)")
    _create_private(partial)
    live = sqlite3.connect(source)
    try:
        copy = sqlite3.connect(partial)
        try:
            live.backup(copy)
        finally:
            copy.close()
    finally:
        live.close()


def _postgres(database_url: str, partial: Path) -> None:
    """pg_dump against the same database as STEADFAST_DATABASE_URL. The password goes in
    the environment (PGPASSWORD), not on the command line where `ps` would show it."""
    from sqlalchemy.engine import make_url

    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        raise CliError("pg_dump is not installed: install the PostgreSQL client tools "
                       "(Debian: apt install postgresql-client), of the server's version or newer")
    url = make_url(database_url)
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    dsn = url.set(drivername="postgresql", password=None, query={}).render_as_string(
        hide_password=False)
    _create_private(partial)
    done = subprocess.run([pg_dump, "--format=custom", f"--file={partial}", f"--dbname={dsn}"],
                          env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        reason = lines[-1].removeprefix("pg_dump: error: ") if lines else f"exit {done.returncode}"
        raise CliError(f"pg_dump failed: {reason[:200]}")


def _create_private(partial: Path) -> None:
    """An empty file only its owner can read, before a byte of the copy is written to it. A
    partial file left by a crash is replaced, never reused with its old mode."""
    with contextlib.suppress(FileNotFoundError):
        partial.unlink()
    os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
