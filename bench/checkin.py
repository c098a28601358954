"""Prints what a check-in press costs the bot: latency at a fixed rate, presses/s at
saturation and CPU per press, beside a bare aiogram bot and the storage floor, in one run.

A script that prints figures, not a test. From the repository's root:

    .venv/bin/python bench/checkin.py [--clients 200] [--seconds 20] [--postgres] [--quick]

Every bot runs as a child process over real HTTP against the project's Bot API emulator
(served in this process, no flood limits), one after the other, each with a fresh emulator:
  - bare: bench/bare_bot.py, aiogram's polling, one edit and one callback answer per press;
  - floor: the same bot, plus AES-GCM sealing of each update and one SQLite commit each;
  - Steadfast on SQLite (and, with --postgres, on a PostgreSQL database created on
    127.0.0.1:5432 as user postgres and dropped afterwards): `python -m cli run`, with
    N clients seeded through the repositories (no check-in days, so nothing is prompted);
  - no-limit: the same on SQLite with Telegram's rate limit lifted (bench/lifted.py). The
    shipped bot paces every send, edits included, at 28.5/s (95% of Telegram's 30), so at
    30 presses/s offered its edits queue behind the limit and its saturation is the limit's;
    this row shows what the bot itself costs, beside the bare bot and the floor.
N clients (default 200) each open a check-in (/checkin; /start for the bare bots) and then
press its buttons: Steadfast's first question is answered, then "Back", then answered
again, so each press stores an answer or a move and edits the message. Press-to-edit
latency runs from the press to the emulator answering the bot's edit of that message.
Four phases, --seconds each: presses offered at 10/s, 25/s (below the limiter's 28.5/s)
and 30/s (open loop: a client that is still waiting is not pressed again; a press with no
idle client is counted as not offered), then saturation (every client presses again as
soon as its edit arrived; presses/s counts edits within the phase). CPU per press is the bot process's utime+stime
(/proc/PID/stat) over the saturation phase divided by its presses. This process (emulator
and clients) shares the machine's cores: its own CPU per press is printed too.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import tempfile
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import (  # noqa: E402
    ROOT,
    TOKEN,
    Child,
    TimedEmulator,
    bot_env,
    create_postgres,
    drop_postgres,
    median,
    ms,
    percentile,
    ratio,
    seed_clients,
    table,
    until,
)
from journal.administration import AdminService  # noqa: E402
from journal.clock import SystemClock  # noqa: E402
from storage.crypto import MasterKeyring  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.uow import Store  # noqa: E402

CLINICIAN = 7001
FIRST_CLIENT = 20_001
# 25/s: below the limiter's 28.5/s, where the shipped bot's edits do not queue behind it.
RATES = (10, 25, 30)
# Steadfast on SQLite with Telegram's rate limit lifted (bench/lifted.py): the bot's own cost.
LIFTED = "no-limit"


@dataclass
class Phase:
    latencies: list[float] = field(default_factory=list)
    not_offered: int = 0
    no_edit: int = 0
    seconds: float = 0.0
    bot_cpu: float = 0.0
    own_cpu: float = 0.0

    @property
    def per_second(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0


@dataclass
class Result:
    name: str
    to_poll: float = 0.0
    phases: dict[str, Phase] = field(default_factory=dict)
    error: str | None = None


class Clients:
    """The people pressing: each one's check-in message, and who is waiting for an edit."""

    def __init__(self, emu: TimedEmulator, users: list[int]) -> None:
        self.emu = emu
        self.users = users
        self.view: dict[int, int] = {}

    def find_views(self) -> int:
        for user in self.users:
            if user in self.view:
                continue
            for message in reversed(self.emu.chat(user)):
                if message.from_bot and any(b.callback_data for row in message.buttons
                                            for b in row):
                    self.view[user] = message.message_id
                    break
        return len(self.view)

    def next_press(self, user: int) -> str | None:
        """Back when the screen has it, else its first button: answer, back, answer..."""
        message = self.emu.message(user, self.view[user])
        if message is None or not message.buttons:
            return None
        for row in message.buttons:
            for button in row:
                if button.text.startswith("«") and button.callback_data:
                    return button.callback_data
        return message.buttons[0][0].callback_data

    async def press(self, user: int, phase: Phase, until: float | None = None) -> None:
        data = self.next_press(user)
        if data is None:
            phase.no_edit += 1
            return
        waiter: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.emu.edit_waiters[user] = waiter
        pressed = time.monotonic()
        try:
            await self.emu.press_button(user, self.view[user], callback_data=data)
            edited = await asyncio.wait_for(waiter, 30)
        except Exception:  # no edit within 30 s, or the button is gone
            phase.no_edit += 1
            return
        if until is None or edited <= until:
            phase.latencies.append(edited - pressed)


