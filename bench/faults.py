"""Prints what a run of high-risk check-ins loses when Telegram and the bot fail at random.

A script that prints figures, not a test. From the repository's root:

    .venv/bin/python bench/faults.py [--n 40] [--seed S] [--intensity 1.0]
                                     [--database sqlite|postgresql] [--max-outage 180]
                                     [--outage S] [--send-outage S] [--verbose] [--log FILE]
                                     [--questionnaire FILE] [--short]

Real parts only: the project's Bot API emulator serves real HTTP in this process; the real
bot runs as a child process (`python -m cli run`) on a real SQLite file (a temporary
folder) or on a PostgreSQL database that the script creates on 127.0.0.1:5432 and drops
at the end. A clinician is added through the administrator's use case; N clients are
enrolled, and each does one daily check-in through the emulator, pressing buttons and
typing like a person, with an answer that the default risk rules turn into a high alert.
The clients choose their answers by the questionnaire's keys and find the buttons by its
labels (the packaged questionnaire, or --questionnaire FILE, which the bot is given too).

Meanwhile faults are injected at random. --seed fixes their sequence and the clients'
answers; how many faults a run meets depends on how long the check-ins take on the machine:
  - bursts of 5xx answers to one method (some after the effect: the message went out, the
    bot is told it failed, as when a reply is lost on its way back);
  - 429 answers with retry_after;
  - outages: every method, getUpdates included, answers 502 for a random number of seconds
    or, as often, only the sending methods fail while updates still arrive (so alerts are
    raised meanwhile); --outage S and --send-outage S add one of S seconds early on;
  - kill -9 of the bot, restarted a moment later. A bot that exits by itself is restarted
    too, a second later, as a service manager would.
When every client is done (or --client-timeout passed) faults stop and the script waits up
to --drain seconds for the alerts still on their way, then prints:
  - answers lost: answers the bot showed as taken (it moved on to the next question, said
    "Saved." or "saved" for the whole check-in) that the database does not hold at the
    end, read and decrypted through the project's storage layer; and answers sent but not
    yet shown as taken that the database does not hold either;
  - alerts lost: submitted high-risk check-ins whose alert never reached the clinician's
    chat in the emulator;
  - alerts delivered twice: the same alert's message arriving more than once in that chat;
  - the time from the answer that raised the alert (Submit) to the clinician's chat
    holding it, longest and median;
  - the faults injected, and the settings and seed, so the run can be repeated.
When fewer than 90% of the check-ins were saved, it says "bench broken" (and why the
clients stopped) and exits 1: the figures would measure check-ins that never happened. A
plan the questionnaire cannot take exits 2 at once. --short plays a handful of clients with
short faults in well under a minute; tests/test_faults_bench.py runs it.
Everything is judged from what the people see in the emulator and what the database
holds, never from the delivery worker's own bookkeeping. --env passes extra STEADFAST_*
settings to the bot (for example a shorter delivery backoff, where the program has one).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import re
import secrets
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.harness import create_postgres, drop_postgres, until  # noqa: E402
from journal.administration import AdminService  # noqa: E402
from journal.checkin.flow import Stored  # noqa: E402
from journal.checkin.questionnaire import Item, Questionnaire  # noqa: E402
from journal.checkin.questionnaire_file import load_questionnaire  # noqa: E402
from journal.clock import SystemClock  # noqa: E402
from storage.crypto import MasterKeyring  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.uow import Store  # noqa: E402
from telegram_emulator import BotAPIEmulator, ChatMessage, EmulatorAssertionError  # noqa: E402

TOKEN = "123456:BENCH-TOKEN"
CLINICIAN = 7001
FIRST_CLIENT = 8001
LANGUAGE = "en"  # the clients' language: buttons and questions are read in it
# The bot's own words (bot/views/checkin.py), in English; the questionnaire's are read from it.
SAVED = "Your check-in for today is saved"
DONE, SUBMIT, TICK = "Done", "Submit", "✓ "
BROKEN_BELOW = 0.9  # a run that saves fewer check-ins than this share says "bench broken"
# --short: a handful of clients and a few faults, quick enough for every test run.
SHORT = {"n": 5, "intensity": 2.0, "max_faults": 6, "max_outage": 5.0, "stagger": 0.3,
         "patience": 3.0, "client_timeout": 120.0, "drain": 30.0, "lease": 5}
ALREADY = "already checked in today"  # the answer to /checkin once it was submitted
ALERT = re.compile(r"alert for client (\S+)")
# Methods the bot calls while serving people; bursts and 429s pick among them.
BURST_METHODS = ("sendMessage", "editMessageText", "answerCallbackQuery", "getUpdates",
                 "deleteMessage")
SEND_METHODS = ("sendMessage", "editMessageText", "editMessageReplyMarkup", "deleteMessage",
                "answerCallbackQuery", "sendPhoto", "sendDocument")


# ------------------------------------------------------------------------------ the bot


class BotProcess:
    """`steadfast run` as a child process, restarted like a service manager would."""

    def __init__(self, env: dict[str, str], folder: Path) -> None:
        self.env = env
        self.folder = folder
        self.log = folder / "bot.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.kills = 0
        self.exits: Counter[int] = Counter()  # exits the bench did not cause, by code
        self.restarting = asyncio.Lock()  # one restart at a time: supervisor or a kill -9
        self._running_before = 0

    def start(self) -> None:
        if self.alive():  # never two bots: the older one would be left running
            return
        self._running_before = self.running_lines()
        with self.log.open("ab") as handle:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "cli", "run"], cwd=self.folder, env=self.env,
                stdout=handle, stderr=subprocess.STDOUT)
        self.starts += 1

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def up(self) -> bool:
        """Alive, and this start reached "Steadfast is running"."""
        return self.alive() and self.running_lines() > self._running_before

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
            self.kills += 1
        self.process = None

    async def wait_running(self, within: float) -> bool:
        """Until this start's log says it is running (or `within` seconds passed)."""
        return await until(lambda: self.running_lines() > self._running_before, within)

    async def supervise(self, stop: asyncio.Event, max_restarts: int) -> None:
        """Restart a bot that exited by itself, one second later, at most max_restarts."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.5)
            if stop.is_set():
                return
            async with self.restarting:
                if self.process is None or self.process.poll() is None:
                    continue
                self.exits[self.process.returncode] += 1
                self.process = None
                if sum(self.exits.values()) > max_restarts:
                    return
                await asyncio.sleep(1.0)
                self.start()

    async def terminate(self, grace: float = 30) -> int | None:
        """SIGTERM, and kill -9 if it has not stopped after `grace` seconds."""
        if self.process is None:
            return None
        self.process.send_signal(signal.SIGTERM)
        try:
            return await asyncio.to_thread(self.process.wait, grace)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return await asyncio.to_thread(self.process.wait, 10)

    def running_lines(self) -> int:
        return self.log.read_bytes().count(b"Steadfast is running") if self.log.exists() else 0


# ------------------------------------------------------------------------------ people


class BenchBroken(Exception):
    """The bench cannot play its check-ins: its figures would measure nothing."""


@dataclass
class Step:
    item_id: str
    press: str | None  # the button's text, as the questionnaire labels the answer
    type: str | None  # or a typed answer
    expected: Any  # what the check-in's stored answers should hold


def plan_for(q: Questionnaire, rng: random.Random, n: int) -> list[Step]:
    """One high-risk day: staying where victims are is a high finding in the default rules;
    the rest varies from client to client without raising anything else. Answers are named
    by the questionnaire's keys; the buttons' texts are read from its labels."""
    anger, coping, confidence = rng.randint(0, 5), rng.randint(4, 10), rng.randint(4, 10)
    answers: dict[str, Any] = {
        "victim_access": "stayed", "anger": anger, "sexual_thoughts": "none",
        "supervision": "no", "coping": coping, "self_harm": False, "social_support": "no",
        "substances": "none", "high_risk": False, "suds": (), "lapse": False,
        "coping_steps": (), "confidence": confidence, "good_life": (),
        "journal_note": f"Bench note {n}: an ordinary evening",
    }
    steps = []
    for item_id, value in answers.items():
        if not q.has_item(item_id):
            raise BenchBroken(f"the questionnaire has no item {item_id!r}")
        item = q.item(item_id)
        if item.kind == "text":
            steps.append(Step(item_id, None, value, value))
        else:
            steps.append(Step(item_id, button_text(item, value), None, value))
    return steps


def button_text(item: Item, value: Any) -> str:
    """The text of the button that gives `value` to `item`, in the clients' language."""
    if item.kind == "choice":
        option = item.option(value)
        if option is None:
            raise BenchBroken(f"item {item.id!r} has no option {value!r}")
        return option.label.get(LANGUAGE)
    if item.kind == "yesno":
        return item.phrases.get("yes" if value else "no", LANGUAGE)
    if item.kind == "scale" and item.min <= value <= item.max:
        return str(value)
    if item.kind == "multi" and value == ():
        return DONE  # nothing chosen: Done at once
    raise BenchBroken(f"item {item.id!r} ({item.kind}) cannot take {value!r}")


