"""The command line never shows a traceback: each broken setting gives one line naming the
cause and the setting, with exit code 2; erasure asks for the client code."""

from __future__ import annotations

import os
import pty
import socket
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cli import main
from journal.clock import FakeClock
from storage.crypto import MasterKeyring
from storage.uow import Store
from tests.conftest import PG_ADMIN_URL, Database
from tests.e2e import ROOT
from tests.helpers import make_client, make_clinician

pytestmark = pytest.mark.faults

STEADFAST = [sys.executable, "-m", "cli"]


def cli(args: list[str], env: dict[str, str], cwd: Path,
        **kwargs: Any) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("STEADFAST_")}
    full_env.update(env)
    full_env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(STEADFAST + args, env=full_env, cwd=cwd, capture_output=True,
                          text=True, timeout=120, **kwargs)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # nothing listens once the socket is closed


def one_line(result: subprocess.CompletedProcess[str], code: int = 2) -> str:
    """The single line on standard error of a refused command (log lines aside)."""
    assert result.returncode == code, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("steadfast:")]
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.fixture
def key_env(tmp_path: Path) -> dict[str, str]:
    MasterKeyring.generate().create_file(tmp_path / "steadfast.key")
    return {"STEADFAST_MASTER_KEY_FILE": str(tmp_path / "steadfast.key"),
            "STEADFAST_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/steadfast.db"}


def test_a_key_file_that_is_not_utf8_is_named(key_env: dict[str, str], tmp_path: Path) -> None:
    key_file = Path(key_env["STEADFAST_MASTER_KEY_FILE"])
    key_file.write_bytes(b"\xff\xfe" + key_file.read_bytes())
    line = one_line(cli(["clinician", "list"], key_env, tmp_path))
    assert line == f"steadfast: STEADFAST_MASTER_KEY_FILE: master key file {key_file} is not UTF-8 text"


@pytest.mark.parametrize("command", [["db", "upgrade"], ["clinician", "list"], ["run"]])
def test_an_sqlite_path_in_a_missing_folder_is_named(
        command: list[str], key_env: dict[str, str], tmp_path: Path) -> None:
    env = {**key_env, "STEADFAST_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/nowhere/x.db",
           "STEADFAST_BOT_TOKEN": "123456:TEST-TOKEN"}
    line = one_line(cli(command, env, tmp_path))
    assert line == (f"steadfast: STEADFAST_DATABASE_URL: the folder {tmp_path}/nowhere of the "
                    "SQLite database does not exist")
    assert not (tmp_path / "nowhere").exists()


def test_a_postgresql_server_that_does_not_answer_is_named(
        key_env: dict[str, str], tmp_path: Path) -> None:
    port = closed_port()
    env = {**key_env,
           "STEADFAST_DATABASE_URL": f"postgresql+asyncpg://postgres@127.0.0.1:{port}/steadfast"}
    line = one_line(cli(["clinician", "list"], env, tmp_path))
    assert line == (f"steadfast: STEADFAST_DATABASE_URL: the PostgreSQL server at 127.0.0.1:{port} "
                    "does not answer")


@pytest.mark.postgres
@pytest.mark.parametrize("command", [["db", "upgrade"], ["clinician", "list"]])
def test_a_postgresql_database_that_does_not_exist_is_named(
        command: list[str], pg_template: str, key_env: dict[str, str], tmp_path: Path) -> None:
    missing = f"steadfast_missing_{uuid.uuid4().hex[:8]}"
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    env = {**key_env, "STEADFAST_DATABASE_URL": f"{base}/{missing}"}
    line = one_line(cli(command, env, tmp_path))
    assert line.startswith("steadfast: STEADFAST_DATABASE_URL: the PostgreSQL server at ")
    assert line.endswith(f"has no database {missing!r}")


