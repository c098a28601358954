"""End-to-end harness: the real bot, in this process or as a child process, over real HTTP
to the Bot API emulator."""

from __future__ import annotations

import asyncio
import inspect
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from app.settings import Settings
from journal.clock import Clock
from storage.crypto import MasterKeyring
from telegram_emulator import BotAPIEmulator

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "123456:TEST-TOKEN"


def bot_settings(emu: BotAPIEmulator, database_url: str, ring: MasterKeyring,
                 **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "bot_token": emu.token, "telegram_api_url": emu.base_url, "database_url": database_url,
        "master_keys": ",".join(ring.dump().splitlines()[1:]), "default_timezone": "UTC",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


class InProcessBot:
    """run_bot() as a task on the test's loop: fast to start, same code path as `run`."""

    def __init__(self, settings: Settings, *, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock = clock
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> InProcessBot:
        from process.run import run_bot

        ready = asyncio.Event()
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(run_bot(
            self.settings, stop=self._stop, clock=self.clock, migrate=False,
            handle_signals=False, ready=ready))
        waiter = asyncio.create_task(ready.wait())
        done, _ = await asyncio.wait({self._task, waiter}, timeout=60,
                                     return_when=asyncio.FIRST_COMPLETED)
        if self._task in done:
            waiter.cancel()
            self._task.result()  # raises what stopped it
        assert waiter in done, "bot did not become ready"
        return self

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await asyncio.wait_for(self._task, timeout=60)
            self._task = None


class ChildBot:
    """`steadfast run` as a real OS process, for restarts, SIGTERM and kill -9."""

    def __init__(self, settings: Settings, cwd: Path, *, args: tuple[str, ...] = (),
                 key_file: Path | None = None, extra_env: dict[str, str] | None = None) -> None:
        """With key_file the process reads its master keys from that file
        (STEADFAST_MASTER_KEY_FILE) instead of the settings' STEADFAST_MASTER_KEYS."""
        self.settings = settings
        self.cwd = cwd
        self.args = args
        self.key_file = key_file
        self.extra_env = extra_env or {}
        self.process: subprocess.Popen[bytes] | None = None
        self.log = cwd / "bot.log"
        self._log_from = 0

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("STEADFAST_")}
        s = self.settings
        assert s.bot_token is not None
        env.update({
            "STEADFAST_BOT_TOKEN": s.bot_token.get_secret_value(),
            "STEADFAST_TELEGRAM_API_URL": s.telegram_api_url,
            "STEADFAST_DATABASE_URL": s.database_url,
            "STEADFAST_DEFAULT_TIMEZONE": s.default_timezone,
            "PYTHONPATH": str(ROOT),
        })
        if self.key_file is not None:
            env["STEADFAST_MASTER_KEY_FILE"] = str(self.key_file)
        else:
            assert s.master_keys is not None
            env["STEADFAST_MASTER_KEYS"] = s.master_keys.get_secret_value()
        env.update(self.extra_env)
        return env

    def log_text(self) -> str:
        """What this start wrote to the log."""
        return self.log.read_bytes()[self._log_from:].decode(errors="replace")

    async def _exited_within(self, timeout: float) -> int | None:
        """The exit code once the process ended, or None (and killed) after `timeout`."""
        assert self.process is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.process.poll() is None and loop.time() < deadline:
            await asyncio.sleep(0.05)
        if self.process.poll() is None:
            self.process.kill()
            return None
        return self.process.returncode

    async def wait_exit(self, timeout: float = 60) -> int:
        """For a process expected to stop on its own (a refused start)."""
        code = await self._exited_within(timeout)
        if code is None:
            raise AssertionError("bot did not exit:\n" + self.log_text())
        return code

    def start(self) -> ChildBot:
        # A restart in the same folder appends to the log: only what this start wrote counts.
        self._log_from = self.log.stat().st_size if self.log.exists() else 0
        handle = self.log.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "cli", "run", *self.args], cwd=self.cwd, env=self.env(),
            stdout=handle, stderr=subprocess.STDOUT)
        handle.close()
        return self

    async def wait_ready(self, timeout: float = 120) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            if self.log.exists() and b"Steadfast is running" in self.log.read_bytes()[
                    self._log_from:]:
                return
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError("bot exited early:\n" + self.log.read_text())
            await asyncio.sleep(0.1)
        raise AssertionError("bot did not start:\n" + self.log.read_text())

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=10)

    async def terminate(self, timeout: float = 30) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        code = await self._exited_within(timeout)
        if code is None:
            raise AssertionError("bot ignored SIGTERM")
        return code


async def eventually(check: Any, timeout: float = 20.0, interval: float = 0.05) -> Any:
    """Poll `check()` until it returns something truthy; fail with its last value.
    `check` may be a coroutine function, to poll what the database has committed."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout

    async def value_now() -> Any:
        value = check()
        return await value if inspect.isawaitable(value) else value

    value = await value_now()
    while not value and loop.time() < deadline:
        await asyncio.sleep(interval)
        value = await value_now()
    assert value, f"condition not met within {timeout}s (last value {value!r})"
    return value
