"""Three `steadfast run --webhook` processes on one PostgreSQL database behind Debian's nginx
(the shipped site, TLS off), Telegram's limits enforced by the emulator pushing webhooks.

200 clients are prompted, answer a short check-in and, one in five, raise an alert. Once
every prompt is out, the instance delivering the outbox is killed with SIGKILL and
started again; later another instance is stopped with SIGTERM. Afterwards the database
and the emulator say: one prompt per client and day, every answer stored, every alert
delivered and recorded once, every update applied once, the audit chain intact, no 429.
"""

from __future__ import annotations

import asyncio
import random
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text

from journal.clock import SystemClock
from scheduler.ticks import TICK_LOCK_KEY
from storage.crypto import MasterKeyring
from storage.instances import DELIVERY
from storage.migrate import upgrade
from storage.models import (
    AlertCopyRow,
    AlertRow,
    CheckInRow,
    OutboxRow,
    ProcessedUpdateRow,
)
from storage.uow import Store
from telegram_emulator import BotAPIEmulator
from tests.conftest import REQUIRE_PG, RUN_ID, _pg_async_url, _pg_available, _pg_execute
from tests.e2e import ChildBot, bot_settings
from tests.multi_instance import (
    QUESTIONNAIRE,
    RULES,
    Nginx,
    Person,
    answer_checkin,
    nginx_binary,
    site_for_test,
)
from tests.test_e2e_runtime import free_port

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

CLIENTS, CLINICIANS = 200, 10
FIRST_CLIENT, FIRST_CLINICIAN = 300_001, 7_101
SECRET = "multi-instance-secret_0123"
HOOK = "/telegram/webhook"
READING = 10.0


async def seed(store: Store) -> list[Person]:
    """Ten clinicians with twenty clients each, enrolled and not yet due (no days)."""
    # Enrolled yesterday: a client enrolled after today's check-in minute is first due
    # tomorrow, and the story makes this minute everyone's.
    now = SystemClock().now() - timedelta(days=1)
    people: list[Person] = []
    async with store.transaction() as uow:
        clinicians = [await uow.clinicians.add(telegram_id=FIRST_CLINICIAN + i,
                                               name=f"Dr {i}", role="clinician", now=now)
                      for i in range(CLINICIANS)]
        for n in range(CLIENTS):
            client = await uow.clients.add_invited(
                clinician_id=clinicians[n % CLINICIANS].id, language="en", timezone="UTC",
                checkin_time="20:00", now=now)
            await uow.clients.update(client.id, telegram_id=FIRST_CLIENT + n, status="active",
                                     enrolled_at=now, checkin_days="")
            people.append(Person(FIRST_CLIENT + n, lapse=n % 5 == 0))
    return people


async def everyone_due(store: Store) -> None:
    """Every client's check-in is due this minute, every day. Enrolment moves to 23 hours
    ago: after yesterday's same minute (so that day is not caught up as missed, whatever
    minute the seeding ran in) and before today's."""
    hhmm = time.strftime("%H:%M", time.gmtime())
    async with store.transaction() as uow:
        await uow.session.execute(text(
            "UPDATE clients SET checkin_days = '0123456', checkin_time = :t,"
            " enrolled_at = now() - interval '23 hours', next_due_at = now()"), {"t": hhmm})


async def scalar(store: Store, statement: Any) -> Any:
    async with store.unit_of_work() as uow:
        return await uow.session.scalar(statement)


