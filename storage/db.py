"""Engine construction: SQLite in WAL mode with foreign keys and serialised writers, or PostgreSQL."""

from __future__ import annotations

import os
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

# Where a session keeps the callbacks to run once its transaction commits (UnitOfWork.
# after_commit; the audit trail's checkpoint moves that way too).
AFTER_COMMIT = "uow.after_commit"


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """Create the async engine with the pragmas and transaction mode Steadfast relies on."""
    if not is_sqlite(url):
        kwargs.setdefault("pool_pre_ping", True)
        if make_url(url).get_driver_name() == "asyncpg" and "connect_args" not in kwargs:
            # pg_stat_activity (and pg_locks joined to it) then says which process holds
            # what: operators and the multi-instance story tell the instances apart by it.
            kwargs["connect_args"] = {
                "server_settings": {"application_name": f"steadfast-{os.getpid()}"}}
        return create_async_engine(url, **kwargs)

    from storage.sqlite_driver import one_trip_dbapi

    engine = create_async_engine(url, connect_args={"timeout": 30}, module=one_trip_dbapi(),
                                 **kwargs)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from the driver so that every transaction can begin
        # IMMEDIATE: writers then queue on busy_timeout instead of failing mid-transaction
        # with SQLITE_BUSY when a read turns into a write (SQLAlchemy's documented recipe).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)

