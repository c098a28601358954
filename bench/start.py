"""Prints how quickly the bot and its admin commands start, beside bare imports of aiogram
and SQLAlchemy measured in the same run.

A script that prints figures, not a test. From the repository's root:

    .venv/bin/python bench/start.py [--clients 10000] [--runs 5] [--bot-runs 3] [--quick]

Each figure is the median of several runs of a fresh process (this interpreter):
  - baselines: `python -c "import aiogram"` and `python -c "import sqlalchemy.ext.asyncio"`;
  - `steadfast --help` (`python -m cli --help`) and `steadfast clinician list` against a
    migrated SQLite database holding one clinician;
  - `steadfast run` (`python -m cli run`) from spawn to its first getUpdates at the
    project's Bot API emulator (served in this process, a fresh one per start), with no
    clients and with N clients (default 10,000) seeded through the repositories, each a
    known private chat; the Bot API calls each start made before that getUpdates are
    counted, and the setMyCommands calls made by the time it is stopped, 1 s later.
Goals printed beside the ratios: run within 1.2x `import aiogram`; clinician list within
1.5x `import sqlalchemy.ext.asyncio`.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import (  # noqa: E402
    ROOT,
    TOKEN,
    Child,
    TimedEmulator,
    bot_env,
    median,
    ratio,
    seed_clients,
    table,
)
from journal.administration import AdminService  # noqa: E402
from journal.clock import SystemClock  # noqa: E402
from storage.crypto import MasterKeyring  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.uow import Store  # noqa: E402

CLINICIAN = 7001
FIRST_CLIENT = 30_001


def wall(argv: list[str], env: dict[str, str] | None, cwd: Path) -> float:
    began = time.perf_counter()
    done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, check=False)
    took = time.perf_counter() - began
    if done.returncode != 0:
        raise RuntimeError(f"{argv[1:]} exited {done.returncode}: "
                           + done.stderr.decode(errors="replace")[-500:])
    return took


async def database(folder: Path, clients: int) -> tuple[str, MasterKeyring]:
    url = f"sqlite+aiosqlite:///{folder / 'bench.db'}"
    await asyncio.to_thread(upgrade, url)
    ring = MasterKeyring.generate()
    store = Store.open(url, ring)
    try:
        clock = SystemClock()
        clinician = await AdminService(store=store, clock=clock).add_clinician(
            telegram_id=CLINICIAN, name="Dr Bench", supervisor=False)
        if clients:
            await seed_clients(store, clinician_id=clinician.id, first_user_id=FIRST_CLIENT,
                               n=clients, now=clock.now())
    finally:
        await store.close()
    return url, ring


async def bot_start(url: str, ring: MasterKeyring, folder: Path,
                    clients: int) -> tuple[float, dict[str, int], int]:
    """One start: (spawn -> first getUpdates, calls before it, setMyCommands by the stop)."""
    emu = TimedEmulator(token=TOKEN)
    await emu.start()
    emu.person(CLINICIAN, "Bench").has_chat = True
    for user in range(FIRST_CLIENT, FIRST_CLIENT + clients):
        emu.person(user, f"Client{user}").has_chat = True  # enrolled earlier
    bot = Child([sys.executable, "-m", "cli", "run"], bot_env(emu, url, ring), folder)
    try:
        bot.start()
        took = await bot.wait_for(emu, within=600)
        before = emu.calls_before_first_get_updates()
        await asyncio.sleep(1.0)
    finally:
        await bot.stop()
        await emu.stop()
    return took, before, sum(1 for c in emu.calls if c.method == "setMyCommands")


async def main(args: argparse.Namespace) -> int:
    python = sys.executable
    rows: list[list[str]] = []
    with tempfile.TemporaryDirectory(prefix="steadfast-start-") as tmp:
        folder = Path(tmp)
        (folder / "empty").mkdir()
        (folder / "many").mkdir()
        url, ring = await database(folder / "empty", 0)
        began = time.monotonic()
        many_url, many_ring = await database(folder / "many", args.clients)
        print(f"seeded {args.clients:,} clients in {time.monotonic() - began:.1f} s",
              flush=True)
        admin_env = bot_env(TimedEmulator(token=TOKEN), url, ring)
        timings: dict[str, list[float]] = {}
        commands = {
            "import aiogram": [python, "-c", "import aiogram"],
            "import sqlalchemy.ext.asyncio": [python, "-c", "import sqlalchemy.ext.asyncio"],
            "steadfast --help": [python, "-m", "cli", "--help"],
            "steadfast clinician list": [python, "-m", "cli", "clinician", "list"],
        }
        for _ in range(args.runs):  # interleaved, so a busy moment hits all of them alike
            for name, argv in commands.items():
                timings.setdefault(name, []).append(
                    await asyncio.to_thread(wall, argv, admin_env, ROOT))
        starts: dict[str, list[float]] = {}
        calls: dict[str, tuple[dict[str, int], int]] = {}
        for _ in range(args.bot_runs):
            for name, (u, r, n) in {"run, no clients": (url, ring, 0),
                                    f"run, {args.clients:,} clients": (many_url, many_ring,
                                                                       args.clients)}.items():
                took, before, menus = await bot_start(u, r, folder, n)
                starts.setdefault(name, []).append(took)
                calls[name] = (before, menus)
    aiogram = median(timings["import aiogram"])
    alchemy = median(timings["import sqlalchemy.ext.asyncio"])
    for name, values in timings.items():
        base, label = ((alchemy, "sqlalchemy") if "clinician" in name or "sqlalchemy" in name
                       else (aiogram, "aiogram"))
        goal = "<= 1.5x" if "clinician" in name else ""
        rows.append([name, f"{median(values):.2f} s", f"{min(values):.2f}-{max(values):.2f} s",
                     f"{ratio(median(values), base)} import {label}", goal, ""])
    for name, values in starts.items():
        before, menus = calls[name]
        rows.append([name + " -> first getUpdates", f"{median(values):.2f} s",
                     f"{min(values):.2f}-{max(values):.2f} s",
                     f"{ratio(median(values), aiogram)} import aiogram", "<= 1.2x",
                     f"before it: {', '.join(f'{m} {c:,}' for m, c in sorted(before.items()))}"
                     f"; setMyCommands in the 1 s after it: {menus:,}"])
    print()
    print(f"Steadfast start bench: medians of {args.runs} runs ({args.bot_runs} for run); "
          "the machine is shared")
    print("=" * 100)
    print(table(["what", "median", "range", "ratio", "goal", "calls"], rows))
    return 0


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--clients", type=int, default=None,
                        help="known chats for the second start (default 10,000; 1,000 --quick)")
    parser.add_argument("--runs", type=int, default=None, help="default 5 (3 with --quick)")
    parser.add_argument("--bot-runs", type=int, default=None,
                        help="starts of the bot each way, default 3 (1 with --quick)")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    args.clients = args.clients if args.clients is not None else (1000 if args.quick
                                                                    else 10_000)
    args.runs = args.runs or (3 if args.quick else 5)
    args.bot_runs = args.bot_runs or (1 if args.quick else 3)
    return args


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse())))
