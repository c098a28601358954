"""The checks before anything is served: the database answers and the keys open it; and
the keys and the store they open, from the settings.

Each failure is a settings error (exit 2) naming the setting and the cause."""

from __future__ import annotations

import ipaddress
import logging
import os
from datetime import datetime
from pathlib import Path

from app.settings import Settings, SettingsError
from storage.audit import CheckpointFile
from storage.crypto import KeyMismatchError, KeyringError, MasterKeyring
from storage.uow import Store

log = logging.getLogger(__name__)


# -- keys and the store (here, not in app/composition.py, so that opening the store
# imports no service) ------------------------------------------------------------------
def key_setting(settings: Settings) -> str:
    """The setting the master keys come from: the inline keys win over the file."""
    if settings.master_keys is not None and settings.master_keys.get_secret_value().strip():
        return "STEADFAST_MASTER_KEYS"
    return "STEADFAST_MASTER_KEY_FILE"


def load_keyring(settings: Settings) -> MasterKeyring:
    """STEADFAST_MASTER_KEYS wins over the key file when both are present. Keys that cannot
    be read are a settings error (exit 2) naming the setting they came from."""
    try:
        if key_setting(settings) == "STEADFAST_MASTER_KEYS":
            assert settings.master_keys is not None
            return MasterKeyring.parse(settings.master_keys.get_secret_value())
        return MasterKeyring.load_file(settings.master_key_file)
    except KeyringError as exc:
        raise SettingsError(f"{key_setting(settings)}: {exc}") from None


def audit_checkpoint_path(settings: Settings) -> Path | None:
    """The audit checkpoint's file: the setting, else beside the key file (none when the
    keys are given inline and the setting is not)."""
    if settings.audit_checkpoint_file is not None:
        return settings.audit_checkpoint_file
    if key_setting(settings) == "STEADFAST_MASTER_KEYS":
        return None
    key_file = settings.master_key_file
    return key_file.with_name(key_file.name + ".audit-checkpoint")


def _key_file_signature(settings: Settings) -> object:
    info = os.stat(settings.master_key_file)
    return (info.st_ino, info.st_size, info.st_mtime_ns)


def open_store(settings: Settings, ring: MasterKeyring | None = None) -> Store:
    """A store whose keys can be read again while it runs (SIGHUP, an unknown master key
    id, a changed key file); inline STEADFAST_MASTER_KEYS cannot change under a process."""
    from_file = key_setting(settings) == "STEADFAST_MASTER_KEY_FILE"
    checkpoint = audit_checkpoint_path(settings)
    return Store.open(
        settings.database_url, ring or load_keyring(settings),
        reload=(lambda: MasterKeyring.load_file(settings.master_key_file)) if from_file else None,
        signature=(lambda: _key_file_signature(settings)) if from_file else None,
        audit_checkpoint=CheckpointFile(checkpoint) if checkpoint is not None else None)


async def check_audit_trail(store: Store, now: datetime) -> None:
    """Before serving: the trail reaches the checkpoint kept outside the database and holds
    the event it saw. A trail wiped, cut or rolled back to an older copy refuses the start:
    serving would append onto it and move the checkpoint, erasing the evidence. A missing
    checkpoint is what an upgrade or a new host looks like too, so it is written at the
    head with a loud warning. Without a checkpoint (keys given inline and no file set, or
    none written yet) an empty trail beside clients or staff is a loud warning only, and
    stays for `verify` to report. An empty trail begins with a genesis event."""
    from storage import audit

    checkpoint = store.audit_checkpoint
    async with store.unit_of_work() as uow:
        problem, head = await audit.check_head(uow.session, uow.vault, now, checkpoint)
        missing = checkpoint is not None and not checkpoint.path.exists()
        # What is wrong besides a missing checkpoint (a missing one is only that).
        others = (await audit.check_head(uow.session, uow.vault, now, None))[0] \
            if problem is not None and missing else problem
        if others is not None and (checkpoint is None or (missing and head == 0)):
            # Nothing outside the database to hold it against (keys given inline, or no
            # checkpoint written yet): an empty trail beside people is said loudly and
            # left as it is for `steadfast audit verify` (no genesis over it).
            log.warning("AUDIT TRAIL: %s (see `steadfast audit verify`)", others)
            if checkpoint is None:
                log.warning("no audit checkpoint is kept (keys given inline): a wiped or "
                            "rolled-back audit trail cannot be detected; set "
                            "STEADFAST_AUDIT_CHECKPOINT_FILE")
            return
        if others is not None:
            raise SettingsError(
                f"the audit trail does not match its checkpoint: {problem}. See `steadfast "
                "audit verify`; after a deliberate restore, `steadfast audit checkpoint "
                "--accept` seals the restored trail")
        if problem is not None:  # only the checkpoint is missing, on a trail with events
            assert checkpoint is not None
            log.warning("AUDIT CHECKPOINT MISSING at %s while the trail has %d events: "
                        "writing it at event %d now; if it should have been there, the "
                        "trail may have been rolled back (compare with the last "
                        "'audit checkpoint' line in the logs)", checkpoint.path, head, head)
            await audit.seal_checkpoint(uow.session, uow.vault, now, checkpoint)
        elif checkpoint is None:
            log.warning("no audit checkpoint is kept (keys given inline): a wiped or "
                        "rolled-back audit trail cannot be detected; set "
                        "STEADFAST_AUDIT_CHECKPOINT_FILE")
        await audit.genesis(uow.session, uow.vault, now, checkpoint)
        await uow.commit()


