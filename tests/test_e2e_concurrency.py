"""Updates handled side by side: one slow reply holds nobody else, one person's updates stay
in order, a kill -9 with updates in flight loses nothing and applies nothing twice, and on
PostgreSQL two transactions for one person never overlap."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from journal.clock import FakeClock
from storage.crypto import MasterKeyring
from storage.models import InviteRow, ProcessedUpdateRow
from storage.uow import Store
from tests.conftest import Database
from tests.e2e import ChildBot, InProcessBot, bot_settings, eventually
from tests.helpers import make_clinician
from tests.test_e2e_journal import CLIENT, running

CLINICIANS = [7301, 7302, 7303, 7304, 7305, 7306]


async def count(store: Store, model: Any) -> int:
    async with store.unit_of_work() as uow:
        return int(await uow.session.scalar(select(func.count()).select_from(model)) or 0)


def invites_in(emulator: Any, telegram_id: int) -> int:
    return len([m for m in emulator.chat(telegram_id) if "t.me/" in m.text])


async def clinicians(store: Store, clock: FakeClock, emulator: Any) -> None:
    for n, telegram_id in enumerate(CLINICIANS):
        await make_clinician(store, clock, telegram_id=telegram_id, name=f"Dr {n}")
        emulator.person(telegram_id, f"Staff {n}")


async def test_one_slow_reply_does_not_hold_the_others(
        emulator: Any, sqlite_database: Database, ring: MasterKeyring, clock: FakeClock) -> None:
    store = Store.open(sqlite_database.url, ring)
    await clinicians(store, clock, emulator)
    bot = await InProcessBot(bot_settings(emulator, sqlite_database.url, ring),
                             clock=clock).start()
    try:
        slow, *others = CLINICIANS
        emulator.delay_next("sendMessage", count=1, seconds=6.0)
        await emulator.send_text(slow, "/invite")
        await eventually(lambda: emulator.calls_of("sendMessage"))  # the slow reply is held
        loop = asyncio.get_running_loop()
        began = loop.time()
        for telegram_id in others:
            await emulator.send_text(telegram_id, "/invite")
        await eventually(lambda: all(invites_in(emulator, t) == 1 for t in others), timeout=5)
        # All five were answered while the first reply was still on its way.
        assert loop.time() - began < 5.0
        assert invites_in(emulator, slow) == 0
        await eventually(lambda: invites_in(emulator, slow) == 1, timeout=10)
        assert await count(store, InviteRow) == len(CLINICIANS)
    finally:
        await bot.stop()
        await store.close()


async def test_a_burst_of_one_persons_messages_is_stored_in_the_order_sent(
        emulator: Any, sqlite_database: Database, ring: MasterKeyring, clock: FakeClock) -> None:
    async with running(emulator, sqlite_database, ring, clock) as world:
        status = await world.command("/journal", "Your journal is open")
        parts = [f"Part {n} of what happened today." for n in range(1, 11)]
        for part in parts:  # sent at once, without waiting for the bot
            await emulator.send_text(CLIENT, part)
        await eventually(lambda: f"Saved ({len(parts)} part" in (
            world.text_of(status.message_id) or ""), timeout=30)
        await emulator.press_button(CLIENT, status.message_id, text="Done")
        await eventually(lambda: (world.text_of(status.message_id) or "").startswith("Saved."))
        async with world.store.unit_of_work() as uow:
            saved = await uow.journal.recent(world.client.id)
        assert [e.text for e in saved] == ["\n\n".join(parts)]


async def test_kill_9_with_updates_in_flight_loses_nothing_and_applies_nothing_twice(
        emulator: Any, sqlite_database: Database, ring: MasterKeyring, clock: FakeClock,
        tmp_path: Path) -> None:
    store = Store.open(sqlite_database.url, ring)
    await clinicians(store, clock, emulator)
    settings = bot_settings(emulator, sqlite_database.url, ring)
    child = ChildBot(settings, tmp_path).start()
    try:
        await child.wait_ready()
        slow, *others = CLINICIANS
        emulator.delay_next("sendMessage", count=1, seconds=20.0)
        await emulator.send_text(slow, "/invite")  # committed, its reply held: unfinished
        await eventually(lambda: emulator.calls_of("sendMessage"), timeout=30)
        await emulator.send_text(slow, "/invite")  # waits behind it: not even begun
        for telegram_id in others:
            await emulator.send_text(telegram_id, "/invite")
        await eventually(lambda: all(invites_in(emulator, t) == 1 for t in others), timeout=30)
        assert await count(store, InviteRow) == len(others) + 1
        child.kill()  # kill -9 while the slow person's two updates are in flight
        emulator.clear_faults()

        # The offset stayed at the slow person's first update: everything after it comes
        # again; what was committed is skipped, the one never begun is handled now.
        child = ChildBot(settings, tmp_path).start()
        await child.wait_ready()
        await eventually(lambda: invites_in(emulator, slow) >= 1, timeout=30)
        await eventually(lambda: child.log_text().count("was handled before; skipped")
                         >= len(others) + 1, timeout=30)
        await asyncio.sleep(0.5)
        assert await count(store, InviteRow) == len(CLINICIANS) + 1
        assert await count(store, ProcessedUpdateRow) == len(CLINICIANS) + 1
        assert all(invites_in(emulator, t) == 1 for t in others)
        assert await child.terminate() == 0
    finally:
        if child.process and child.process.poll() is None:
            child.kill()
        await store.close()


async def test_two_transactions_for_one_person_never_overlap(
        database: Database, ring: MasterKeyring, clock: FakeClock) -> None:
    store = Store.open(database.url, ring)
    try:
        first = store.unit_of_work()
        await first.hold_person(4242)
        await first.updates.record(1, clock.now())

        async def second(telegram_id: int, update_id: int) -> None:
            async with store.unit_of_work() as uow:
                await uow.hold_person(telegram_id)
                await uow.updates.record(update_id, clock.now())
                await uow.commit()

        same = asyncio.create_task(second(4242, 2))
        await asyncio.sleep(0.5)
        assert not same.done()  # it waits for the first transaction to end
        if store.postgres:  # another person is not held (SQLite has one writer anyway)
            await asyncio.wait_for(second(4343, 3), timeout=5)
        await first.commit()
        await first.__aexit__(None, None, None)
        await asyncio.wait_for(same, timeout=5)
        async with store.unit_of_work() as uow:
            assert await uow.updates.seen(1) and await uow.updates.seen(2)
    finally:
        await store.close()