def _button(message: ChatMessage, text: str) -> str | None:
    """The callback data of the message's button showing `text` (ticked or not)."""
    for row in message.buttons:
        for button in row:
            if button.text.removeprefix(TICK) == text:
                return button.callback_data
    return None


@dataclass
class ClientRun:
    n: int
    user_id: int
    code: str
    client_id: str
    steps: list[Step]
    sent: set[str] = field(default_factory=set)  # items the client answered at least once
    acknowledged: set[str] = field(default_factory=set)  # items the bot showed as taken
    told_saved: bool = False  # the whole check-in, in the bot's own words
    submit_pressed_at: float | None = None  # time.monotonic() of the first Submit press
    checkins_sent: int = 0
    started_at: float | None = None
    finished_at: float | None = None
    gave_up: str | None = None
    events: list[str] = field(default_factory=list)  # what the client did, for --verbose

    def note(self, began: float, what: str) -> None:
        self.events.append(f"{time.monotonic() - began:7.1f} s {what}")
        del self.events[:-30]


def _identify(q: Questionnaire, text: str) -> str | None:
    """Which item a check-in message shows, by its question; "summary" for the summary."""
    if "your answers" in text and "press Submit" in text:
        return "summary"
    best: tuple[int, str] | None = None
    for item in q.items:
        question = item.text.get(LANGUAGE)
        if question in text and (best is None or len(question) > best[0]):
            best = (len(question), item.id)
    return best[1] if best else None