def is_loopback(host: str) -> bool:
    """Only this machine can reach `host`: a 127.x or ::1 address, or localhost. An empty
    host or 0.0.0.0 means every address; a name other than localhost may resolve anywhere."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_metrics_exposure(settings: Settings, hosts: list[str]) -> None:
    """Metrics name counts a stranger should not read (clients, alerts, the outbox): served
    on an address other machines reach, they need STEADFAST_METRICS_USER and _PASSWORD.
    `hosts` are the addresses this process serves /metrics on."""
    if not settings.metrics_enabled or settings.metrics_user:
        return
    exposed = [host for host in hosts if not is_loopback(host)]
    if exposed:
        raise SettingsError(
            "STEADFAST_METRICS_USER is not set, and metrics are on (STEADFAST_METRICS_ENABLED) "
            f"at {exposed[0] or '0.0.0.0'}, which other machines reach: set "
            "STEADFAST_METRICS_USER and STEADFAST_METRICS_PASSWORD, or serve on 127.0.0.1")


async def check_keys_open_database(store: Store, settings: Settings) -> None:
    """Before serving: the loaded keys open every system data key and one client data key
    per master key id in use (an empty database passes). Otherwise a settings error."""
    async with store.unit_of_work() as uow:
        try:
            await uow.vault.check_opens()
        except KeyMismatchError as exc:
            if exc.missing:
                reason = f"master key {exc.master_id!r} is missing, and data keys need it"
            else:
                reason = f"master key {exc.master_id!r} does not open the database's data keys"
            raise SettingsError(f"{key_setting(settings)}: {reason} (wrong key file?)") from None


async def check_database(settings: Settings) -> None:
    """The database can be reached: an SQLite file's folder exists, a PostgreSQL server
    answers and holds the database. Otherwise a settings error naming the cause."""
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from storage.db import create_engine, is_sqlite

    url = make_url(settings.database_url)
    if is_sqlite(settings.database_url):
        folder = _sqlite_folder(url.database)
        if folder is not None and not folder.is_dir():
            raise SettingsError(f"STEADFAST_DATABASE_URL: the folder {folder} of the SQLite "
                                "database does not exist")
        return
    engine = create_engine(settings.database_url, connect_args={"timeout": 10})
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as exc:
        raise SettingsError("STEADFAST_DATABASE_URL: " + _postgres_problem(exc, url)) from None
    finally:
        await engine.dispose()


async def open_checked_store(settings: Settings) -> Store:
    """The store, once the database answers and the loaded keys open its data keys."""
    await check_database(settings)
    store = open_store(settings)
    try:
        await check_keys_open_database(store, settings)
    except BaseException:
        await store.close()
        raise
    return store


def _sqlite_folder(database: str | None) -> Path | None:
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database).expanduser().absolute().parent


def _postgres_problem(exc: BaseException, url: object) -> str:
    from sqlalchemy.engine import URL

    assert isinstance(url, URL)
    chain: list[BaseException] = []
    seen: BaseException | None = exc
    while seen is not None and seen not in chain:
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    names = {type(e).__name__ for e in chain}
    where = f"{url.host or 'localhost'}:{url.port or 5432}"
    if "InvalidCatalogNameError" in names:
        return f"the PostgreSQL server at {where} has no database {url.database!r}"
    if names & {"InvalidPasswordError", "InvalidAuthorizationSpecificationError"}:
        return f"the PostgreSQL server at {where} refused the login of {url.username!r}"
    if any(isinstance(e, (OSError, TimeoutError)) for e in chain):
        return f"the PostgreSQL server at {where} does not answer"
    return f"cannot connect to PostgreSQL at {where} ({type(exc).__name__})"
