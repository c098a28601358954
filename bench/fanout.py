"""Prints how the bot copes when a whole caseload is due in the same minute.

A script that prints figures, not a test. From the repository's root:

    .venv/bin/python bench/fanout.py [--clients 10000] [--others 5] [--lead 20]

N clients (default 10,000) are seeded straight through the repositories into a temporary
SQLite file, all with the same check-in minute, plus a few other clients who are not due.
The emulator enforces Telegram's limits (30 messages/s overall, one message a second per
chat; edits count against the 30/s) and answers 429 beyond them. The real bot runs as a
child process (`python -m cli run`, the scheduler's default tick). Once it polls, the
clients' check-in minute is set to the next minute at least --lead seconds away; meanwhile
the other clients keep answering check-in questions, about one press a second each.
Printed, beside their goals and their baseline (30 messages/s, Telegram's ceiling):
  - the calls made at start-up before the first getUpdates (setMyCommands among them), and
    the time from spawn to that first getUpdates;
  - due minute -> every prompt queued in the outbox (polled twice a second);
  - due minute -> first prompt sent, -> last prompt sent, and messages/s over that span,
    the prompts' and everything's that counts against the 30/s (the other clients' edits
    take their share of it: with five pressing once a second, about 4/s);
  - answered 429s, and the longest wait of a probe that takes SQLite's write lock every
    50 ms (BEGIN IMMEDIATE, then ROLLBACK; looking every 2 ms while it is held): every unit
    of work of the bot holds that lock, so the longest wait is the longest write
    transaction, or transactions following each other within 2 ms; the scheduler tick
    lines of the bot's log are printed beside it;
  - p50/p99 press-to-edit of the other clients' presses from the due minute to the last
    prompt, and the presses that got no edit within 30 s;
  - peak RSS of the bot process (VmHWM).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import (  # noqa: E402
    EDITS,
    TOKEN,
    Child,
    TimedEmulator,
    bot_env,
    median,
    ms,
    percentile,
    ratio,
    seed_clients,
    until,
)
from journal.administration import AdminService  # noqa: E402
from journal.clock import SystemClock  # noqa: E402
from storage.crypto import MasterKeyring  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.uow import Store  # noqa: E402

CLINICIAN = 7001
FIRST_CLIENT = 100_001
FIRST_OTHER = 90_001
CEILING = 30.0  # messages/s, Telegram's limit for one bot
COUNTED = EDITS | {"sendMessage", "sendPhoto", "sendDocument"}  # what the 30/s counts


def _view(emu: TimedEmulator, user_id: int) -> tuple[int, list[str]] | None:
    """The check-in message with its own buttons (not a prompt's): (id, callback data)."""
    for message in reversed(emu.chat(user_id)):
        data = [b.callback_data or "" for row in message.buttons for b in row]
        if message.from_bot and any(d.startswith("ck:") and not d.startswith(("ck:s:", "ck:l:"))
                                    for d in data):
            return message.message_id, data
    return None


def _next_press(emu: TimedEmulator, user_id: int, message_id: int) -> str | None:
    """Back when the screen has it, else its first button: answer, back, answer, ..."""
    message = emu.message(user_id, message_id)
    if message is None or not message.buttons:
        return None
    for row in message.buttons:
        for button in row:
            if button.text.startswith("«"):
                return button.callback_data
    return message.buttons[0][0].callback_data


async def press_loop(emu: TimedEmulator, user_id: int, stop: asyncio.Event,
                     latencies: list[tuple[float, float]], missing: list[float]) -> None:
    """One other client answering and going back, about once a second."""
    view = _view(emu, user_id)
    if view is None:
        return
    message_id = view[0]
    while not stop.is_set():
        data = _next_press(emu, user_id, message_id)
        if data is None:
            return
        waiter: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        emu.edit_waiters[user_id] = waiter
        pressed = time.monotonic()
        await emu.press_button(user_id, message_id, callback_data=data)
        try:
            edited = await asyncio.wait_for(waiter, 30)
            latencies.append((pressed, edited - pressed))
        except TimeoutError:
            missing.append(pressed)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 1.0)


def probe_write_lock(path: Path, stop: asyncio.Event, waits: list[tuple[float, float]]) -> None:
    """In a thread: how long BEGIN IMMEDIATE waits, every 50 ms, until `stop`. While the
    lock is held it looks again every 2 ms; SQLite's own busy handler sleeps up to 100 ms
    between looks and lost its turn to the bot's next transaction, so its wait measured
    several transactions, not the longest one."""
    connection = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        while not stop.is_set():
            began = time.monotonic()
            while True:
                try:
                    connection.execute("BEGIN IMMEDIATE")
                    break
                except sqlite3.OperationalError:  # held: look again in 2 ms
                    if stop.is_set():
                        return
                    time.sleep(0.002)
            got = time.monotonic()
            connection.execute("ROLLBACK")
            waits.append((began, got - began))
            time.sleep(0.05)
    finally:
        connection.close()


