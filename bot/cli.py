"""The `steadfast` command line. Admin commands never import aiogram, so they answer at once."""

from __future__ import annotations

import asyncio
import functools
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import click

T = TypeVar("T")


class CliError(Exception):
    """A failure that ends the command with one line and the given exit code."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def _fail(message: str, code: int) -> None:
    click.echo(f"steadfast: {message}", err=True)
    sys.exit(code)


def friendly(func: Callable[..., T]) -> Callable[..., T]:
    """Turn every expected failure into one clear line and a nonzero exit, no traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        from bot.settings import SettingsError
        from journal.errors import DomainError
        from storage.crypto import CryptoError

        try:
            return func(*args, **kwargs)
        except SettingsError as exc:
            _fail(str(exc), 2)
        except CliError as exc:
            _fail(str(exc), exc.code)
        except (CryptoError, DomainError) as exc:
            _fail(str(exc), 1)
        except (OSError, ConnectionError) as exc:
            _fail(f"cannot reach the database or a file: {exc.strerror or type(exc).__name__}", 1)
        except Exception as exc:
            from sqlalchemy.exc import DBAPIError, SQLAlchemyError

            if isinstance(exc, DBAPIError):
                _fail("the database refused the operation; run 'steadfast db upgrade' and check "
                      f"STEADFAST_DATABASE_URL ({type(exc.orig).__name__})", 1)
            if isinstance(exc, SQLAlchemyError):
                _fail(f"database error ({type(exc).__name__})", 1)
            raise
        raise AssertionError("unreachable")

    return wrapper


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def _settings() -> Any:
    from bot.settings import load_settings

    return load_settings()


async def _checked_store(settings: Any) -> Any:
    """The store, once the database answers and the loaded keys open its data keys."""
    from bot.bootstrap import check_database, check_keys_open_database, open_store

    await check_database(settings)
    store = open_store(settings)
    try:
        await check_keys_open_database(store, settings)
    except BaseException:
        await store.close()
        raise
    return store


def with_admin(body: Callable[[Any], Coroutine[Any, Any, T]]) -> T:
    """Open the store, run body(admin service), always close the store."""
    from journal.administration import AdminService
    from journal.clock import SystemClock

    settings = _settings()

    async def go() -> T:
        store = await _checked_store(settings)
        try:
            return await body(AdminService(store=store, clock=SystemClock()))
        finally:
            await store.close()

    return run_async(go())


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="steadfast")
def main() -> None:
    """Steadfast: daily check-ins, an encrypted journal and risk alerts for Relapse
    Prevention treatment programs, over Telegram.

    Settings come from STEADFAST_* environment variables or a .env file.
    """


# -- db ------------------------------------------------------------------------------------
@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@friendly
def db_upgrade() -> None:
    """Apply every pending migration (SQLite or PostgreSQL)."""
    from bot.bootstrap import check_database
    from storage.migrate import upgrade

    settings = _settings()
    run_async(check_database(settings))
    upgrade(settings.database_url)
    click.echo("Database is up to date.")


# -- clinicians ----------------------------------------------------------------------------
@main.group()
def clinician() -> None:
    """Clinicians and supervisors who use the bot."""


@clinician.command("add")
@click.option("--telegram-id", type=click.IntRange(min=1), required=True,
              help="The clinician's numeric Telegram user id.")
@click.option("--name", required=True, help="Name shown to colleagues and clients.")
@click.option("--supervisor", is_flag=True, help="Also receives escalations; sees every caseload.")
@click.option("--contact", default="", help="Office phone or contact line shown to clients.")
@click.option("--email", default="",
              help="Address for the e-mail fallback when Telegram cannot reach them (stored "
                   "encrypted).")
@friendly
def clinician_add(telegram_id: int, name: str, supervisor: bool, contact: str,
                  email: str) -> None:
    """Add a clinician (or a supervisor with --supervisor)."""
    from storage.repositories import DuplicateError

    try:
        added = with_admin(lambda admin: admin.add_clinician(
            telegram_id=telegram_id, name=name, supervisor=supervisor, contact=contact,
            email=email))
    except DuplicateError as exc:
        raise CliError(str(exc)) from None
    click.echo(f"Added {added.role} {added.name} (id {added.id}, Telegram {added.telegram_id})"
               + (", with an e-mail address." if added.has_email else "."))