def _checkin_view(emu: BotAPIEmulator, user_id: int) -> ChatMessage | None:
    """The newest bot message with a check-in's own buttons (not a prompt's)."""
    for message in reversed(emu.chat(user_id)):
        if message.from_bot and any(
                (b.callback_data or "").startswith("ck:")
                and not (b.callback_data or "").startswith(("ck:s:", "ck:l:"))
                for row in message.buttons for b in row):
            return message
    return None


def _face(message: ChatMessage | None) -> tuple[Any, ...] | None:
    if message is None:
        return None
    return (message.message_id, message.text,
            tuple(b.callback_data for row in message.buttons for b in row))


def _saved_whole(emu: BotAPIEmulator, user_id: int) -> bool:
    """The bot told the client the day's check-in is saved (or, asked again, done)."""
    return any(m.from_bot and (SAVED in m.text or ALREADY in m.text)
               for m in emu.chat(user_id))


async def do_checkin(emu: BotAPIEmulator, q: Questionnaire, run: ClientRun,
                     rng: random.Random, deadline: float, first_patience: float = 8.0) -> None:
    """Answer like a person: read the question shown, answer it, wait for the bot to move
    on; if it does not, wait longer each time and ask again with /checkin."""
    plan = {s.item_id: s for s in run.steps}
    patience = first_patience
    longest = first_patience * 30 / 8  # 8 s doubling up to 30 s by default

    began = run.started_at = time.monotonic()

    async def ask() -> None:
        run.checkins_sent += 1
        run.note(began, "sends /checkin")
        await emu.send_command(run.user_id, "/checkin")

    await ask()
    while time.monotonic() < deadline:
        if _saved_whole(emu, run.user_id):
            run.told_saved = True
            run.acknowledged.update(plan)
            run.finished_at = time.monotonic()
            return
        view = _checkin_view(emu, run.user_id)
        if view is None:
            if not await until(lambda: _checkin_view(emu, run.user_id) is not None
                                or _saved_whole(emu, run.user_id),
                                min(patience, max(0.0, deadline - time.monotonic()))):
                patience = min(patience * 2, longest)
                await ask()
            continue
        item = _identify(q, view.text)
        run.note(began, f"sees {item} on message {view.message_id}")
        before = _face(view)
        await asyncio.sleep(rng.uniform(0.05, 0.4))  # reading the question
        saved_notes = sum(1 for m in emu.chat(run.user_id) if m.from_bot and m.text == "Saved.")
        if item is None or (item != "summary" and item not in plan):
            run.gave_up = "a check-in message it cannot read"
            return
        label = SUBMIT if item == "summary" else plan[item].press
        data = _button(view, label) if label is not None else None
        if label is not None and data is None:
            # The bot shows the question but not the answer the bench means to give: the
            # bench and the bot's questionnaire disagree, and waiting will not help.
            run.gave_up = f"no button {label!r} on item {item} (its buttons: {view.button_texts})"
            return
        try:
            if item == "summary":
                if run.submit_pressed_at is None:
                    run.submit_pressed_at = time.monotonic()
                await emu.press_button(run.user_id, view.message_id, callback_data=data)
            elif plan[item].type is not None:
                await emu.send_text(run.user_id, str(plan[item].type))
                run.sent.add(item)
            else:
                await emu.press_button(run.user_id, view.message_id, callback_data=data)
                run.sent.add(item)
        except EmulatorAssertionError:
            run.note(began, "the message changed under the finger")
            continue  # look again

        def moved(before: tuple[Any, ...] | None = before) -> bool:
            return _face(_checkin_view(emu, run.user_id)) != before or _saved_whole(
                emu, run.user_id)

        if await until(moved, min(patience, max(0.0, deadline - time.monotonic()))):
            patience = first_patience
            now = _checkin_view(emu, run.user_id)
            shown = _identify(q, now.text) if now is not None else None
            said_saved = sum(1 for m in emu.chat(run.user_id)
                             if m.from_bot and m.text == "Saved.") > saved_notes
            if item in plan and (shown != item or said_saved):
                run.acknowledged.add(item)
        else:
            run.note(began, f"no change within {patience:.0f} s")
            patience = min(patience * 2, longest)
            await ask()
    run.gave_up = "not finished before --client-timeout"