async def offered(clients: Clients, rate: float, seconds: float) -> Phase:
    phase = Phase(seconds=seconds)
    idle = deque(clients.users)
    tasks: list[asyncio.Task[None]] = []

    async def one(user: int) -> None:
        try:
            await clients.press(user, phase)
        finally:
            idle.append(user)

    began = time.monotonic()
    k = 0
    while (at := began + k / rate) < began + seconds:
        await asyncio.sleep(max(0.0, at - time.monotonic()))
        if idle:
            tasks.append(asyncio.create_task(one(idle.popleft())))
        else:
            phase.not_offered += 1
        k += 1
    await asyncio.gather(*tasks)
    return phase


async def saturation(clients: Clients, seconds: float) -> Phase:
    phase = Phase(seconds=seconds)
    until = time.monotonic() + seconds

    async def loop(user: int) -> None:
        while time.monotonic() < until:
            await clients.press(user, phase, until)

    await asyncio.gather(*(loop(u) for u in clients.users))
    return phase


async def measure(name: str, args: argparse.Namespace, folder: Path) -> Result:
    result = Result(name)
    users = list(range(FIRST_CLIENT, FIRST_CLIENT + args.clients))
    emu = TimedEmulator(token=TOKEN, callback_query_timeout=30.0)
    pg_name: str | None = None
    bot: Child | None = None
    here = folder / name
    here.mkdir()
    try:
        await emu.start()
        if name in ("bare", "floor"):
            argv = [sys.executable, str(ROOT / "bench" / "bare_bot.py")]
            if name == "floor":
                argv += ["--floor", str(here / "floor.db")]
            env = bot_env(emu, "", None)
            opening = "/start"
        else:
            if name == "postgresql":
                url, pg_name = await create_postgres()
            else:
                url = f"sqlite+aiosqlite:///{here / 'bench.db'}"
            await asyncio.to_thread(upgrade, url)
            ring = MasterKeyring.generate()
            store = Store.open(url, ring)
            try:
                clock = SystemClock()
                clinician = await AdminService(store=store, clock=clock).add_clinician(
                    telegram_id=CLINICIAN, name="Dr Bench", supervisor=False)
                await seed_clients(store, clinician_id=clinician.id,
                                   first_user_id=FIRST_CLIENT, n=args.clients, now=clock.now())
            finally:
                await store.close()
            argv = ([sys.executable, str(ROOT / "bench" / "lifted.py"), "run"]
                    if name == LIFTED else [sys.executable, "-m", "cli", "run"])
            env = bot_env(emu, url, ring)
            opening = "/checkin"
        for user in users:
            emu.person(user, f"Client{user}")
        bot = Child(argv, env, here).start()
        result.to_poll = await bot.wait_for(emu)
        clients = Clients(emu, users)
        for user in users:
            await emu.send_command(user, opening)
        await until(lambda: clients.find_views() == len(users), 180)
        if len(clients.view) < len(users):
            result.error = f"only {len(clients.view)} of {len(users)} check-ins opened"
            return result
        await asyncio.sleep(1.0)
        for label, run in [*((f"{r}/s", lambda r=r: offered(clients, r, args.seconds))
                             for r in RATES),
                           ("saturation", lambda: saturation(clients, args.seconds))]:
            cpu, own = bot.cpu_seconds(), time.process_time()
            phase = await run()
            phase.bot_cpu, phase.own_cpu = bot.cpu_seconds() - cpu, time.process_time() - own
            result.phases[label] = phase
        print(f"  {name}: done", flush=True)
    except Exception as exc:
        result.error = f"{type(exc).__name__}: {exc}"[:300]
    finally:
        if bot is not None:
            await bot.stop()
        await emu.stop()
        if pg_name is not None:
            with contextlib.suppress(Exception):
                await drop_postgres(pg_name)
    return result


