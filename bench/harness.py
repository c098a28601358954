"""What the benchmarks share: an emulator that times the bot's calls, child processes and
their CPU and memory, seeding clients through the repositories, and printing figures.

Not a benchmark itself; bench/checkin.py, bench/fanout.py and bench/start.py import it.
The Bot API emulator is imported here and nowhere else in bench/.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# The one import of the emulator in bench/ (it may move to a package of its own).
from storage.crypto import MasterKeyring  # noqa: E402
from storage.uow import Store  # noqa: E402
from telegram_emulator import BotAPIEmulator, ChatMessage  # noqa: E402

TOKEN = "123456:BENCH-TOKEN"
EDITS = frozenset({"editMessageText", "editMessageReplyMarkup", "editMessageCaption"})

__all__ = ["EDITS", "ROOT", "TOKEN", "BotAPIEmulator", "ChatMessage", "Child", "Seeded",
           "TimedEmulator", "bot_env", "create_postgres", "drop_postgres", "median", "ms",
           "percentile", "ratio", "seed_clients", "table", "until"]


@dataclass
class Ended:
    """One Bot API call as the emulator finished answering it."""

    method: str
    chat_id: int | None
    at: float  # time.monotonic()
    status: int


class TimedEmulator(BotAPIEmulator):
    """The emulator, noting when each call was answered and waking whoever waits for the
    next edit in a chat (a press's answer is the edit of its message)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.ended: list[Ended] = []
        self.edit_waiters: dict[int, asyncio.Future[float]] = {}

    async def _invoke(self, method: str, params: Any, *, source: str) -> tuple[Any, int]:
        body, status = await super()._invoke(method, params, source=source)
        now = time.monotonic()
        chat_id: int | None = None
        try:
            chat_id = int(params.values["chat_id"]) if "chat_id" in params.values else None
        except (TypeError, ValueError):
            chat_id = None
        self.ended.append(Ended(method, chat_id, now, status))
        if method in EDITS and status == 200 and chat_id is not None:
            waiter = self.edit_waiters.pop(chat_id, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(now)
        return body, status

    def first_get_updates(self) -> float | None:
        """When the first getUpdates arrived (time.monotonic()), or None."""
        for call in self.calls:
            if call.method == "getUpdates":
                return call.time
        return None

    def calls_before_first_get_updates(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for call in self.calls:
            if call.method == "getUpdates":
                break
            counts[call.method] = counts.get(call.method, 0) + 1
        return counts

    def message(self, chat_id: int, message_id: int) -> ChatMessage | None:
        for message in reversed(self.chat(chat_id)):
            if message.message_id == message_id:
                return message
        return None


async def until(check: Callable[[], bool], within: float, interval: float = 0.1) -> bool:
    """Poll `check()` until it is true (True) or `within` seconds passed (False)."""
    deadline = time.monotonic() + within
    while True:
        if check():
            return True
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(interval)


def bot_env(emu: BotAPIEmulator, url: str, ring: MasterKeyring | None,
            extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of `steadfast run` (or of the bare bot) against this emulator."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STEADFAST_")}
    env.update({
        "STEADFAST_BOT_TOKEN": emu.token,
        "STEADFAST_TELEGRAM_API_URL": emu.base_url,
        "STEADFAST_DATABASE_URL": url,
        "STEADFAST_DEFAULT_TIMEZONE": "UTC",
        "PYTHONPATH": str(ROOT),
    })
    if ring is not None:
        env["STEADFAST_MASTER_KEYS"] = ",".join(ring.dump().splitlines()[1:])
    env.update(extra or {})
    return env


class Child:
    """A child process with its log, its CPU time and its memory read from /proc."""

    def __init__(self, argv: Sequence[str], env: dict[str, str], folder: Path,
                 name: str = "bot") -> None:
        self.argv = list(argv)
        self.env = env
        self.folder = folder
        self.log = folder / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0

    def start(self) -> Child:
        with self.log.open("ab") as handle:
            self.started_at = time.monotonic()
            self.process = subprocess.Popen(self.argv, cwd=self.folder, env=self.env,
                                            stdout=handle, stderr=subprocess.STDOUT)
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def cpu_seconds(self) -> float:
        """utime + stime of the process so far."""
        with open(f"/proc/{self.pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def memory_mb(self, field: str = "VmHWM") -> float:
        """VmHWM: the peak resident set so far; VmRSS: the resident set now."""
        with open(f"/proc/{self.pid}/status") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
        return 0.0

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    async def wait_for(self, emu: TimedEmulator, within: float = 120) -> float:
        """Until the process's first getUpdates; returns seconds from spawn to it."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            first = emu.first_get_updates()
            if first is not None and first >= self.started_at:
                return first - self.started_at
            if not self.alive():
                raise RuntimeError("the process exited early:\n" + self.log_text()[-3000:])
            await asyncio.sleep(0.02)
        raise RuntimeError("no getUpdates within the time allowed:\n" + self.log_text()[-3000:])

    async def stop(self, grace: float = 30) -> None:
        if not self.alive():
            return
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            await asyncio.to_thread(self.process.wait, grace)
        except subprocess.TimeoutExpired:
            self.process.kill()
            await asyncio.to_thread(self.process.wait, 10)


@dataclass
class Seeded:
    client_id: str
    user_id: int


async def seed_clients(store: Store, *, clinician_id: int, first_user_id: int, n: int,
                       now: datetime, checkin_days: str = "", checkin_time: str = "20:00",
                       batch: int = 500) -> list[Seeded]:
    """n active clients with Telegram ids first_user_id.. through the repositories, a batch
    per transaction. With no check-in days (the default) the scheduler never prompts them."""
    seeded: list[Seeded] = []
    for start in range(0, n, batch):
        async with store.transaction() as uow:
            for user_id in range(first_user_id + start, first_user_id + min(n, start + batch)):
                client = await uow.clients.add_invited(
                    clinician_id=clinician_id, language="en", timezone="UTC",
                    checkin_time=checkin_time, now=now)
                await uow.clients.update(client.id, telegram_id=user_id, status="active",
                                         enrolled_at=now, checkin_days=checkin_days)
                seeded.append(Seeded(client.id, user_id))
    return seeded


async def _postgres_admin(statement: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(host="127.0.0.1", port=5432, user="postgres",
                                       database="postgres")
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


async def create_postgres() -> tuple[str, str]:
    """A new database on the local server: (SQLAlchemy URL, its name for drop_postgres)."""
    name = "steadfast_bench_" + secrets.token_hex(4)
    await _postgres_admin(f'CREATE DATABASE "{name}"')
    return f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}", name


async def drop_postgres(name: str) -> None:
    await _postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# ------------------------------------------------------------------------------ figures


def percentile(values: Sequence[float], p: float) -> float | None:
    """The p-th percentile (nearest rank), or None without values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:,.0f} ms"


def ratio(value: float | None, base: float | None) -> str:
    if value is None or base is None or base == 0:
        return "-"
    return f"{value / base:.2f}x"


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths, strict=True)))

    return "\n".join([line(header), "  ".join("-" * w for w in widths),
                      *(line(r) for r in rows)])