# ------------------------------------------------------------------------------ faults


@dataclass
class FaultLog:
    counts: Counter[str] = field(default_factory=Counter)
    outage_seconds: list[float] = field(default_factory=list)
    send_outage_seconds: list[float] = field(default_factory=list)
    quiet_until: float = 0.0  # no random outage before this time.monotonic()
    kills_skipped: int = 0  # kill -9 drawn while the bot was still starting


async def inject_faults(emu: BotAPIEmulator, bot: BotProcess, rng: random.Random,
                        args: argparse.Namespace, stop: asyncio.Event, faults: FaultLog) -> None:
    """Until `stop`: wait a random while, then one fault picked at random."""
    planned = [asyncio.create_task(_one_outage(emu, rng.uniform(10, 30), length, methods,
                                               stop, faults))
               for length, methods in ((args.outage, None), (args.send_outage, SEND_METHODS))
               if length]
    try:
        await _random_faults(emu, bot, rng, args, stop, faults)
    finally:
        await asyncio.gather(*planned)


async def _one_outage(emu: BotAPIEmulator, after: float, seconds: float,
                      methods: tuple[str, ...] | None, stop: asyncio.Event,
                      faults: FaultLog) -> None:
    """--outage, --send-outage: one outage of a set length, `after` seconds into the run."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), after)
    if stop.is_set():
        return
    emu.fail_for(seconds, error_code=502, methods=methods)
    faults.quiet_until = max(faults.quiet_until, time.monotonic() + seconds + 60)
    if methods is None:
        faults.counts["outage, every method 502"] += 1
        faults.outage_seconds.append(seconds)
    else:
        faults.counts["outage of sending only, 502"] += 1
        faults.send_outage_seconds.append(seconds)


async def _random_faults(emu: BotAPIEmulator, bot: BotProcess, rng: random.Random,
                         args: argparse.Namespace, stop: asyncio.Event,
                         faults: FaultLog) -> None:
    if args.intensity == 0:
        return
    mean_gap = 4.0 / args.intensity
    kinds = ["burst", "burst_after_effect", "429", "outage", "kill"]
    weights = [3, 1, 2, 2, 1.2]
    while not stop.is_set() and sum(faults.counts.values()) < args.max_faults:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), rng.expovariate(1 / mean_gap))
        if stop.is_set():
            return
        kind = rng.choices(kinds, weights)[0]
        if kind == "burst":
            method = rng.choice(BURST_METHODS)
            emu.fail_next(method, count=rng.randint(1, 6),
                          error_code=rng.choice((500, 502, 503, 504)))
            faults.counts[f"5xx burst ({method})"] += 1
        elif kind == "burst_after_effect":
            emu.fail_next("sendMessage", count=rng.randint(1, 3), error_code=502,
                          after_effect=True)
            faults.counts["5xx after the message went out (sendMessage)"] += 1
        elif kind == "429":
            method = rng.choice(("sendMessage", "editMessageText"))
            emu.fail_next(method, count=rng.randint(1, 4), error_code=429,
                          retry_after=rng.randint(1, 5))
            faults.counts[f"429 with retry_after ({method})"] += 1
        elif kind == "outage":
            # Not while one lasts, nor in the minute after: people get to carry on between.
            if emu.outage_active() or time.monotonic() < faults.quiet_until:
                continue
            long = rng.random() < 0.5
            short = min(30.0, args.max_outage)  # half are 5-30 s, capped at --max-outage
            seconds = round(rng.uniform(short, args.max_outage) if long
                            else rng.uniform(min(5.0, short), short), 1)
            faults.quiet_until = time.monotonic() + seconds + 60
            if rng.random() < 0.5:
                emu.fail_for(seconds, error_code=502)
                faults.counts["outage, every method 502"] += 1
                faults.outage_seconds.append(seconds)
            else:  # updates still arrive, so alerts are raised while nothing goes out
                emu.fail_for(seconds, error_code=502, methods=SEND_METHODS)
                faults.counts["outage of sending only, 502"] += 1
                faults.send_outage_seconds.append(seconds)
        else:
            pause = rng.uniform(0.2, 3.0)
            if not bot.up():
                # Still starting after the last kill: on a loaded machine a start takes long
                # enough that kills at this rate would keep the bot from ever serving.
                faults.kills_skipped += 1
                continue
            async with bot.restarting:
                bot.kill()
                faults.counts["kill -9 of the bot, then restart"] += 1
                await asyncio.sleep(pause)
                bot.start()


# ------------------------------------------------------------------------------ databases




# ------------------------------------------------------------------------------ the run


def bot_env(emu: BotAPIEmulator, url: str, ring: MasterKeyring,
            args: argparse.Namespace) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STEADFAST_")}
    env.update({
        "STEADFAST_BOT_TOKEN": emu.token,
        "STEADFAST_TELEGRAM_API_URL": emu.base_url,
        "STEADFAST_DATABASE_URL": url,
        "STEADFAST_MASTER_KEYS": ",".join(ring.dump().splitlines()[1:]),
        "STEADFAST_DEFAULT_TIMEZONE": "UTC",
        "STEADFAST_OUTBOX_LEASE_SECONDS": str(args.lease),
        "PYTHONPATH": str(ROOT),
    })
    if args.questionnaire is not None:
        env["STEADFAST_QUESTIONNAIRE"] = str(args.questionnaire.resolve())
    for pair in args.env:
        key, _, value = pair.partition("=")
        env[key] = value
    return env


def alert_messages(emu: BotAPIEmulator) -> list[ChatMessage]:
    """Alert messages in the clinician's chat (an escalation copy is a separate matter)."""
    return [m for m in emu.chat(CLINICIAN) if m.from_bot and ALERT.search(m.text)
            and not m.text.startswith("ESCALATED")]


