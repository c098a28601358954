"""`steadfast db`: the database schema."""

from __future__ import annotations

import click

from bot.cli.base import friendly, load_settings, main, run_async


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@friendly
def db_upgrade() -> None:
    """Apply every pending migration (SQLite or PostgreSQL)."""
    from bot.startup_checks import check_database
    from storage.migrate import upgrade

    settings = load_settings()
    run_async(check_database(settings))
    upgrade(settings.database_url)
    click.echo("Database is up to date.")
