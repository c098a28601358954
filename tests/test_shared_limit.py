"""One bot, one rate limit: the limiter's share among instances, and delivery handed over
when the instance holding it dies.

The limiter stories count sends with the emulator's own flood control (Telegram's 30/s and
1/s per chat, strict); the takeover story runs two stores, two delivery workers and two
memberships on one PostgreSQL database, against the emulator over HTTP."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import asyncpg
import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from sqlalchemy import select

from bot.delivery import DeliveryWorker
from bot.ratelimit import RateLimiter
from journal.alerts.rules_file import load_rules
from journal.alerts.service import AlertService, EscalationPolicy
from journal.checkin.questionnaire_file import load_questionnaire
from journal.clock import FakeClock
from storage.crypto import MasterKeyring
from storage.instances import Instances
from storage.models import OutboxRow
from storage.uow import Store
from telegram_emulator.limits import FloodControl
from tests.conftest import PG_ADMIN_URL, Database
from tests.e2e import eventually


async def send_through(limiters: list[RateLimiter], chats: list[int], per_chat: int,
                       flood: FloodControl, *, reply: bool = False) -> list[int]:
    """Every chat gets `per_chat` new messages, spread over the limiters (instances); each
    send is counted by the emulator's flood control as it happens. Returns the refusals."""
    refused: list[int] = []

    async def one(limiter: RateLimiter, chat: int) -> None:
        for _ in range(per_chat):
            stamp = await limiter.acquire(chat, reply=reply)
            if flood.acquire(chat, per_chat=True) is not None:
                refused.append(chat)
            limiter.done(chat, stamp)

    await asyncio.gather(*(one(limiters[i % len(limiters)], chat)
                           for i, chat in enumerate(chats)))
    return refused


async def test_three_instances_sharing_the_limit_stay_under_telegrams_together() -> None:
    loop = asyncio.get_running_loop()
    flood = FloodControl(clock=loop.time)
    limiters = [RateLimiter() for _ in range(3)]
    for limiter in limiters:
        limiter.set_instances(3)
    began = loop.time()
    refused = await send_through(limiters, list(range(1, 46)), 2, flood)
    took = loop.time() - began
    assert refused == []  # 90 messages, 45 chats, three limiters: never a 429
    assert took >= 90 / 30 - 0.2  # together they kept 30/s, not 90/s


async def test_one_instance_alone_uses_the_whole_limit_and_three_unshared_do_not_keep_it(
        ) -> None:
    loop = asyncio.get_running_loop()
    alone = FloodControl(clock=loop.time)
    began = loop.time()
    assert await send_through([RateLimiter()], list(range(1, 41)), 1, alone) == []
    assert loop.time() - began < 2.0  # 40 messages at about 28.5/s: no share held back

    unshared = FloodControl(clock=loop.time)  # what each instance's own limiter did before
    refused = await send_through([RateLimiter() for _ in range(3)], list(range(100, 190)), 1,
                                 unshared)
    assert refused  # three instances pacing at 30/s each go over the bot's limit


async def test_a_reply_goes_before_bulk_sends_waiting_for_the_shared_limit() -> None:
    limiter = RateLimiter(per_second=4, chat_interval=0.0)
    limiter.set_instances(2)  # a send every ~0.56 s
    limiter.done(1, await limiter.acquire(1))
    order: list[str] = []

    async def send(name: str, chat: int, reply: bool) -> None:
        limiter.done(chat, await limiter.acquire(chat, reply=reply))
        order.append(name)

    bulk = [asyncio.create_task(send(f"prompt{i}", 10 + i, False)) for i in range(2)]
    await asyncio.sleep(0.05)
    reply = asyncio.create_task(send("reply", 5, True))
    await asyncio.gather(*bulk, reply)
    assert order[0] == "reply"


async def test_sends_keep_the_limiters_pace_though_the_loop_wakes_them_late() -> None:
    """A busy loop wakes each waiter a little after its slot; a limiter that counts the
    next slot from that late wake sends well under its rate. Never over the limit either."""
    loop = asyncio.get_running_loop()

    async def busy() -> None:  # a handler that holds the loop for 2 ms now and then
        while True:
            held = loop.time()
            while loop.time() - held < 0.002:
                pass
            await asyncio.sleep(0.007)

    # A limiter that loses its pace loses it on every run; a machine busy with other work
    # slows one run now and then. So the fastest of up to three runs is held to the pace.
    runs = []
    for _ in range(3):
        flood = FloodControl(global_per_second=100, clock=loop.time)
        limiter = RateLimiter(per_second=100, chat_interval=0.0)  # 95 a second
        other = asyncio.create_task(busy())
        try:
            began = loop.time()
            refused = await send_through([limiter], list(range(1, 191)), 1, flood)
            runs.append(loop.time() - began)
        finally:
            other.cancel()
        assert refused == []  # never over the limit, on any run
        if runs[-1] < 190 / 95 * 1.05:
            break
    assert min(runs) < 190 / 95 * 1.05, runs  # 2.0 s at 95 a second; waking late cost ~2.3 s


# -- membership and delivery handed over, on PostgreSQL -----------------------------------

async def backend_of(database: Database, instances: Instances) -> None:
    """Kill the PostgreSQL session that holds `instances`' locks, as the death of its
    process would end it."""
    conn = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await conn.execute(
            "SELECT pg_terminate_backend(l.pid) FROM pg_locks l JOIN pg_database d"
            " ON d.oid = l.database WHERE d.datname = $1 AND l.locktype = 'advisory'"
            " AND l.mode = 'ExclusiveLock' AND l.objid = $2", database.name,
            int.from_bytes(b"dlvr", "big"))
    finally:
        await conn.close()


