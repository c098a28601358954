"""Shared fixtures: a migrated database per test, on SQLite and on the real PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from journal.clock import FakeClock
from storage.crypto import MasterKeyring
from storage.migrate import upgrade
from storage.uow import Store

PG_ADMIN_URL = os.environ.get("STEADFAST_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REQUIRE_PG = os.environ.get("STEADFAST_REQUIRE_POSTGRES") == "1"
RUN_ID = uuid.uuid4().hex[:8]


def _pg_async_url(database: str) -> str:
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    return f"{base}/{database}"


async def _pg_execute(*statements: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN_URL, timeout=5)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


def _pg_available() -> str | None:
    try:
        asyncio.run(_pg_execute("SELECT 1"))
    except Exception as exc:  # any failure means: no usable server
        return f"PostgreSQL not reachable at {PG_ADMIN_URL}: {type(exc).__name__}"
    return None


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """A migrated template database; each test clones it (CREATE DATABASE ... TEMPLATE)."""
    reason = _pg_available()
    if reason:
        if REQUIRE_PG:
            pytest.fail(reason + " (STEADFAST_REQUIRE_POSTGRES=1)")
        print(f"\nSKIP PostgreSQL tests: {reason}")
        pytest.skip(reason)
    name = f"steadfast_tmpl_{RUN_ID}"
    asyncio.run(_pg_execute(f'DROP DATABASE IF EXISTS "{name}"', f'CREATE DATABASE "{name}"'))
    upgrade(_pg_async_url(name))
    yield name
    asyncio.run(_pg_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


class Database:
    """Where one test's database lives, for tests that inspect it from outside."""

    def __init__(self, kind: str, url: str, path: Path | None = None, name: str | None = None):
        self.kind, self.url, self.path, self.name = kind, url, path, name


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "steadfast.db"
        shutil.copyfile(template, path)
        yield Database("sqlite", f"sqlite+aiosqlite:///{path}", path=path)
        return
    template_name: str = request.getfixturevalue("pg_template")
    name = f"steadfast_t_{RUN_ID}_{uuid.uuid4().hex[:8]}"
    asyncio.run(_pg_execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_name}"'))
    yield Database("postgres", _pg_async_url(name), name=name)
    asyncio.run(_pg_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def ring() -> MasterKeyring:
    return MasterKeyring.generate()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))


@pytest.fixture
async def store(database: Database, ring: MasterKeyring) -> AsyncIterator[Store]:
    s = Store.open(database.url, ring)
    try:
        yield s
    finally:
        await s.close()


@pytest.fixture
def sqlite_database(sqlite_template: Path, tmp_path: Path) -> Database:
    """SQLite only: for end-to-end stories whose storage is covered on both elsewhere."""
    path = tmp_path / "steadfast.db"
    shutil.copyfile(sqlite_template, path)
    return Database("sqlite", f"sqlite+aiosqlite:///{path}", path=path)


@pytest.fixture
async def emulator() -> AsyncIterator[Any]:
    from telegram_emulator import BotAPIEmulator

    emu = BotAPIEmulator(token="123456:TEST-TOKEN", username="steadfast_test_bot")
    await emu.start()
    try:
        yield emu
    finally:
        await emu.stop()


@pytest.fixture
def mailbox() -> Iterator[Any]:
    """A real SMTP server on a free loopback port (aiosmtpd), collecting what it receives."""
    from tests.mailbox import Mailbox

    box = Mailbox().start()
    try:
        yield box
    finally:
        box.stop()


SCREENSHOTS = Path(os.environ.get("STEADFAST_SCREENSHOTS")
                   or Path(__file__).resolve().parents[1] / "build" / "screenshots")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Where the workspace's browser stories left their screenshots (CI prints it)."""
    if SCREENSHOTS.is_dir() and any(SCREENSHOTS.glob("*.png")):
        terminalreporter.write_line(f"workspace screenshots: {SCREENSHOTS}")