LOCK_HOLDERS = text(
    "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
    " WHERE l.locktype = 'advisory' AND l.granted AND l.mode = 'ExclusiveLock'"
    " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    " AND ((l.objsubid = 1 AND l.classid = :hi AND l.objid = :lo)"
    "      OR (l.objsubid = 2 AND l.objid = :delivery))")


class Watch:
    """Samples who holds the scheduler tick and the delivery lock, five times a second."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.most_ticking = 0
        self.ticked: set[str] = set()
        self.delivering: str | None = None

    async def run(self, stop: asyncio.Event) -> None:
        key = {"hi": TICK_LOCK_KEY >> 32, "lo": TICK_LOCK_KEY & 0xFFFFFFFF,
               "delivery": DELIVERY}
        while not stop.is_set():
            async with self.store.unit_of_work() as uow:
                ticking = list(await uow.session.scalars(LOCK_HOLDERS.bindparams(**key)))
                deliver = await uow.session.scalar(text(
                    "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a"
                    " ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted"
                    " AND l.objsubid = 2 AND l.objid = :d AND l.database = (SELECT oid"
                    " FROM pg_database WHERE datname = current_database())"), {"d": DELIVERY})
            ticks = [name for name in ticking if name != deliver]
            self.most_ticking = max(self.most_ticking, len(ticks))
            self.ticked.update(ticks)
            self.delivering = deliver
            await asyncio.sleep(0.2)


async def database() -> tuple[str, str]:
    reason = await asyncio.to_thread(_pg_available)
    if reason:
        if REQUIRE_PG:
            pytest.fail(reason + " (STEADFAST_REQUIRE_POSTGRES=1)")
        pytest.skip(reason)
    name = f"steadfast_multi_{RUN_ID}_{uuid.uuid4().hex[:6]}"
    await _pg_execute(f'CREATE DATABASE "{name}"')
    url = _pg_async_url(name)
    await asyncio.to_thread(upgrade, url)
    return name, url


async def test_three_instances_behind_nginx_survive_a_kill_and_a_stop(
        tmp_path: Path, ring: MasterKeyring) -> None:
    binary = nginx_binary()
    if binary is None:
        if REQUIRE_PG:
            pytest.fail("nginx is not installed (.ci/run installs it)")
        pytest.skip("nginx is not installed")
    T0 = time.monotonic()
    name, url = await database()
    emu = BotAPIEmulator(token="123456:MULTI-TOKEN", enforce_limits=True)
    await emu.start()
    store = Store.open(url, ring)
    nginx: Nginx | None = None
    bots: list[ChildBot] = []
    stop = asyncio.Event()
    try:
        people = await seed(store)
        for person in people:
            emu.person(person.user_id, f"C{person.user_id}").has_chat = True
        for i in range(CLINICIANS):
            emu.person(FIRST_CLINICIAN + i, f"Dr {i}").has_chat = True
        ports, listen = [free_port() for _ in range(3)], free_port()
        (tmp_path / "nginx").mkdir()
        nginx = Nginx(binary, tmp_path / "nginx",
                      site_for_test(ports, listen, tmp_path / "nginx")).start()
        (tmp_path / "checkin.toml").write_text(QUESTIONNAIRE)
        (tmp_path / "rules.toml").write_text(RULES)
        extra = {"STEADFAST_QUESTIONNAIRE": str(tmp_path / "checkin.toml"),
                 "STEADFAST_RISK_RULES": str(tmp_path / "rules.toml"),
                 "STEADFAST_TICK_SECONDS": "5", "STEADFAST_REMINDER_DELAY_MINUTES": "0",
                 "STEADFAST_OUTBOX_LEASE_SECONDS": "60"}
        settings = bot_settings(emu, url, ring)
        for i, port in enumerate(ports):
            folder = tmp_path / f"instance{i}"
            folder.mkdir()
            bots.append(ChildBot(settings, folder, extra_env=extra, args=(
                "--webhook", "--port", str(port), "--secret", SECRET,
                "--public-url", f"http://127.0.0.1:{listen}{HOOK}")).start())
        await asyncio.gather(*(bot.wait_ready(timeout=180) for bot in bots))
        print(f"\n[{time.monotonic() - T0:.1f}s] three instances ready")
        watch = Watch(store)
        watching = asyncio.create_task(watch.run(stop))
        began = time.monotonic()
        await everyone_due(store)
        # People read for a moment before each press (up to READING seconds): the 200 are
        # spread over the time the prompts take to go out, as people are.
        pace = random.Random(14)
        answering = asyncio.gather(*(answer_checkin(emu, p, timeout=240,
                                                    reading=pace.uniform(1.0, READING))
                                     for p in people))

        # -- once every prompt is out: SIGKILL the instance that delivers, start it again
        # (it sends the prompts within its third of the bot's limit, behind its replies:
        # on a loaded machine that takes well over a minute)
        prompted = await _until(lambda: sum(1 for p in people if p.prompts) == CLIENTS, 180)
        assert prompted, f"{sum(1 for p in people if p.prompts)} of {CLIENTS} prompted"
        await _until(lambda: sum(p.done for p in people) >= CLIENTS // 3, 90)
        victim = _by_name(bots, watch.delivering)
        async with store.unit_of_work() as uow:
            claims = set(await uow.session.scalars(select(OutboxRow.id).where(
                OutboxRow.claimed_until.is_not(None),
                OutboxRow.status.in_(("queued", "retrying")))))
        failed_before = _failed_updates(emu)
        killed_at = time.monotonic()
        victim.kill()
        print(f"[{time.monotonic() - T0:.1f}s] killed; {sum(p.done for p in people)} done")

        async def handed_over() -> bool:
            holder = watch.delivering
            return holder is not None and _by_name(bots, holder) is not victim

        async def claims_back() -> bool:
            if not claims:
                return True
            async with store.unit_of_work() as uow:
                held = await uow.session.scalar(select(func.count()).select_from(OutboxRow)
                                                .where(OutboxRow.id.in_(claims),
                                                       OutboxRow.claimed_until.is_not(None)))
            return held == 0

        await _until_async(handed_over, 30)
        takeover = time.monotonic() - killed_at
        await _until_async(claims_back, 90)
        returned = time.monotonic() - killed_at
        victim.start()
        await victim.wait_ready(timeout=90)
        redelivered = _failed_updates(emu) - failed_before

        # -- later: SIGTERM another instance, which stays stopped
        await _until(lambda: sum(p.done for p in people) >= 2 * CLIENTS // 3, 120)
        other = next(b for b in bots if b is not victim)
        print(f"[{time.monotonic() - T0:.1f}s] SIGTERM")
        assert await other.terminate(timeout=60) == 0
        print(f"[{time.monotonic() - T0:.1f}s] stopped")
        assert "Steadfast stopped cleanly" in other.log_text()

        await asyncio.wait_for(answering, 240)
        alerts_expected = sum(p.lapse for p in people)

        async def alerts_delivered() -> bool:
            copies = await scalar(store, select(func.count()).select_from(AlertCopyRow))
            return int(copies or 0) >= alerts_expected

        print(f"[{time.monotonic() - T0:.1f}s] all answered")
        await _until_async(alerts_delivered, 60)
        took = time.monotonic() - began
        stop.set()
        await watching

        # -- what the database holds
        async with store.unit_of_work() as uow:
            checkins = (await uow.session.execute(select(
                CheckInRow.client_id, CheckInRow.local_date, CheckInRow.status))).all()
            alerts = (await uow.session.execute(select(AlertRow.client_id))).all()
            prompts = [(m.chat_id, m.status) for m in [
                await uow.outbox.get(row_id, datetime.now(UTC)) for row_id in
                await uow.session.scalars(select(OutboxRow.id).where(OutboxRow.kind == "prompt"))]
                if m is not None]
            ledger = set(await uow.session.scalars(select(ProcessedUpdateRow.update_id)))
            copies = list(await uow.session.scalars(select(AlertCopyRow.chat_id)))
        assert len(checkins) == CLIENTS and len({(c, d) for c, d, _ in checkins}) == CLIENTS
        open_ones = [c for c, _, s in checkins if s != "submitted"]
        assert not open_ones, await _unsubmitted(store, emu, bots, open_ones)  # all stored
        assert sorted(c for c, _ in prompts) == sorted(p.user_id for p in people)
        assert {s for _, s in prompts} == {"sent"}
        prompt_text = "Time for your check-in"
        sent = [int(c.chat_id or 0) for c in emu.calls_of("sendMessage") if c.error_code is None
                and prompt_text in str(c.params.get("text", ""))]
        assert sorted(sent) == sorted(p.user_id for p in people)  # one each, as Telegram saw
        assert len(alerts) == alerts_expected == len({c for (c,) in alerts})  # recorded once
        assert len(copies) >= alerts_expected
        for i in range(CLINICIANS):  # delivered: each clinician has their clients' alerts
            got = [m for m in emu.chat(FIRST_CLINICIAN + i) if m.from_bot
                   and "alert for client" in m.text]
            theirs = sum(p.lapse for n, p in enumerate(people) if n % CLINICIANS == i)
            assert len(got) >= theirs, f"clinician {i}: {len(got)} of {theirs} alerts"
        pushed = {a.update_id for a in emu.webhook_attempts if a.ok}
        assert pushed <= ledger  # every update Telegram got a 200 for is applied, once
        assert emu.violations == 0, (f"{emu.violations} answered 429 ({emu.flood.refused}):\n"
                                     + _refusals(emu))
        assert watch.most_ticking <= 1
        verify = subprocess.run([sys.executable, "-m", "cli", "audit", "verify"],
                                env=bots[0].env(), cwd=tmp_path, capture_output=True,
                                timeout=120)
        assert verify.returncode == 0, verify.stdout.decode() + verify.stderr.decode()
        retried = nginx.retried(HOOK)
        print(f"\nmulti-instance story: {took:.1f}s from due to last alert; kill: "
              f"{len(claims)} claim(s) held, delivery taken over after {takeover:.2f}s, "
              f"claims back in the queue after {returned:.2f}s; updates Telegram redelivered "
              f"after the kill: {redelivered}; webhook requests nginx retried on another "
              f"instance: {len(retried)}; scheduler seen on {len(watch.ticked)} instance(s)")
    finally:
        stop.set()
        for bot in bots:
            if bot.process is not None and bot.process.poll() is None:
                bot.process.terminate()
        for bot in bots:
            if bot.process is not None:
                try:
                    bot.process.wait(timeout=40)
                except subprocess.TimeoutExpired:
                    bot.process.kill()
        if nginx is not None:
            nginx.stop()
        await store.close()
        await emu.stop()
        await _pg_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _by_name(bots: list[ChildBot], application_name: str | None) -> ChildBot:
    """The instance whose database sessions carry this name (steadfast-<pid>)."""
    assert application_name is not None, "nobody holds the delivery lock"
    pid = int(application_name.rsplit("-", 1)[1])
    return next(b for b in bots if b.process is not None and b.process.pid == pid)


async def _unsubmitted(store: Store, emu: BotAPIEmulator, bots: list[ChildBot],
                       client_ids: list[str]) -> str:
    """What the clients whose check-in is still open saw last, and what the instances
    logged above INFO: why an answer was not stored."""
    async with store.unit_of_work() as uow:
        chats = [c.telegram_id for c in [await uow.clients.get(i) for i in client_ids]
                 if c is not None]
    lines = [f"{len(client_ids)} check-in(s) not submitted"]
    for chat in chats:
        lines += [f"client {chat}:"] + [f"  {t}" for t in emu.transcript(chat)[-8:]]
    for i, bot in enumerate(bots):
        lines += [f"instance {i}: {line}" for line in bot.log_text().splitlines()
                  if " WARNING " in line or " ERROR " in line][-10:]
    return "\n".join(lines)


def _refusals(emu: BotAPIEmulator) -> str:
    """Each refused send with the sends to its chat in the two seconds before it: which
    two sends collided, and from where (the method, the time, the first words)."""
    lines = []
    for refused in (c for c in emu.calls if c.error_code == 429):
        lines.append(f"refused {refused.method} to {refused.chat_id} at {refused.time:.3f}")
        for c in emu.calls:
            if c.chat_id == refused.chat_id and refused.time - 2 <= c.time <= refused.time:
                lines.append(f"  {c.time:.3f} {c.method} {c.source} {c.error_code} "
                             f"{str(c.params.get('text', ''))[:40]!r}")
    return "\n".join(lines)


def _failed_updates(emu: BotAPIEmulator) -> int:
    """Updates whose push failed at least once (Telegram delivers those again)."""
    return len({a.update_id for a in emu.webhook_attempts if not a.ok})


async def _until(check: Any, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.1)
    return True


async def _until_async(check: Any, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, f"{check.__name__} not within {seconds}s"
        await asyncio.sleep(0.05)