@clinician.command("edit")
@click.option("--telegram-id", type=click.IntRange(min=1), required=True,
              help="The clinician's numeric Telegram user id.")
@click.option("--email", required=True,
              help='Address for the e-mail fallback; --email "" removes it.')
@friendly
def clinician_edit(telegram_id: int, email: str) -> None:
    """Change a clinician's e-mail address for the fallback channel."""
    changed = with_admin(lambda admin: admin.set_clinician_email(telegram_id=telegram_id,
                                                                 email=email))
    click.echo(f"{changed.name} (id {changed.id}): e-mail address "
               + ("set." if changed.has_email else "removed."))


@clinician.command("list")
@friendly
def clinician_list() -> None:
    """List clinicians and supervisors."""
    rows = with_admin(lambda admin: admin.clinicians())
    if not rows:
        click.echo("No clinicians yet. Add one with 'steadfast clinician add'.")
        return
    click.echo(f"{'id':>4}  {'telegram id':>12}  {'role':<10}  {'e-mail':<6}  name")
    for c in rows:
        click.echo(f"{c.id:>4}  {c.telegram_id:>12}  {c.role:<10}  "
                   f"{'yes' if c.has_email else '-':<6}  {c.name}"
                   + ("" if c.active else "  (inactive)"))


# -- keys ----------------------------------------------------------------------------------
@main.group()
def keys() -> None:
    """Master keys that wrap every client's data key."""


@keys.command("generate")
@click.option("--file", "path", type=click.Path(path_type=Path), default=None,
              help="Where to write the key file (default: STEADFAST_MASTER_KEY_FILE).")
@friendly
def keys_generate(path: Path | None) -> None:
    """Write a new master key file (mode 0600). Never overwrites an existing file."""
    from bot.settings import Settings
    from storage.crypto import MasterKeyring

    target = path or Settings().master_key_file  # key generation needs no other setting
    ring = MasterKeyring.generate()
    ring.create_file(target)
    click.echo(f"Wrote master key {ring.primary_id} to {target} (mode 0600). Back it up "
               "somewhere safe and separate from database backups.")


def _key_file_settings() -> Any:
    settings = _settings()
    if settings.master_keys is not None and settings.master_keys.get_secret_value().strip():
        raise CliError("STEADFAST_MASTER_KEYS is set: key rotation manages the key file only. "
                       "Unset it and point STEADFAST_MASTER_KEY_FILE at the key file.")
    return settings


@keys.command("rotate")
@friendly
def keys_rotate() -> None:
    """Add a new primary master key and re-wrap every data key under it."""
    from bot.bootstrap import load_keyring
    from journal.clock import SystemClock
    from storage.keyring import KeyringService
    from storage.uow import Store

    settings = _key_file_settings()
    old_ring = load_keyring(settings)

    async def check() -> None:  # the keys in the file must open the database first
        await (await _checked_store(settings)).close()

    run_async(check())
    new_ring = old_ring.with_new_primary()
    # The file is written first and keeps the old keys, so a crash between the two steps
    # leaves every data key readable; a running bot reads it on SIGHUP or when it meets
    # the new key's id.
    new_ring.replace_file(settings.master_key_file)

    async def go() -> int:
        store = Store.open(settings.database_url, new_ring)
        try:
            return await KeyringService(store=store, clock=SystemClock()).rewrap(new_ring)
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
    from bot.bootstrap import load_keyring
    from journal.clock import SystemClock
    from storage.keyring import KeyringService

    settings = _key_file_settings()
    ring = load_keyring(settings)

    async def check() -> Any:
        store = await _checked_store(settings)  # the keys must open the database first
        try:
            smaller = ring.without(key_id)
            await KeyringService(store=store, clock=SystemClock()).retire(key_id)
        finally:
            await store.close()
        return smaller

    smaller = run_async(check())
    smaller.replace_file(settings.master_key_file)
    click.echo(f"Retired master key {key_id}.")


@keys.command("status")
@friendly
def keys_status() -> None:
    """Show configured master keys, how many data keys each one wraps, and whether they
    open what the database holds (exit 2 when they do not)."""
    from bot.bootstrap import check_database, check_keys_open_database, load_keyring, open_store
    from bot.settings import SettingsError
    from journal.clock import SystemClock
    from storage.keyring import KeyringService

    settings = _settings()
    ring = load_keyring(settings)

    async def go() -> tuple[dict[str, int], str | None]:
        await check_database(settings)
        store = open_store(settings, ring)
        try:
            in_use = await KeyringService(store=store, clock=SystemClock()).in_use()
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