async def watch_alerts(emu: BotAPIEmulator, stop: asyncio.Event,
                       seen: dict[int, tuple[float, str]]) -> None:
    """When each alert message first showed in the clinician's chat: id -> (time, code)."""
    while not stop.is_set():
        for message in alert_messages(emu):
            if message.message_id not in seen:
                match = ALERT.search(message.text)
                assert match is not None
                seen[message.message_id] = (time.monotonic(), match.group(1))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.1)


async def enrol(store: Store, plans: list[list[Step]]) -> list[ClientRun]:
    clock = SystemClock()
    clinician = await AdminService(store=store, clock=clock).add_clinician(
        telegram_id=CLINICIAN, name="Dr Bench", supervisor=False)
    runs = []
    for i, plan in enumerate(plans):
        user_id = FIRST_CLIENT + i
        async with store.transaction() as uow:
            client = await uow.clients.add_invited(
                clinician_id=clinician.id, language="en", timezone="UTC",
                checkin_time="20:00", now=clock.now())
            # No check-in days: the scheduler never prompts during the run.
            client = await uow.clients.update(client.id, telegram_id=user_id, status="active",
                                              enrolled_at=clock.now(), checkin_days="")
        runs.append(ClientRun(i + 1, user_id, client.code, client.id, plan))
    return runs


async def stored_answers(store: Store, run: ClientRun, since: datetime
                         ) -> tuple[str | None, dict[str, Any]]:
    """The client's check-in as the database holds it, decrypted: (status, answers)."""
    async with store.unit_of_work() as uow:
        days = await uow.checkins.recent(run.client_id, since=since.date() - timedelta(days=1))
        checkin = days[-1] if days else None
        if checkin is None:
            return None, {}
        if checkin.state is None:
            return checkin.status, {}
        return checkin.status, dict(Stored.from_data(checkin.state).state.answers)


