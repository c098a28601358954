"""Prints what a second and a third webhook instance on one PostgreSQL database add: presses
per second at saturation and p50/p99 press-to-edit at 30 presses/s offered, as ratios to
one instance, all measured in one run.

A script that prints figures, not a test. From the repository's root:

    .venv/bin/python bench/instances.py [--clients 200] [--seconds 20] [--quick]

For 1, 2 and 3 instances in turn: a fresh PostgreSQL database on 127.0.0.1:5432 (user
postgres, dropped afterwards) with N clients seeded through the repositories (no check-in
days), `python -m cli run --webhook` once per instance, and Debian's nginx in front of
them with the shipped site (deploy/nginx, TLS off, as in tests/test_multi_instance.py). The
project's Bot API emulator pushes the updates to nginx without flood limits of its own: the
instances keep Telegram's limits themselves, sharing 30 messages/s between them. Clients
open a check-in and press as in bench/checkin.py (answer, Back, answer...), each press one
edit: two phases of --seconds, 30/s offered (open loop) and saturation. CPU per press adds
up every instance's utime+stime (/proc/PID/stat) over the saturation phase.

What limits it: every press is answered by an edit, and edits count against the bot's 30
messages/s, which the instances pace at 90% (27/s) whatever their number; on a 2-core
machine the instances, nginx, PostgreSQL and this process (emulator and clients) share the
same two cores besides. So the point to read is that a second and third instance lose
nothing and cost little CPU, not that they multiply presses/s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import socket
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.checkin import Clients, Phase, offered, saturation  # noqa: E402
from bench.harness import (  # noqa: E402
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
from tests.multi_instance import Nginx, nginx_binary, site_for_test  # noqa: E402

CLINICIAN = 7001
FIRST_CLIENT = 40_001
SECRET = "bench-instances-secret_0123"
HOOK = "/telegram/webhook"


@dataclass
class Result:
    instances: int
    phases: dict[str, Phase] = field(default_factory=dict)
    error: str | None = None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def measure(count: int, args: argparse.Namespace, folder: Path, binary: str) -> Result:
    result = Result(count)
    here = folder / f"x{count}"
    here.mkdir()
    users = list(range(FIRST_CLIENT, FIRST_CLIENT + args.clients))
    emu = TimedEmulator(token=TOKEN, callback_query_timeout=30.0)
    pg_name: str | None = None
    bots: list[Child] = []
    nginx: Nginx | None = None
    try:
        await emu.start()
        url, pg_name = await create_postgres()
        await asyncio.to_thread(upgrade, url)
        ring = MasterKeyring.generate()
        store = Store.open(url, ring)
        try:
            clock = SystemClock()
            clinician = await AdminService(store=store, clock=clock).add_clinician(
                telegram_id=CLINICIAN, name="Dr Bench", supervisor=False)
            await seed_clients(store, clinician_id=clinician.id, first_user_id=FIRST_CLIENT,
                               n=args.clients, now=clock.now())
        finally:
            await store.close()
        ports = [free_port() for _ in range(count)]
        listen = free_port()
        (here / "nginx").mkdir()
        site = site_for_test(ports, listen, here / "nginx")  # the shipped servers, fewer
        nginx = Nginx(binary, here / "nginx", site).start()
        public = f"http://127.0.0.1:{listen}{HOOK}"
        for i, port in enumerate(ports):
            (here / f"i{i}").mkdir()
            bots.append(Child([sys.executable, "-m", "cli", "run", "--webhook", "--port",
                               str(port), "--secret", SECRET, "--public-url", public],
                              bot_env(emu, url, ring), here / f"i{i}").start())
        for bot in bots:
            if not await until(lambda b=bot: "Steadfast is running" in b.log_text(), 180):
                raise RuntimeError("an instance did not start:\n" + bot.log_text()[-2000:])
        for user in users:
            emu.person(user, f"Client{user}")
        clients = Clients(emu, users)
        await asyncio.sleep(3.0)  # the last instance settles into its share of the limit
        for user in users:
            await emu.send_command(user, "/checkin")
        await until(lambda: clients.find_views() == len(users), 180)
        if len(clients.view) < len(users):
            result.error = f"only {len(clients.view)} of {len(users)} check-ins opened"
            return result
        await asyncio.sleep(1.0)
        for label, run in (("30/s", lambda: offered(clients, 30, args.seconds)),
                           ("saturation", lambda: saturation(clients, args.seconds))):
            cpu, own = sum(b.cpu_seconds() for b in bots), time.process_time()
            phase = await run()
            phase.bot_cpu = sum(b.cpu_seconds() for b in bots) - cpu
            phase.own_cpu = time.process_time() - own
            result.phases[label] = phase
        print(f"  {count} instance(s): done", flush=True)
    except Exception as exc:
        result.error = f"{type(exc).__name__}: {exc}"[:300]
    finally:
        await asyncio.gather(*(bot.stop() for bot in bots))
        if nginx is not None:
            nginx.stop()
        await emu.stop()
        if pg_name is not None:
            with contextlib.suppress(Exception):
                await drop_postgres(pg_name)
    return result


def report(results: list[Result], args: argparse.Namespace) -> None:
    def sat(r: Result | None) -> float | None:
        return r.phases["saturation"].per_second if r and "saturation" in r.phases else None

    def p(r: Result | None, q: float) -> float | None:
        return percentile(r.phases["30/s"].latencies, q) if r and "30/s" in r.phases else None

    def cpu(r: Result | None) -> float | None:
        if not r or "saturation" not in r.phases or not r.phases["saturation"].latencies:
            return None
        return r.phases["saturation"].bot_cpu / len(r.phases["saturation"].latencies)

    one = next((r for r in results if r.instances == 1 and not r.error), None)
    print()
    print(f"Steadfast instances bench: webhook instances on one PostgreSQL behind nginx, "
          f"{args.clients} clients, {args.seconds:.0f} s per phase; machine: "
          f"{os.cpu_count()} cores, shared with PostgreSQL, nginx and the emulator")
    print("=" * 100)
    rows = []
    for r in results:
        if r.error:
            rows.append([str(r.instances), r.error[:70], "", "", "", "", "", ""])
            continue
        at30 = r.phases["30/s"]
        rows.append([str(r.instances),
                     f"{at30.per_second:.1f}/s" + (f" ({at30.not_offered} not offered)"
                                                   if at30.not_offered else ""),
                     f"{ms(median(at30.latencies))} / {ms(p(r, 99))}",
                     f"{sat(r) or 0:.1f}/s", f"{(cpu(r) or 0) * 1000:.1f} ms",
                     ratio(sat(r), sat(one)),
                     f"{ratio(median(at30.latencies), median(one.phases['30/s'].latencies) if one else None)}"
                     f" / {ratio(p(r, 99), p(one, 99))}",
                     ratio(cpu(r), cpu(one))])
    print(table(["instances", "30/s served", "30/s p50 / p99", "saturation",
                 "CPU/press (all)", "sat. /1", "p50 / p99 /1", "CPU /1"], rows))
    print()
    print("  limited by: the bot's one Telegram limit (edits count against 30/s, paced at "
          "27/s by all instances together) and the machine's cores, which every process here "
          "shares")


async def main(args: argparse.Namespace) -> int:
    binary = nginx_binary()
    if binary is None:
        print("instances bench: nginx is not installed (apt-get install nginx); skipped")
        return 0
    counts = [1, 2, 3]
    print(f"instances bench: {', '.join(map(str, counts))} instance(s); {args.clients} "
          f"clients, phases of {args.seconds:.0f} s", flush=True)
    with tempfile.TemporaryDirectory(prefix="steadfast-instances-") as tmp:
        results = [await measure(n, args, Path(tmp), binary) for n in counts]
        if args.log is not None:
            shutil.copytree(tmp, args.log, dirs_exist_ok=True)
    report(results, args)
    return 0 if not any(r.error for r in results) else 1


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--clients", type=int, default=None, help="default 200 (60 --quick)")
    parser.add_argument("--seconds", type=float, default=None,
                        help="length of each phase, default 20 (8 with --quick)")
    parser.add_argument("--quick", action="store_true", help="fewer clients, shorter phases")
    parser.add_argument("--log", type=Path, default=None, help="keep the logs there")
    args = parser.parse_args(argv)
    if args.clients is None:
        args.clients = 60 if args.quick else 200
    if args.seconds is None:
        args.seconds = 8.0 if args.quick else 20.0
    return args


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse())))