# -- clients -------------------------------------------------------------------------------
@main.group()
def client() -> None:
    """Clients by their pseudonymous code."""


@client.command("erase")
@click.argument("code")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@friendly
def client_erase(code: str, yes: bool) -> None:
    """Destroy a client's data key: every record of theirs becomes unreadable, for good."""
    if not yes:
        if not sys.stdin.isatty():
            raise CliError("standard input is not a terminal: pass --yes to erase without "
                           "typing the client code", 2)
        typed = click.prompt(f"Every record of client {code.strip().upper()} becomes "
                             "unreadable, for good. Type the client code to confirm",
                             default="", show_default=False)
        if typed.strip().upper() != code.strip().upper():
            raise CliError("the typed code does not match: nothing was erased", 1)
    receipt = with_admin(lambda admin: admin.erase_client(code))
    state = "destroyed" if receipt.key_destroyed else "was already destroyed"
    click.echo(f"Client {receipt.code}: data key {state}; their records are unreadable.")


def with_store(body: Callable[[Any, Any, Any], Coroutine[Any, Any, T]]) -> T:
    """Open the store, run body(store, clock, settings), always close the store."""
    from journal.clock import SystemClock

    settings = _settings()

    async def go() -> T:
        store = await _checked_store(settings)
        try:
            return await body(store, SystemClock(), settings)
        finally:
            await store.close()

    return run_async(go())


@client.command("reassign")
@click.argument("code")
@click.option("--to", "to_telegram_id", type=click.IntRange(min=1), required=True,
              help="Telegram id of the clinician or supervisor who takes the client over.")
@friendly
def client_reassign(code: str, to_telegram_id: int) -> None:
    """Move a client to another clinician's caseload; both clinicians are told."""
    from journal.review.caseload import CaseloadService

    async def go(store: Any, clock: Any, settings: Any) -> Any:
        service = CaseloadService(clock=clock, staff_language=settings.default_language)
        async with store.transaction() as uow:
            return await service.reassign(uow, code, to_telegram_id)

    moved = with_store(go)
    before = moved.before.name if moved.before else "nobody"
    if moved.before is not None and moved.before.id == moved.after.id:
        click.echo(f"Client {moved.client.code} is already on the caseload of {before}.")
        return
    click.echo(f"Client {moved.client.code} moved from {before} to {moved.after.name} "
               f"(Telegram {moved.after.telegram_id}).")


# -- reports -------------------------------------------------------------------------------
@main.command("report")
@click.argument("code")
@click.option("--days", type=click.IntRange(1, 366), default=30, show_default=True,
              help="How many days, ending today, the report covers.")
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Where to write the PDF (default: steadfast-CODE-DATE.pdf here).")
@friendly
def report(code: str, days: int, output: Path | None) -> None:
    """Write a client's session report (PDF): the same file /report sends in the bot.

    The file holds decrypted health information: it is written readable by you only
    (mode 0600), and the audit trail records that it was made."""
    import os

    from journal.questionnaire import load_questionnaire
    from journal.review.report import build_report, report_filename
    from journal.review.service import ReviewService
    from journal.risk import load_rules

    async def go(store: Any, clock: Any, settings: Any) -> Any:
        questionnaire = load_questionnaire(settings.questionnaire)
        service = ReviewService(
            clock=clock, questionnaire=questionnaire,
            rules=load_rules(settings.risk_rules, questionnaire=questionnaire),
            staff_language=settings.default_language,
            display_timezone=settings.default_timezone)
        async with store.transaction() as uow:
            return await service.report_for_admin(uow, code, days)

    data = with_store(go)
    pdf = build_report(data)
    target = output or Path(report_filename(data.client_code, data.end))
    descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)  # also when an older file was there with wider rights
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pdf)
    click.echo(f"Wrote the {data.period_days}-day report of client {data.client_code} to "
               f"{target} ({len(pdf) // 1024} KiB).")


# -- audit ---------------------------------------------------------------------------------
@main.group()
def audit() -> None:
    """The tamper-evident audit trail."""


