"""`steadfast keys`: the master keys that wrap every client's data key."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from cli.base import CliError, friendly, load_settings, main, run_async, with_services

if TYPE_CHECKING:
    from app.composition import Services
    from app.settings import Settings
    from storage.crypto import MasterKeyring


@main.group()
def keys() -> None:
    """Master keys that wrap every client's data key."""


@keys.command("generate")
@click.option("--file", "path", type=click.Path(path_type=Path), default=None,
              help="Where to write the key file (default: STEADFAST_MASTER_KEY_FILE).")
@friendly
def keys_generate(path: Path | None) -> None:
    """Write a new master key file (mode 0600). Never overwrites an existing file."""
    from app.settings import Settings
    from storage.crypto import MasterKeyring

    target = path or Settings().master_key_file  # key generation needs no other setting
    ring = MasterKeyring.generate()
    ring.create_file(target)
    click.echo(f"Wrote master key {ring.primary_id} to {target} (mode 0600). Back it up "
               "somewhere safe and separate from database backups.")


def _key_file_settings() -> Settings:
    settings = load_settings()
    if settings.master_keys is not None and settings.master_keys.get_secret_value().strip():
        raise CliError("STEADFAST_MASTER_KEYS is set: key rotation manages the key file only. "
                       "Unset it and point STEADFAST_MASTER_KEY_FILE at the key file.")
    return settings


@keys.command("rotate")
@friendly
def keys_rotate() -> None:
    """Add a new primary master key and re-wrap every data key under it."""
    from app.composition import build_services, load_keyring, open_store
    from journal.clock import SystemClock

    settings = _key_file_settings()
    old_ring = load_keyring(settings)

    async def check(services: Services) -> None:  # the keys in the file open the database
        pass

    with_services(check)
    new_ring = old_ring.with_new_primary()
    # The file is written first and keeps the old keys, so a crash between the two steps
    # leaves every data key readable; a running bot reads it on SIGHUP or when it meets
    # the new key's id.
    new_ring.replace_file(settings.master_key_file)

    async def go() -> int:
        store = open_store(settings, new_ring)  # its audit event moves the checkpoint too
        try:
            return await build_services(settings, store, SystemClock()).keyring.rewrap(new_ring)
        finally:
            await store.close()

    count = run_async(go())
    click.echo(f"New primary master key {new_ring.primary_id}; {count} data keys re-wrapped. "
               f"Older keys can be retired with 'steadfast keys retire ID'.")


@keys.command("retire")
@click.argument("key_id")
@friendly
def keys_retire(key_id: str) -> None:
    """Remove an old master key from the key file; refused while anything uses it."""
    from app.composition import load_keyring

    settings = _key_file_settings()
    ring = load_keyring(settings)

    async def check(services: Services) -> MasterKeyring:  # once the keys open the database
        smaller = ring.without(key_id)
        await services.keyring.retire(key_id)  # refused while a data key uses it; audited
        return smaller

    smaller = with_services(check)
    smaller.replace_file(settings.master_key_file)
    click.echo(f"Retired master key {key_id}.")


@keys.command("status")
@friendly
def keys_status() -> None:
    """Show configured master keys, how many data keys each one wraps, and whether they
    open what the database holds (exit 2 when they do not)."""
    from app.checks import check_database, check_keys_open_database
    from app.composition import build_services, load_keyring, open_store
    from app.settings import SettingsError
    from journal.clock import SystemClock

    settings = load_settings()
    ring = load_keyring(settings)

    async def go() -> tuple[dict[str, int], str | None]:
        await check_database(settings)
        store = open_store(settings, ring)
        try:
            services = build_services(settings, store, SystemClock())
            in_use = await services.keyring.in_use()
            try:
                await check_keys_open_database(store, settings)
            except SettingsError as exc:
                return in_use, str(exc)
            return in_use, None
        finally:
            await store.close()

    in_use, problem = run_async(go())
    for key_id in ring:
        mark = " (primary)" if key_id == ring.primary_id else ""
        click.echo(f"{key_id}{mark}: wraps {in_use.get(key_id, 0)} data key(s)")
    for key_id in sorted(set(in_use) - set(ring.ids)):
        click.echo(f"{key_id}: MISSING from the keyring but wraps {in_use[key_id]} data key(s)")
    if problem is not None:
        raise SettingsError(problem)
    click.echo("The loaded keys open every data key the database holds.")
