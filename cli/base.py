"""What every command shares: the `steadfast` group, one-line failures, and the services."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import os
import sys
from collections.abc import Callable, Coroutine, Iterator
from typing import TYPE_CHECKING, Any, TypeVar, cast

import click

if TYPE_CHECKING:
    from app.composition import Services
    from app.settings import Settings

T = TypeVar("T")

PRIVATE_UMASK = 0o077


class CliError(Exception):
    """A failure that ends the command with one line and the given exit code."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


class TelegramId(click.ParamType):
    """A Telegram user id: ASCII digits, 1 to 2**63 - 1 (a 64-bit column, as Telegram's ids
    are). A bad value is one line and exit code 2 like any bad argument, before the database
    is opened; int() alone would take "٣" as 3 and leave a 24-digit id to overflow there."""

    name = "telegram_id"
    LARGEST = 2**63 - 1

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            text = str(value)
        else:
            text = str(value).strip()
        if (text.isascii() and text.isdigit() and len(text) <= len(str(self.LARGEST))
                and 1 <= int(text) <= self.LARGEST):
            return int(text)
        self.fail(f"{text[:40]!r} is not a Telegram id (a whole number from 1 to "
                  f"{self.LARGEST})", param, ctx)


TELEGRAM_ID = TelegramId()


def _fail(message: str, code: int) -> None:
    click.echo(f"steadfast: {message}", err=True)
    sys.exit(code)


def friendly(func: Callable[..., T]) -> Callable[..., T]:
    """Turn every expected failure into one clear line and a nonzero exit, no traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        with importing():  # pydantic's and the settings' classes live as long as the process
            from app.settings import SettingsError
            from journal.errors import DataFileError, DomainError
            from storage.crypto import CryptoError

        try:
            return func(*args, **kwargs)
        except SettingsError as exc:
            _fail(str(exc), 2)
        except CliError as exc:
            _fail(str(exc), exc.code)
        except DataFileError as exc:  # the program's questionnaire or rules: a setting
            _fail(str(exc), 2)
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


def load_settings() -> Settings:
    from app.settings import load_settings

    return load_settings()


@contextlib.contextmanager
def importing() -> Iterator[None]:
    """Imports with the cyclic garbage collector held off, and what they made kept out of
    its sight afterwards (gc.freeze). The store's modules (SQLAlchemy, the mapped tables,
    the records) make tens of thousands of objects that live as long as the process; the
    collector, which runs every few hundred new objects and then over the older ones, would
    walk them again and again and free nothing, and once more as the interpreter exits:
    together about a third of an admin command's time. It is back on, for what the command
    itself makes, before the command does its work; a caller that goes on after a command
    (a test) can hand them back with gc.unfreeze()."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()


def with_services(body: Callable[[Services], Coroutine[Any, Any, T]]) -> T:
    """Open the store (once the database answers and the keys open it), build the services
    as the bot does, run body(services), always close the store."""
    with importing():
        from app.checks import open_checked_store
        from app.composition import LazyServices
        from journal.clock import SystemClock

    settings = load_settings()

    async def go() -> T:
        store = await open_checked_store(settings)
        try:
            # Each service is built when the command first asks for it.
            return await body(cast("Services", LazyServices(settings, store, SystemClock())))
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
    # Before any command opens a file: what Steadfast writes (the SQLite database and its
    # -wal and -shm, keys, backups, reports, pg_dump's output) is its owner's alone from its
    # first byte, whatever umask the shell or the service manager handed down.
    os.umask(PRIVATE_UMASK)