@audit.command("verify")
@friendly
def audit_verify() -> None:
    """Check the audit chain; exit 1 naming the first broken link."""
    verdict = with_admin(lambda admin: admin.verify_audit())
    if verdict.ok:
        click.echo(f"Audit trail intact: {verdict.checked} events.")
        return
    raise CliError(f"audit trail broken at event {verdict.broken_seq}: {verdict.reason} "
                   f"({verdict.checked} events verified before it)")


@audit.command("show")
@click.option("--client", "code", default=None, help="Only events about this client code.")
@click.option("--limit", type=click.IntRange(1, 10000), default=200)
@friendly
def audit_show(code: str | None, limit: int) -> None:
    """List audit events, oldest first."""
    rows = with_admin(lambda admin: admin.audit_events(code, limit))
    for e in rows:
        click.echo(f"{e.seq:>6}  {e.at:%Y-%m-%d %H:%M:%S}Z  {e.actor:<22} {e.action:<22} "
                   f"{e.detail}")
    if not rows:
        click.echo("No audit events.")


# -- outbox --------------------------------------------------------------------------------
@main.group()
def outbox() -> None:
    """Messages waiting to reach Telegram."""


@outbox.command("status")
@friendly
def outbox_status() -> None:
    """Counts of queued, retrying, dead, expired and sent messages."""
    counts = with_admin(lambda admin: admin.outbox_counts())
    # expired: no longer useful when Telegram could take it (alert handled, window closed).
    click.echo(f"queued: {counts.queued}\nretrying: {counts.retrying}\ndead: {counts.dead}\n"
               f"expired: {counts.expired}\nsent: {counts.sent}")
    if counts.dead:
        sys.exit(1)


# -- the bot -------------------------------------------------------------------------------
def _configure_logging(level: str) -> None:
    import logging

    logging.basicConfig(level=getattr(logging, level), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # aiohttp's access log and aiogram's event log would record who wrote when; the
    # bot's own log lines carry only what an operator needs.
    logging.getLogger("aiogram.event").setLevel(logging.WARNING)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    # Alembic's "Context impl ..." lines are noise at start; DEBUG still shows them.
    logging.getLogger("alembic").setLevel(logging.DEBUG if level == "DEBUG" else logging.WARNING)


def _check_data_files(settings: Any) -> None:
    """A program's questionnaire or rules with a typo stop the bot before any client sees
    them, with every problem named by its item or rule id."""
    from journal.questionnaire import DataFileError, load_questionnaire
    from journal.risk import load_rules

    try:
        load_rules(settings.risk_rules, questionnaire=load_questionnaire(settings.questionnaire))
    except DataFileError as exc:
        raise CliError(str(exc), 2) from None


@main.command("run")
@click.option("--webhook", is_flag=True, help="Serve a webhook instead of long polling.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Webhook listen address.")
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True)
@click.option("--path", default="/telegram/webhook", show_default=True, help="Webhook path.")
@click.option("--secret", envvar="STEADFAST_WEBHOOK_SECRET", default=None,
              help="Secret token Telegram sends in X-Telegram-Bot-Api-Secret-Token "
                   "(or STEADFAST_WEBHOOK_SECRET).")
@click.option("--public-url", default=None,
              help="If given, call setWebhook with this public URL on start.")
@friendly
def run(webhook: bool, host: str, port: int, path: str, secret: str | None,
        public_url: str | None) -> None:
    """Run the bot: migrate the database, then poll (or serve a webhook) until stopped."""
    settings = _settings()
    _check_data_files(settings)
    settings.require_token()
    from bot.bootstrap import check_database

    run_async(check_database(settings))
    _configure_logging(settings.log_level)
    from bot.app import run_bot
    from bot.runtime import WebhookConfig

    config = None
    if webhook:
        if not secret or len(secret) < 16 or not all(c.isalnum() or c in "_-" for c in secret):
            raise CliError("--webhook needs --secret: 16-256 letters, digits, _ or -", 2)
        config = WebhookConfig(host=host, port=port, path=path, secret=secret,
                               public_url=public_url)
    run_async(run_bot(settings, webhook=config))


@main.command("demo")
@click.option("--keep", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Keep the demo's database and key in this (empty or new) folder.")
@friendly
def demo(keep: Path | None) -> None:
    """Show the whole loop with no token: emulator, bot, clinician, client."""
    import logging

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    from bot.demo import run_demo

    run_demo(keep)


if __name__ == "__main__":  # pragma: no cover
    main()
