"""SQLite through aiosqlite: each statement one trip to aiosqlite's thread, with the same
results, errors and transactions as SQLAlchemy's own adapter."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from storage.db import create_engine


async def test_a_statement_is_one_trip_to_the_thread_and_answers_as_before(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'one.db'}")
    trips: list[Any] = []
    queue = aiosqlite.Connection._execute

    async def counted(self: Any, fn: Any, *args: Any, **kwargs: Any) -> Any:
        trips.append(fn)
        return await queue(self, fn, *args, **kwargs)

    try:
        async with engine.begin() as c:
            await c.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT UNIQUE)"))
        monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
        async with engine.begin() as c:
            trips.clear()
            inserted = await c.execute(text("INSERT INTO t (v) VALUES ('a') RETURNING id"))
            assert inserted.all() == [(1,)]
            assert len(trips) == 1  # SQLAlchemy's adapter: cursor, execute, fetch, close
            await c.execute(text("INSERT INTO t (v) VALUES (:v)"), [{"v": "b"}, {"v": "c"}])
            changed = await c.execute(text("UPDATE t SET v = v || '!' WHERE v != 'a'"))
            assert changed.rowcount == 2
            assert (await c.execute(text("SELECT v FROM t ORDER BY id"))).scalars().all() == [
                "a", "b!", "c!"]
        with pytest.raises(IntegrityError):
            async with engine.begin() as c:
                await c.execute(text("INSERT INTO t (v) VALUES ('z')"))
                await c.execute(text("INSERT INTO t (v) VALUES ('a')"))
        async with engine.connect() as c:  # the failed transaction left nothing behind
            assert (await c.execute(text("SELECT count(*) FROM t"))).scalar() == 3
    finally:
        await engine.dispose()


async def test_a_connection_handed_back_after_a_commit_costs_no_rollback_trip_and_one_left_open_is_rolled_back(  # noqa: E501
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'back.db'}")
    trips: list[str] = []
    queue = aiosqlite.Connection._execute

    async def counted(self: Any, fn: Any, *args: Any, **kwargs: Any) -> Any:
        trips.append(getattr(fn, "__name__", "?"))
        return await queue(self, fn, *args, **kwargs)

    try:
        async with engine.begin() as c:
            await c.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"))
        monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
        async with engine.begin() as c:  # BEGIN IMMEDIATE, the insert, COMMIT: no rollback
            await c.execute(text("INSERT INTO t (v) VALUES ('kept')"))
        assert trips == ["_run", "_run", "commit"]
        # Handed back with its transaction open (closed, never committed): the pool
        # rolls it back for real, so the write lock is free and nothing of it stays.
        connection = await engine.connect()
        await connection.execute(text("INSERT INTO t (v) VALUES ('dropped')"))
        await connection.close()
        async with engine.begin() as c:
            await c.execute(text("INSERT INTO t (v) VALUES ('after')"))
        async with engine.connect() as c:
            assert (await c.execute(text("SELECT v FROM t ORDER BY id"))).scalars().all() == [
                "kept", "after"]
    finally:
        await engine.dispose()
