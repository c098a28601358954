"""SQLAlchemy's aiosqlite adapter, each statement one trip to aiosqlite's thread.

SQLAlchemy's adapter goes to aiosqlite's thread and back up to four times a statement (open
a cursor, execute, fetch, close), each trip a thread wake-up, a future and a turn of the
event loop: the largest part of what a button press cost the bot on a busy machine. The
cursor here makes it one trip: the same statements on the same connection, in the same
order and transaction, run in that thread by one function; a rollback with no transaction
open (the pool's, after every commit) makes none. It reaches SQLAlchemy as
create_engine's documented `module` (the DBAPI), so nothing else there changes."""

from __future__ import annotations

import collections
from typing import Any, cast

from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)


class _OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    """A client-side cursor whose statement runs, fetches and closes in one call to
    aiosqlite's thread; its results are kept here (as SQLAlchemy's own cursor keeps its
    fetched rows)."""

    __slots__ = ("_description", "_rowcount", "_lastrowid")

    def __init__(self, adapt_connection: Any) -> None:  # no aiosqlite cursor: no trip
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]
        self._soft_closed_memoized: Any = {}
        self._rows: collections.deque[Any] = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> Any:
        return self._lastrowid

    @property
    def arraysize(self) -> int:
        return 1

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        pass

    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        async with self._adapt_connection._execute_mutex:
            result = await self._connection._execute(_run, self._connection._conn, "execute",
                                                     operation, parameters)
        self._description, rows, self._rowcount, self._lastrowid, open_ = result
        cast("_OneTripConnection", self._adapt_connection)._open = open_
        self._rows = collections.deque(rows)

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> Any:
        async with self._adapt_connection._execute_mutex:
            result = await self._connection._execute(_run, self._connection._conn,
                                                     "executemany", operation,
                                                     seq_of_parameters)
        self._description, rows, self._rowcount, self._lastrowid, open_ = result
        cast("_OneTripConnection", self._adapt_connection)._open = open_
        self._rows = collections.deque(rows)

    async def _async_soft_close(self) -> None:
        return None  # nothing open in the thread

    def close(self) -> None:
        self._rows.clear()

    def setinputsizes(self, *inputsizes: Any) -> None:
        return None

    def nextset(self) -> None:
        return None


def _run(connection: Any, how: str, operation: Any, parameters: Any) -> tuple[Any, ...]:
    """In aiosqlite's thread: one statement, its rows, and the cursor closed."""
    cursor = connection.cursor()
    try:
        if how == "executemany":
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else []
        return (description, rows, cursor.rowcount, cursor.lastrowid,
                connection.in_transaction)
    finally:
        cursor.close()


class _OneTripConnection(AsyncAdapt_aiosqlite_connection):
    """Knows whether a transaction is open, as SQLite said after this connection's last
    statement, so a rollback with none open (the pool's, as each unit of work hands its
    connection back after committing) costs no trip. Until a commit or rollback has gone
    through, the transaction counts as open: a failed one is rolled back for real."""

    __slots__ = ("_open",)
    _cursor_cls = _OneTripCursor

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._open = True  # not known yet

    def rollback(self) -> None:
        if self._open:
            super().rollback()
            self._open = False

    def commit(self) -> None:
        super().commit()
        self._open = False


class _OneTripDBAPI(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> AsyncAdapt_aiosqlite_connection:
        connection = super().connect(*arg, **kw)
        return _OneTripConnection(self, connection._connection)


def one_trip_dbapi() -> AsyncAdapt_aiosqlite_dbapi:
    import sqlite3

    import aiosqlite

    return _OneTripDBAPI(aiosqlite, sqlite3)