def seconds(value: float) -> str:
    return f"{value:.1f} s"


async def main(args: argparse.Namespace) -> int:
    seed = args.seed if args.seed is not None else secrets.randbelow(2**31)
    rng = random.Random(seed)
    fault_rng = random.Random(rng.getrandbits(64))
    q = load_questionnaire(args.questionnaire)
    try:
        plans = [plan_for(q, rng, i + 1) for i in range(args.n)]
    except BenchBroken as exc:
        print(f"bench broken: {exc}; it cannot play a check-in on this questionnaire")
        return 2
    started_at = datetime.now(UTC)
    began = time.monotonic()
    pg_name: str | None = None
    with tempfile.TemporaryDirectory(prefix="steadfast-faults-") as tmp:
        folder = Path(tmp)
        if args.database == "postgresql":
            url, pg_name = await create_postgres()
        else:
            url = f"sqlite+aiosqlite:///{folder / 'bench.db'}"
        store: Store | None = None
        emu = BotAPIEmulator(token=TOKEN, callback_query_timeout=15.0)
        bot: BotProcess | None = None
        try:
            await asyncio.to_thread(upgrade, url)
            ring = MasterKeyring.generate()
            store = Store.open(url, ring)
            runs = await enrol(store, plans)
            await emu.start()
            emu.person(CLINICIAN, "Bench")
            await emu.send_command(CLINICIAN, "/start")  # the chat exists
            for run in runs:
                emu.person(run.user_id, f"Client{run.n}")
            bot = BotProcess(bot_env(emu, url, ring, args), folder)
            bot.start()
            if not await bot.wait_running(120):  # a loaded machine starts slowly
                print("the bot did not start:\n" + bot.log.read_text(errors="replace")[-3000:])
                return 1

            stop_faults, stop_all = asyncio.Event(), asyncio.Event()
            faults = FaultLog()
            seen: dict[int, tuple[float, str]] = {}
            background = [
                asyncio.create_task(bot.supervise(stop_all, max_restarts=args.max_restarts)),
                asyncio.create_task(watch_alerts(emu, stop_all, seen)),
                asyncio.create_task(inject_faults(emu, bot, fault_rng, args, stop_faults,
                                                  faults)),
            ]
            limit = asyncio.Semaphore(args.concurrency)
            deadline = time.monotonic() + args.client_timeout
            pace = [random.Random(rng.getrandbits(64)) for _ in runs]

            async def one(run: ClientRun, delay: float) -> None:
                await asyncio.sleep(delay)
                async with limit:
                    if time.monotonic() >= deadline:
                        run.gave_up = "never started: the others took until --client-timeout"
                        return
                    await do_checkin(emu, q, run, pace[run.n - 1], deadline, args.patience)

            print(f"seed {seed}: {args.n} clients check in, faults at intensity "
                  f"{args.intensity} on {args.database}...", flush=True)
            await asyncio.gather(*(one(run, i * args.stagger) for i, run in enumerate(runs)))
            clients_done = time.monotonic()
            stop_faults.set()
            await background[2]
            emu.clear_faults()  # an outage still running ends here
            expected = {run.code for run in runs if run.submit_pressed_at is not None}
            print(f"check-ins over after {seconds(clients_done - began)}; waiting up to "
                  f"{args.drain:.0f} s for alerts still on their way...", flush=True)
            await until(lambda: {code for _, code in seen.values()} >= expected,
                         args.drain, interval=0.25)
            drained = time.monotonic()
            stop_all.set()
            await asyncio.gather(*background[:2])
            # A start still under way installs its SIGTERM handler once it runs.
            await bot.wait_running(30)
            exit_code = await bot.terminate()

            # ------------------------------------------------------------ figures
            lost_answers: list[tuple[str, str]] = []  # shown as taken, not stored
            lost_sent: list[tuple[str, str]] = []  # sent, not stored
            submitted: list[ClientRun] = []
            for run in runs:
                status, answers = await stored_answers(store, run, started_at)
                if status == "submitted" or run.told_saved:
                    submitted.append(run)
                for step in run.steps:
                    if answers.get(step.item_id) == step.expected:
                        continue
                    if step.item_id in run.acknowledged:
                        lost_answers.append((run.code, step.item_id))
                    elif step.item_id in run.sent:
                        lost_sent.append((run.code, step.item_id))
                if run.told_saved and status != "submitted":
                    lost_answers.append((run.code, "(the submission)"))
            by_code: dict[str, list[float]] = {}
            for at, code in seen.values():
                by_code.setdefault(code, []).append(at)
            lost_alerts = [r for r in submitted if r.code not in by_code]
            twice = {code: len(times) for code, times in by_code.items() if len(times) > 1}
            latencies = sorted(min(by_code[r.code]) - r.submit_pressed_at for r in submitted
                               if r.code in by_code and r.submit_pressed_at is not None)
            log_text = bot.log.read_text(errors="replace")
            if args.log is not None:
                args.log.write_text(log_text)
            reached_running = bot.running_lines()
        finally:
            if bot is not None and bot.alive():
                bot.kill()
            await emu.stop()
            if store is not None:
                await store.close()
            if pg_name is not None:
                await drop_postgres(pg_name)

    acknowledged = sum(len(r.acknowledged) for r in runs)
    sent = sum(len(r.sent | r.acknowledged) for r in runs)
    unfinished = [r for r in runs if not r.told_saved]
    rows = [
        ("answers lost", f"{len(lost_answers)} of {acknowledged} the bot showed as taken"),
        ("answers sent, not stored", f"{len(lost_sent)} of {sent - acknowledged} sent and "
                                     "not (yet) shown as taken"),
        ("alerts lost", f"{len(lost_alerts)} of {len(submitted)} submitted high-risk "
                        "check-ins"),
        ("alerts delivered twice", f"{len(twice)} (extra copies: "
                                   f"{sum(twice.values()) - len(twice)})"),
        ("answer to clinician, longest",
         seconds(latencies[-1]) if latencies else "(none delivered)"),
        ("answer to clinician, median",
         seconds(statistics.median(latencies)) if latencies else "(none delivered)"),
        ("check-ins told saved", f"{args.n - len(unfinished)} of {args.n}"),
    ]
    print()
    print("Steadfast fault bench")
    print("=" * 72)
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"  {key:<{width}}  {value}")
    print("-" * 72)
    print("  faults injected")
    for kind, count in sorted(faults.counts.items()):
        print(f"    {count:>4}  {kind}")
    for label, lengths in (("outage", faults.outage_seconds),
                           ("sending outage", faults.send_outage_seconds)):
        if lengths:
            print(f"          {label} lengths: {', '.join(f'{s:.0f} s' for s in lengths)}")
    if faults.kills_skipped:
        print(f"    {faults.kills_skipped:>4}  kill -9 not done: the bot was still starting")
    print(f"    {sum(bot.exits.values()):>4}  bot exits by itself, restarted "
          f"(exit codes {dict(bot.exits) or '-'})")
    print(f"    {reached_running:>4}  starts that reached 'Steadfast is running' "
          f"(of {bot.starts} launched)")
    print(f"    {log_text.count('Traceback'):>4}  tracebacks in the bot's log")
    print("-" * 72)
    print(f"  seed {seed}; clients {args.n}, {args.concurrency} at a time; intensity "
          f"{args.intensity}; outages up to {args.max_outage:.0f} s"
          + (f", one of {args.outage:.0f} s" if args.outage else "")
          + (f", one of sending of {args.send_outage:.0f} s" if args.send_outage else "")
          + (f"; at most {args.max_faults} faults" if args.max_faults < 1_000_000 else "")
          + f"; lease {args.lease} s")
    print(f"  database {args.database}; client timeout {args.client_timeout:.0f} s; "
          f"drain {args.drain:.0f} s; extra env {args.env or '-'}")
    print(f"  wall time {seconds(drained - began)} (check-ins {seconds(clients_done - began)}, "
          f"then {seconds(drained - clients_done)} waiting for alerts); bot stopped with "
          f"exit code {exit_code}")
    print(f"  again: {shlex.join(['python', 'bench/faults.py', *sys.argv[1:]])}"
          + ("" if args.seed is not None else f" --seed {seed}"))
    if args.verbose:
        for line, count in _traceback_ends(log_text).most_common():
            print(f"  {count} tracebacks in the bot's log end with: {line[:100]}")
        for code, item in lost_answers:
            print(f"  lost answer: client {code} item {item}")
        for code, item in lost_sent:
            print(f"  sent, not stored: client {code} item {item}")
        for run in lost_alerts:
            print(f"  lost alert: client {run.code}")
        for reason, count in Counter(r.gave_up for r in unfinished).most_common():
            print(f"  {count} unfinished: {reason}")
        for run in [r for r in unfinished if r.events][:3]:
            print(f"  client {run.code} unfinished; its last steps:")
            for event in run.events:
                print(f"      {event}")
        finished = [r for r in runs if r.finished_at is not None and r.started_at is not None]
        if finished:
            slowest = max(finished, key=lambda r: r.finished_at - r.started_at)
            print(f"  the slowest saved check-in, client {slowest.code}, took "
                  f"{seconds(slowest.finished_at - slowest.started_at)}; its last steps:")
            for event in slowest.events:
                print(f"      {event}")
    saved = args.n - len(unfinished)
    if saved < BROKEN_BELOW * args.n:
        # Figures over check-ins that never happened say nothing: a bench whose clients
        # cannot get through the questionnaire must not read as a clean run.
        print(f"bench broken: {saved} of {args.n} check-ins saved (fewer than "
              f"{BROKEN_BELOW:.0%}); the figures above measure too little")
        if not args.verbose:
            for reason, count in Counter(r.gave_up for r in unfinished).most_common(3):
                print(f"  {count} unfinished: {reason}")
        return 1
    return 0


