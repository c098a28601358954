"""The instances of one program on one PostgreSQL database: how many are alive, and which
one delivers the outbox.

Each instance holds, on a connection of its own, a shared advisory lock (it is alive) and,
if it won it, the exclusive delivery lock. PostgreSQL lets go of both the moment that
connection ends, a SIGKILL included (the kernel closes the socket), so nothing here is a
heartbeat that must go stale before the others notice: `live()` counts the shared locks
held now, and the next instance asking for the delivery lock gets it.

SQLite is one process by design: there `live()` is 1 and this instance always delivers."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Final, TypeVar

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.pool import NullPool

from storage.db import create_engine, is_sqlite

T = TypeVar("T")

log = logging.getLogger(__name__)

# Two-int advisory lock keys (pg_locks shows them as classid/objid with objsubid 2), apart
# from the scheduler tick's one-bigint key: b"stdf" and then what the lock is for.
NAMESPACE: Final = int.from_bytes(b"stdf", "big")
ALIVE: Final = int.from_bytes(b"live", "big")
DELIVERY: Final = int.from_bytes(b"dlvr", "big")

_COUNT = text(
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
    " AND classid = :ns AND objid = :key AND objsubid = 2"
    " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())")


class Instances:
    """This instance's membership (`live`) and its claim on delivery (`lead`)."""

    def __init__(self, database_url: str) -> None:
        self.postgres = not is_sqlite(database_url)
        # Its own engine without a pool: closing the connection must end the session (and
        # let go of its locks), not park it in a pool still holding them.
        self._engine: AsyncEngine | None = (
            create_engine(database_url, poolclass=NullPool) if self.postgres else None)
        self._conn: AsyncConnection | None = None
        # One connection, one query at a time: membership and delivery ask from two tasks.
        self._turn = asyncio.Lock()
        self.leading = not self.postgres

    async def _connection(self) -> AsyncConnection:
        """The connection that holds this instance's locks, (re)opened and registered."""
        if self._conn is not None and not self._conn.closed:
            return self._conn
        self.leading = False  # a new connection holds nothing yet
        assert self._engine is not None
        conn = await self._engine.connect()
        try:
            # Autocommit: session-level locks on an idle connection, no transaction open.
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("SELECT pg_advisory_lock_shared(:ns, :key)"),
                               {"ns": NAMESPACE, "key": ALIVE})
        except BaseException:
            await conn.close()
            raise
        self._conn = conn
        return conn

    async def register(self) -> None:
        """Count this instance among the live ones."""
        if self.postgres:
            await self._checked(self._connection)

    async def live(self) -> int:
        """How many instances hold their membership now (at least this one)."""
        if not self.postgres:
            return 1

        async def count() -> int:
            conn = await self._connection()
            return int((await conn.execute(_COUNT, {"ns": NAMESPACE, "key": ALIVE})).scalar_one())

        return max(1, await self._checked(count))

    async def lead(self) -> bool:
        """True while this instance holds the delivery lock (tried for when it does not);
        `leading` says whether it held it at the last look."""
        if not self.postgres:
            return True

        async def take() -> bool:
            conn = await self._connection()
            if self.leading:  # still ours, as long as the connection answers
                await conn.execute(text("SELECT 1"))
                return True
            won = (await conn.execute(text("SELECT pg_try_advisory_lock(:ns, :key)"),
                                      {"ns": NAMESPACE, "key": DELIVERY})).scalar_one()
            return bool(won)

        self.leading = await self._checked(take)
        return self.leading

    async def _checked(self, call: Callable[[], Awaitable[T]]) -> T:
        """Run `call`; a connection that failed is dropped (with the locks it held) and
        the failure raised, so the next call starts from a fresh one."""
        async with self._turn:
            try:
                return await call()
            except Exception:
                self.leading = False
                await self._drop()
                raise

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                await conn.invalidate()
            except Exception as exc:  # already gone
                log.debug("instance connection dropped: %s", type(exc).__name__)

    async def close(self) -> None:
        """Give up membership and delivery at once (a clean stop), not at the time-out."""
        async with self._turn:
            await self._close()

    async def _close(self) -> None:
        conn, self._conn = self._conn, None
        self.leading = not self.postgres
        if conn is not None:
            try:
                await conn.close()  # ends the session: its advisory locks go with it
            except Exception as exc:
                log.debug("instance connection close failed: %s", type(exc).__name__)
        if self._engine is not None:
            await self._engine.dispose()
