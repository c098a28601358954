"""`steadfast db`: the database schema, and backups."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from cli.base import friendly, load_settings, main, run_async

if TYPE_CHECKING:
    from app.settings import Settings


@main.group()
def db() -> None:
    """Database schema and backups."""


@db.command("upgrade")
@friendly
def db_upgrade() -> None:
    """Apply every pending migration (SQLite or PostgreSQL). A migration that seals values
    already stored (0009: Telegram ids, risk levels) uses the master keys; a new database
    needs none yet."""
    from app.checks import check_database, load_keyring
    from app.settings import SettingsError
    from storage.migrate import upgrade

    settings = load_settings()
    run_async(check_database(settings))
    try:
        ring = load_keyring(settings)
    except SettingsError:
        ring = None  # a migration that needs them says so
    upgrade(settings.database_url, ring=ring)
    click.echo("Database is up to date.")


@db.command("backup")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False))
@friendly
def db_backup(path: Path) -> None:
    """Copy the database to PATH while the bot runs (SQLite: the online backup API;
    PostgreSQL: pg_dump --format=custom). The master key is not in it: keep the key file
    apart, as a backup without it opens nothing."""
    from cli.backup import backup

    settings = load_settings()
    run_async(_check(settings))
    size = backup(settings.database_url, path)
    click.echo(f"Backed up the database to {path} ({max(1, size // 1024)} KiB). The master "
               "key is not in it: keep the key file apart; restoring needs both "
               "(docs/operations.md).")


async def _check(settings: Settings) -> None:
    from app.checks import check_database

    await check_database(settings)