def _traceback_ends(log: str) -> Counter[str]:
    """The exception line that ends each traceback in the log (its type and message)."""
    ends: Counter[str] = Counter()
    lines = log.splitlines()
    for i, line in enumerate(lines):
        if not line.startswith("Traceback"):
            continue
        j = i + 1
        while j < len(lines) and (lines[j].startswith(" ") or not lines[j].strip()):
            j += 1
        if j < len(lines):
            ends[lines[j].strip()] += 1
    return ends


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--n", type=int, default=40, help="clients, one check-in each")
    parser.add_argument("--seed", type=int, default=None, help="default: a random one, printed")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--intensity", type=float, default=1.0,
                        help="one fault per 4 s on average at 1 (0: none, 2: twice as many)")
    parser.add_argument("--max-outage", type=float, default=180.0,
                        help="the longest outage in seconds (half of them are 5-30 s)")
    parser.add_argument("--outage", type=float, default=0.0, metavar="SECONDS",
                        help="also one outage of this length 10-30 s into the check-ins")
    parser.add_argument("--send-outage", type=float, default=0.0, metavar="SECONDS",
                        help="also one of only the sending methods, 10-30 s into the run")
    parser.add_argument("--concurrency", type=int, default=20,
                        help="clients checking in at the same time")
    parser.add_argument("--stagger", type=float, default=0.5,
                        help="seconds between one client's start and the next")
    parser.add_argument("--client-timeout", type=float, default=480.0,
                        help="check-ins not finished by then stop, faults stop")
    parser.add_argument("--drain", type=float, default=180.0,
                        help="seconds to wait for alerts once faults stopped")
    parser.add_argument("--lease", type=int, default=10,
                        help="STEADFAST_OUTBOX_LEASE_SECONDS for the bot (after kill -9)")
    parser.add_argument("--patience", type=float, default=8.0,
                        help="seconds a client waits for the bot to move on before it sends "
                             "/checkin again; it doubles each time, up to 30 s at 8")
    parser.add_argument("--max-faults", type=int, default=1_000_000,
                        help="random faults stop after this many")
    parser.add_argument("--max-restarts", type=int, default=200)
    parser.add_argument("--env", action="append", default=[], metavar="STEADFAST_X=VALUE",
                        help="an extra setting for the bot; may repeat")
    parser.add_argument("--verbose", action="store_true", help="name what was lost")
    parser.add_argument("--log", type=Path, default=None, help="keep the bot's log there")
    parser.add_argument("--questionnaire", type=Path, default=None, metavar="FILE",
                        help="a program's questionnaire for the bot and the clients "
                             "(default: the packaged one)")
    parser.add_argument("--short", action="store_true",
                        help="a handful of clients and short faults (the test suite runs it); "
                             "flags given too still apply")
    arguments = parser.parse_args(argv)
    if arguments.short:
        given = {a.split("=", 1)[0] for a in (argv if argv is not None else sys.argv[1:])}
        for name, value in SHORT.items():
            if "--" + name.replace("_", "-") not in given:
                setattr(arguments, name, value)
    if arguments.intensity < 0 or arguments.n < 1:
        parser.error("--intensity must be 0 (no faults) or more and --n at least 1")
    for pair in arguments.env:
        if not pair.startswith("STEADFAST_") or "=" not in pair:
            parser.error(f"--env takes STEADFAST_NAME=VALUE, not {pair!r}")
    return arguments


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse())))