def queued_prompts(path: Path) -> int:
    connection = sqlite3.connect(path, timeout=60)
    try:
        return connection.execute("SELECT count(*) FROM outbox WHERE kind = 'prompt'"
                                  ).fetchone()[0]
    finally:
        connection.close()


def set_due(path: Path, hhmm: str, client_ids: list[str]) -> None:
    connection = sqlite3.connect(path, timeout=600)
    try:
        with connection:
            connection.executemany(
                # Due at once, as a schedule change through the repository makes it: the
                # next tick works out the new instant.
                "UPDATE clients SET checkin_time = ?, checkin_days = '0123456', "
                "next_due_at = CURRENT_TIMESTAMP WHERE id = ?",
                [(hhmm, client_id) for client_id in client_ids])
    finally:
        connection.close()


async def main(args: argparse.Namespace) -> int:
    clock = SystemClock()
    with tempfile.TemporaryDirectory(prefix="steadfast-fanout-") as tmp:
        folder = Path(tmp)
        path = folder / "bench.db"
        url = f"sqlite+aiosqlite:///{path}"
        await asyncio.to_thread(upgrade, url)
        ring = MasterKeyring.generate()
        store = Store.open(url, ring)
        began = time.monotonic()
        try:
            clinician = await AdminService(store=store, clock=clock).add_clinician(
                telegram_id=CLINICIAN, name="Dr Bench", supervisor=False)
            prompted = await seed_clients(store, clinician_id=clinician.id,
                                          first_user_id=FIRST_CLIENT, n=args.clients,
                                          now=clock.now())
            await seed_clients(store, clinician_id=clinician.id, first_user_id=FIRST_OTHER,
                               n=args.others, now=clock.now())
        finally:
            await store.close()
        print(f"seeded {args.clients:,} clients due together and {args.others} others in "
              f"{time.monotonic() - began:.1f} s", flush=True)

        emu = TimedEmulator(token=TOKEN, enforce_limits=True, callback_query_timeout=30.0)
        await emu.start()
        emu.person(CLINICIAN, "Bench")
        for user_id in range(FIRST_CLIENT, FIRST_CLIENT + args.clients):
            emu.person(user_id, f"Client{user_id}").has_chat = True  # enrolled earlier
        for user_id in range(FIRST_OTHER, FIRST_OTHER + args.others):
            emu.person(user_id, f"Other{user_id}")
        bot = Child([sys.executable, "-m", "cli", "run"], bot_env(emu, url, ring), folder)
        stop = asyncio.Event()
        probe_stop = asyncio.Event()
        try:
            bot.start()
            to_poll = await bot.wait_for(emu, within=600)
            startup_calls = emu.calls_before_first_get_updates()
            for user_id in range(FIRST_OTHER, FIRST_OTHER + args.others):
                await emu.send_command(user_id, "/checkin")
            await until(lambda: all(_view(emu, u) for u in range(FIRST_OTHER,
                                                                 FIRST_OTHER + args.others)),
                        120)

            menus = sum(1 for c in emu.calls if c.method == "setMyCommands")
            wall = datetime.now(UTC) + timedelta(seconds=args.lead)
            due = (wall + timedelta(minutes=1)).replace(second=0, microsecond=0) \
                if wall.second or wall.microsecond else wall
            await asyncio.to_thread(set_due, path, f"{due:%H:%M}",
                                    [c.client_id for c in prompted])
            due_at = time.monotonic() + (due - datetime.now(UTC)).total_seconds()
            print(f"bot polling {to_poll:.1f} s after spawn; {args.clients:,} clients due at "
                  f"{due:%H:%M} UTC, in {due_at - time.monotonic():.0f} s", flush=True)

            waits: list[tuple[float, float]] = []
            probe = asyncio.create_task(asyncio.to_thread(probe_write_lock, path, probe_stop,
                                                          waits))
            latencies: list[tuple[float, float]] = []
            missing: list[float] = []
            pressers = [asyncio.create_task(press_loop(emu, u, stop, latencies, missing))
                        for u in range(FIRST_OTHER, FIRST_OTHER + args.others)]
            clients = set(range(FIRST_CLIENT, FIRST_CLIENT + args.clients))
            queued_at: float | None = None
            limit = due_at + args.clients / CEILING * 3 + 300
            sent = 0
            seen = 0
            last_report = time.monotonic()
            while time.monotonic() < limit:
                await asyncio.sleep(0.5)
                if queued_at is None and time.monotonic() >= due_at and \
                        await asyncio.to_thread(queued_prompts, path) >= args.clients:
                    queued_at = time.monotonic()
                ended = emu.ended
                for call in ended[seen:]:
                    if call.method == "sendMessage" and call.status == 200 \
                            and call.chat_id in clients:
                        sent += 1
                seen = len(ended)
                if time.monotonic() - last_report >= 30:
                    last_report = time.monotonic()
                    print(f"  {time.monotonic() - due_at:5.0f} s after the due minute: "
                          f"{sent:,} prompts sent", flush=True)
                if sent >= args.clients or not bot.alive():
                    break
            stop.set()
            await asyncio.gather(*pressers)
            probe_stop.set()
            await probe
            peak_rss = bot.memory_mb("VmHWM")
        finally:
            stop.set()
            probe_stop.set()
            await bot.stop()
            await emu.stop()
        log = bot.log_text()
        if args.log is not None:
            args.log.write_text(log)

    prompt_times = sorted(c.at for c in emu.ended if c.method == "sendMessage"
                          and c.status == 200 and c.chat_id in clients)
    all_menus = sum(1 for c in emu.calls if c.method == "setMyCommands")
    too_many = sum(1 for c in emu.ended if c.status == 429)
    first = prompt_times[0] - due_at if prompt_times else None
    last = prompt_times[-1] - due_at if prompt_times else None
    rate = len(prompt_times) / last if last else None
    # Everything Telegram counts against the 30/s in that span: the prompts and the other
    # clients' edits (their presses take their share of the same limit).
    counted = [c for c in emu.ended if c.status == 200 and c.method in COUNTED and
               prompt_times and due_at <= c.at <= prompt_times[-1]]
    edits = sum(1 for c in counted if c.method in EDITS)
    counted_rate = len(counted) / last if last else None
    ideal = args.clients / CEILING
    window_end = prompt_times[-1] if prompt_times else time.monotonic()
    during = [lat for at, lat in latencies if due_at <= at <= window_end]
    missed = [at for at in missing if due_at <= at <= window_end]
    longest_wait = max((w for at, w in waits if at >= due_at - 1), default=None)
    ticks = [line for line in log.splitlines() if "scheduler tick" in line]

    def s(value: float | None) -> str:
        return "-" if value is None else f"{value:,.1f} s"

    print()
    print(f"Steadfast fan-out bench: {args.clients:,} clients due at one minute, SQLite, "
          "Telegram's limits enforced")
    print("=" * 96)
    rows = [
        ("start: calls before the first getUpdates",
         ", ".join(f"{m} {n:,}" for m, n in sorted(startup_calls.items())) or "none",
         "a handful"),
        ("start: spawn -> first getUpdates", s(to_poll), ""),
        ("start: setMyCommands, spawn -> minute set", f"{menus:,}", "a handful"),
        ("start: setMyCommands, whole run", f"{all_menus:,}", "a handful"),
        ("due minute -> all prompts in the outbox", s(queued_at - due_at if queued_at else None),
         "seconds"),
        ("due minute -> first prompt sent", s(first), "<= 5 s"),
        ("due minute -> last prompt sent",
         f"{s(last)} (baseline {ideal:,.1f} s at 30/s: {ratio(last, ideal)})", ""),
        ("prompts sent", f"{len(prompt_times):,} of {args.clients:,}", "all"),
        ("prompts/s, due minute -> last prompt",
         f"{rate:.1f}/s ({ratio(rate, CEILING)} of 30/s)" if rate else "-",
         "what the edits leave"),
        ("messages/s (prompts and edits), same span",
         f"{counted_rate:.1f}/s ({ratio(counted_rate, CEILING)} of 30/s; {edits:,} edits)"
         if counted_rate else "-", ">= 28/s (the limiter paces 28.5/s)"),
        ("answered 429", f"{too_many:,}", "0"),
        ("longest wait for SQLite's write lock", ms(longest_wait),
         "~100 ms (write transaction)"),
        ("other clients' presses meanwhile: p50 / p99",
         f"{ms(median(during))} / {ms(percentile(during, 99))} of {len(during)}"
         f" (no edit within 30 s: {len(missed)})", "p99 < 1 s"),
        ("peak RSS of the bot", f"{peak_rss:,.0f} MB", "< 250 MB"),
    ]
    width = max(len(r[0]) for r in rows)
    vwidth = max(len(r[1]) for r in rows)
    for name, value, goal in rows:
        print(f"  {name:<{width}}  {value:<{vwidth}}  {('goal ' + goal) if goal else ''}")
    print("-" * 96)
    print("  scheduler tick lines of the bot's log (the tick logs when it ends, not how long "
          "it took):")
    for line in ticks[-6:]:
        print("    " + line[:150])
    failures = [line for line in log.splitlines() if " ERROR " in line]
    print(f"  {len(failures)} ERROR lines and {log.count('Traceback')} tracebacks in the "
          "bot's log")
    for line in failures[:5]:
        print("    " + line[:150])
    return 0


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--clients", type=int, default=10_000, help="clients due together")
    parser.add_argument("--others", type=int, default=5,
                        help="clients not due who keep answering check-in questions")
    parser.add_argument("--lead", type=float, default=20.0,
                        help="seconds at least between setting the minute and the minute")
    parser.add_argument("--log", type=Path, default=None, help="keep the bot's log there")
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse())))
