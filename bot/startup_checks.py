"""The checks before anything is served: the database answers and the keys open it.

Each failure is a settings error (exit 2) naming the setting and the cause."""

from __future__ import annotations

from pathlib import Path

from bot.composition import key_setting, open_store
from bot.settings import Settings, SettingsError
from storage.crypto import KeyMismatchError
from storage.uow import Store


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