def report(results: list[Result], args: argparse.Namespace) -> None:
    by_name = {r.name: r for r in results}

    def sat(r: Result | None) -> float | None:
        return r.phases["saturation"].per_second if r and "saturation" in r.phases else None

    def p(r: Result | None, label: str, q: float) -> float | None:
        return percentile(r.phases[label].latencies, q) if r and label in r.phases else None

    def cpu(r: Result | None) -> float | None:
        if not r or "saturation" not in r.phases or not r.phases["saturation"].latencies:
            return None
        phase = r.phases["saturation"]
        return phase.bot_cpu / len(phase.latencies)

    bare, floor = by_name.get("bare"), by_name.get("floor")
    print()
    print(f"Steadfast check-in bench: {args.clients} clients, {args.seconds:.0f} s per phase, "
          f"pid CPU from /proc; machine: {os.cpu_count()} cores, shared")
    print("=" * 100)
    rows = []
    for r in results:
        if r.error:
            rows.append([r.name, r.error[:60], *[""] * (7 + len(RATES))])
            continue
        rows.append([
            r.name, f"{r.to_poll:.1f} s",
            *(f"{ms(median(r.phases[f'{x}/s'].latencies))} / {ms(p(r, f'{x}/s', 99))}"
              for x in RATES),
            f"{r.phases['30/s'].per_second:.1f}/s"
            + (f" ({r.phases['30/s'].not_offered} not offered)"
               if r.phases['30/s'].not_offered else ""),
            f"{sat(r):.1f}/s",
            f"{ms(median(r.phases['saturation'].latencies))} / {ms(p(r, 'saturation', 99))}",
            f"{(cpu(r) or 0) * 1000:.1f} ms",
            f"{r.phases['saturation'].own_cpu * 1000 / max(1, len(r.phases['saturation'].latencies)):.1f} ms",
            str(sum(ph.no_edit for ph in r.phases.values())),
        ])
    print(table(["bot", "to poll", *(f"{x}/s p50 / p99" for x in RATES), "30/s served",
                 "saturation", "sat. p50 / p99", "bot CPU/press", "bench CPU/press",
                 "no edit"], rows))
    print()
    rows = []
    for r in results:
        if r.error:
            continue
        rows.append([r.name, ratio(sat(r), sat(bare)), ratio(sat(r), sat(floor)),
                     ratio(p(r, "25/s", 99), p(bare, "25/s", 99)),
                     ratio(p(r, "30/s", 99), p(bare, "30/s", 99)),
                     ratio(p(r, "30/s", 99), p(floor, "30/s", 99)),
                     ratio(cpu(r), cpu(bare)), ratio(cpu(r), cpu(floor))])
    print(table(["ratios", "sat./bare", "sat./floor", "p99@25 /bare", "p99@30 /bare",
                 "p99@30 /floor", "CPU /bare", "CPU /floor"], rows))
    print()
    for r in results:
        if r.error or r.name in ("bare", "floor"):
            continue
        print(f"  goal, {r.name}: p99 at 30/s offered within 2x bare: "
              f"{ms(p(r, '30/s', 99))} vs {ms(p(bare, '30/s', 99))} = "
              f"{ratio(p(r, '30/s', 99), p(bare, '30/s', 99))}")
        print(f"  {r.name}: p99 at 25/s offered, under the limiter's pace: "
              f"{ms(p(r, '25/s', 99))} vs {ms(p(bare, '25/s', 99))} = "
              f"{ratio(p(r, '25/s', 99), p(bare, '25/s', 99))}")
        print(f"  goal, {r.name}: saturation >= 0.7x the floor: "
              f"{sat(r) or 0:.1f}/s vs {sat(floor) or 0:.1f}/s = {ratio(sat(r), sat(floor))}")
    print("  (the floor is measured on SQLite only; PostgreSQL's ratios are to that floor)")


async def main(args: argparse.Namespace) -> int:
    names = ["bare", "floor", "sqlite", LIFTED] + (["postgresql"] if args.postgres else [])
    if args.bots:
        names = [n for n in names if n in args.bots.split(",")]
    print(f"check-in bench: {', '.join(names)}; {args.clients} clients, phases of "
          f"{args.seconds:.0f} s", flush=True)
    with tempfile.TemporaryDirectory(prefix="steadfast-checkin-") as tmp:
        results = [await measure(name, args, Path(tmp)) for name in names]
        if args.log is not None:
            args.log.mkdir(parents=True, exist_ok=True)
            for name in names:
                for log in (Path(tmp) / name).glob("*.log"):
                    (args.log / f"{name}-{log.name}").write_bytes(log.read_bytes())
    report(results, args)
    return 0 if not any(r.error for r in results) else 1


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--clients", type=int, default=None, help="default 200 (50 --quick)")
    parser.add_argument("--seconds", type=float, default=None,
                        help="length of each phase, default 20 (8 with --quick)")
    parser.add_argument("--postgres", action="store_true",
                        help="also Steadfast on PostgreSQL at 127.0.0.1:5432")
    parser.add_argument("--quick", action="store_true", help="fewer clients, shorter phases")
    parser.add_argument("--bots", default=None,
                        help="only these, comma-separated (bare,floor,sqlite,no-limit,"
                             "postgresql); ratios to a baseline left out are not printed")
    parser.add_argument("--log", type=Path, default=None, help="keep the bots' logs there")
    args = parser.parse_args(argv)
    if args.clients is None:
        args.clients = 50 if args.quick else 200
    if args.seconds is None:
        args.seconds = 8.0 if args.quick else 20.0
    return args


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse())))