def worker(store: Store, bot: Bot, clock: FakeClock, instances: Instances, *,
           chat_interval: float = 0.01) -> DeliveryWorker:
    q = load_questionnaire()
    alerts = AlertService(clock=clock, questionnaire=q, rules=load_rules(questionnaire=q),
                          display_timezone="UTC", escalation=EscalationPolicy({}))
    return DeliveryWorker(store=store, bot=bot, clock=clock, alerts=alerts,
                          limiter=RateLimiter(chat_interval=chat_interval), instances=instances,
                          lease=timedelta(minutes=10), poll_interval=0.2)


@pytest.mark.postgres
@pytest.mark.parametrize("database", ["postgres"], indirect=True)
async def test_delivery_is_one_instances_and_the_next_takes_over_its_claims_at_once(
        database: Database, ring: MasterKeyring, clock: FakeClock, emulator: Any) -> None:
    stores = [Store.open(database.url, ring) for _ in range(2)]
    members = [Instances(database.url) for _ in range(2)]
    bot = Bot(token=emulator.token,
              session=AiohttpSession(api=TelegramAPIServer.from_base(emulator.base_url)))
    chats = [9001 + i for i in range(6)]
    for chat in chats:
        emulator.person(chat, f"P{chat}").has_chat = True  # they started the bot before
    stop = asyncio.Event()
    try:
        for member in members:
            await member.register()
        assert [await m.live() for m in members] == [2, 2]
        assert await members[0].lead() and not await members[1].lead()

        # The first instance claims three rows, then its process dies mid-batch.
        async with stores[0].transaction() as uow:
            for chat in chats:
                await uow.outbox.add(chat_id=chat, kind="prompt", method="sendMessage",
                                     params={"text": f"hello {chat}"}, now=clock.now())
        async with stores[0].transaction() as uow:
            claimed = await uow.outbox.claim_due(clock.now(), limit=3,
                                                 lease=timedelta(minutes=10))
        assert len(claimed) == 3
        await backend_of(database, members[0])

        async def alone() -> bool:
            return await members[1].live() == 1

        await eventually(alone, timeout=5)

        second = worker(stores[1], bot, clock, members[1])
        task = asyncio.create_task(second.run(stop))
        loop = asyncio.get_running_loop()
        began = loop.time()
        for chat in chats:  # the dead one's three claims too, long before their lease ends
            await emulator.wait_for_message(chat, contains=f"hello {chat}", timeout=10)
        assert loop.time() - began < 5
        assert members[1].leading

        async def all_recorded_sent() -> bool:  # recorded after Telegram's answer came
            async with stores[1].unit_of_work() as uow:
                statuses = list(await uow.session.scalars(select(OutboxRow.status)))
            return statuses == ["sent"] * 6

        assert await eventually(all_recorded_sent, timeout=5)
        with pytest.raises(Exception):  # noqa: B017 - the first one finds its session gone
            await members[0].lead()
        assert not await members[0].lead()  # and, connected again, waits its turn
        stop.set()
        await task
        await members[1].close()
        assert await eventually(lambda: members[0].lead(), timeout=5)  # a clean stop: at once
    finally:
        stop.set()
        await bot.session.close()
        for member in members:
            await member.close()
        for store in stores:
            await store.close()


@pytest.mark.postgres
@pytest.mark.parametrize("database", ["postgres"], indirect=True)
async def test_the_instance_taking_over_waits_a_chat_interval_before_its_first_send(
        database: Database, ring: MasterKeyring, clock: FakeClock, emulator: Any) -> None:
    """The holder stops cleanly right after a message to a clinician; the next one takes
    over at once, with that clinician's next alert queued: Telegram must not see two
    messages to one chat within a second from the two of them."""
    emulator.enforce_limits = True
    stores = [Store.open(database.url, ring) for _ in range(2)]
    members = [Instances(database.url) for _ in range(2)]
    bot = Bot(token=emulator.token,
              session=AiohttpSession(api=TelegramAPIServer.from_base(emulator.base_url)))
    chat = 9101
    emulator.person(chat, "Dr T").has_chat = True
    stops = [asyncio.Event(), asyncio.Event()]
    try:
        for member in members:
            await member.register()
        assert await members[0].lead()
        workers = [worker(stores[i], bot, clock, members[i], chat_interval=1.0)
                   for i in range(2)]
        first, second = (asyncio.create_task(w.run(stop)) for w, stop in zip(workers, stops, strict=True))
        async with stores[0].transaction() as uow:
            await uow.outbox.add(chat_id=chat, kind="alert", method="sendMessage",
                                 params={"text": "first alert"}, now=clock.now())
        await emulator.wait_for_message(chat, contains="first alert", timeout=10)
        stops[0].set()
        await first
        await members[0].close()  # hands delivery over now
        async with stores[1].transaction() as uow:
            await uow.outbox.add(chat_id=chat, kind="alert", method="sendMessage",
                                 params={"text": "second alert"}, now=clock.now())
        await emulator.wait_for_message(chat, contains="second alert", timeout=10)
        assert members[1].leading
        sent = [c for c in emulator.calls_of("sendMessage") if c.chat_id == chat]
        assert [c.error_code for c in sent] == [None, None]  # no 429
        assert sent[1].time - sent[0].time >= 0.95
        stops[1].set()
        await second
    finally:
        for event in stops:
            event.set()
        await bot.session.close()
        for member in members:
            await member.close()
        for store in stores:
            await store.close()