def test_run_against_a_telegram_url_that_does_not_answer(
        key_env: dict[str, str], tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    env = {**key_env, "STEADFAST_BOT_TOKEN": "123456:TEST-TOKEN",
           "STEADFAST_TELEGRAM_API_URL": url}
    line = one_line(cli(["run"], env, tmp_path))
    assert line.startswith(f"steadfast: STEADFAST_TELEGRAM_API_URL {url} does not answer (")
    assert "TEST-TOKEN" not in line


def test_run_against_a_telegram_host_name_that_does_not_resolve(
        key_env: dict[str, str], tmp_path: Path) -> None:
    url = "http://telegram-api.invalid"  # .invalid never resolves (RFC 2606)
    env = {**key_env, "STEADFAST_BOT_TOKEN": "123456:TEST-TOKEN",
           "STEADFAST_TELEGRAM_API_URL": url}
    line = one_line(cli(["run"], env, tmp_path))
    assert line.startswith(f"steadfast: STEADFAST_TELEGRAM_API_URL {url} does not answer (")
    assert "TEST-TOKEN" not in line


async def test_run_with_a_token_telegram_refuses(
        emulator: Any, key_env: dict[str, str], tmp_path: Path) -> None:
    import asyncio

    env = {**key_env, "STEADFAST_BOT_TOKEN": "123456:REVOKED-TOKEN",
           "STEADFAST_TELEGRAM_API_URL": emulator.base_url}
    result = await asyncio.to_thread(cli, ["run"], env, tmp_path)  # the emulator answers here
    line = one_line(result)
    assert line == ("steadfast: STEADFAST_BOT_TOKEN was refused by Telegram (401 Unauthorized): "
                    "check the token BotFather gave")
    assert "REVOKED" not in result.stderr + result.stdout


# -- erasure asks for the client code -------------------------------------------------------
@pytest.fixture
async def erasable(sqlite_database: Database, ring: MasterKeyring, clock: FakeClock,
                   tmp_path: Path) -> tuple[dict[str, str], str, Store]:
    ring.create_file(tmp_path / "steadfast.key")
    store = Store.open(sqlite_database.url, ring)
    client = await make_client(store, clock, await make_clinician(store, clock), telegram_id=9)
    env = {"STEADFAST_MASTER_KEY_FILE": str(tmp_path / "steadfast.key"),
           "STEADFAST_DATABASE_URL": sqlite_database.url}
    return env, client.code, store


async def key_destroyed(store: Store, code: str) -> bool:
    async with store.unit_of_work() as uow:
        client = await uow.clients.by_code(code)
        assert client is not None
        try:
            await uow.vault.client_key(client.id)
        except Exception as exc:
            return type(exc).__name__ == "KeyErasedError"
        return False


async def test_erase_without_a_terminal_needs_yes(
        erasable: tuple[dict[str, str], str, Store]) -> None:
    env, code, store = erasable
    try:
        result = CliRunner().invoke(main, ["client", "erase", code], env=env, input=code + "\n")
        assert result.exit_code == 2
        assert result.stderr == ("steadfast: standard input is not a terminal: pass --yes to "
                                 "erase without typing the client code\n")
        assert not await key_destroyed(store, code)
    finally:
        await store.close()


def typed_at_a_terminal(args: list[str], env: dict[str, str], cwd: Path,
                        typed: str) -> tuple[int, str]:
    """Run the command with a pseudo-terminal as standard input and type a line into it."""
    leader, follower = pty.openpty()
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("STEADFAST_")}
    full_env.update(env)
    full_env["PYTHONPATH"] = str(ROOT)
    process = subprocess.Popen(STEADFAST + args, env=full_env, cwd=cwd, stdin=follower,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    os.close(follower)
    os.write(leader, typed.encode() + b"\n")
    output, _ = process.communicate(timeout=120)
    os.close(leader)
    return process.returncode, output.decode()


async def test_erase_at_a_terminal_asks_for_the_client_code(
        erasable: tuple[dict[str, str], str, Store], tmp_path: Path) -> None:
    import asyncio

    env, code, store = erasable
    try:
        code_wrong, shown = await asyncio.to_thread(
            typed_at_a_terminal, ["client", "erase", code], env, tmp_path, "y")
        assert code_wrong == 1 and "Type the client code to confirm" in shown
        assert "the typed code does not match: nothing was erased" in shown
        assert not await key_destroyed(store, code)

        code_right, shown = await asyncio.to_thread(
            typed_at_a_terminal, ["client", "erase", code], env, tmp_path, code.lower())
        assert code_right == 0, shown
        assert f"Client {code}: data key destroyed" in shown
        assert await key_destroyed(store, code)
    finally:
        await store.close()


# -- unknown STEADFAST_ names -----------------------------------------------------------------
def test_an_unknown_setting_name_is_a_warning_naming_the_closest(
        key_env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("STEADFAST_LOG_LEVL=DEBUG\n", encoding="utf-8")
    env = {**key_env, "STEADFAST_DEFAULT_TIMEZOME": "Europe/Madrid",
           "STEADFAST_WEBHOOK_SECRET": "x" * 20, "STEADFAST_TEST_PG_URL": "postgresql://x/y",
           "STEADFAST_REQUIRE_POSTGRES": "1"}
    assert cli(["db", "upgrade"], env, tmp_path).returncode == 0
    result = cli(["clinician", "list"], env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        "steadfast: warning: STEADFAST_DEFAULT_TIMEZOME is not a Steadfast setting and is "
        "ignored; did you mean STEADFAST_DEFAULT_TIMEZONE?",
        "steadfast: warning: STEADFAST_LOG_LEVL is not a Steadfast setting and is ignored; "
        "did you mean STEADFAST_LOG_LEVEL?",
    ]
    assert "No clinicians yet" in result.stdout
