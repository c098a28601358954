"""Command menus by Telegram's scopes: a start makes a few setMyCommands calls whatever the
caseload, and a person's menu is right after they are enrolled, added as staff or
discharged (those per-chat menus travel through the outbox)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from journal.administration import AdminService
from journal.clock import FakeClock
from journal.discharge import DischargeService
from storage.crypto import MasterKeyring
from storage.uow import Store
from tests.conftest import Database
from tests.e2e import InProcessBot, bot_settings, eventually
from tests.helpers import make_client, make_clinician
from tests.test_e2e_enrolment import enrol, invite_link

CLINICIAN, SUPERVISOR, NEWCOMER, CLIENT = 7001, 7002, 7003, 8001
STAFF_ONLY = {"invite", "alerts", "caseload"}


def chat_scoped(emu: Any) -> list[int]:
    return [c.params["scope"]["chat_id"] for c in emu.calls_of("setMyCommands")
            if (c.params.get("scope") or {}).get("type") == "chat" and c.error_code is None]


@pytest.fixture
async def store(sqlite_database: Database, ring: MasterKeyring) -> AsyncIterator[Store]:
    store = Store.open(sqlite_database.url, ring)
    try:
        yield store
    finally:
        await store.close()


async def test_a_start_with_500_clients_makes_a_handful_of_menu_calls(
        emulator: Any, store: Store, sqlite_database: Database, ring: MasterKeyring,
        clock: FakeClock) -> None:
    lane = await make_clinician(store, clock, telegram_id=CLINICIAN)
    emulator.person(CLINICIAN, "Lane")
    await emulator.send_text(CLINICIAN, "hello")  # staff who opened the chat before
    for n in range(500):
        await make_client(store, clock, lane, telegram_id=100_000 + n)
        emulator.person(100_000 + n, f"Client {n}")
    bot = await InProcessBot(bot_settings(emulator, sqlite_database.url, ring),
                             clock=clock).start()
    try:
        await eventually(lambda: CLINICIAN in chat_scoped(emulator), timeout=30)
        await asyncio.sleep(1.0)  # nothing else follows
        calls = emulator.calls_of("setMyCommands")
        assert len(calls) <= 5, [c.params.get("scope") for c in calls]
        assert chat_scoped(emulator) == [CLINICIAN]
        assert "checkin" in emulator.commands_for(100_000)
        assert not STAFF_ONLY & set(emulator.commands_for(100_000))
        assert "invite" in emulator.commands_for(CLINICIAN)
        assert "checkin" not in emulator.commands_for(CLINICIAN)
    finally:
        await bot.stop()


async def test_a_menu_follows_enrolment_a_new_clinician_and_discharge(
        emulator: Any, store: Store, sqlite_database: Database, ring: MasterKeyring,
        clock: FakeClock) -> None:
    await make_clinician(store, clock, telegram_id=CLINICIAN, name="Dr Lane")
    await make_clinician(store, clock, telegram_id=SUPERVISOR, name="Dr Sup", role="supervisor")
    emulator.person(CLINICIAN, "Lane")
    emulator.person(SUPERVISOR, "Sup")
    bot = await InProcessBot(bot_settings(emulator, sqlite_database.url, ring),
                             clock=clock).start()
    try:
        # Enrolled in Spanish: the client's menu in Spanish, no staff command.
        emulator.person(CLIENT, "Sam", language_code="es")
        code = await enrol(emulator, CLIENT, await invite_link(emulator), language="Español")
        await eventually(lambda: "checkin" in emulator.commands_for(CLIENT))
        assert not STAFF_ONLY & set(emulator.commands_for(CLIENT))

        # A clinician added while the bot runs gets the staff menu from the outbox.
        emulator.person(NEWCOMER, "Nia")
        await emulator.send_text(NEWCOMER, "hello")
        await AdminService(store=store, clock=clock).add_clinician(
            telegram_id=NEWCOMER, name="Dr Nia", supervisor=True)
        await eventually(lambda: "reassign" in emulator.commands_for(NEWCOMER), timeout=30)
        assert "checkin" not in emulator.commands_for(NEWCOMER)

        # Discharged: the chat's own menu goes, the default scope's shows.
        async with store.transaction() as uow:
            lane = await uow.clinicians.by_telegram_id(CLINICIAN)
            assert lane is not None
            await DischargeService(clock=clock, retention=clock.now() - clock.now()
                                   ).discharge(uow, lane, code)
        await eventually(lambda: [c for c in emulator.calls_of("deleteMyCommands")
                                  if (c.params.get("scope") or {}).get("chat_id") == CLIENT],
                         timeout=30)
        assert not STAFF_ONLY & set(emulator.commands_for(CLIENT))
        assert emulator.commands_for(CLIENT) == emulator.commands_for(9999, language_code="es")
    finally:
        await bot.stop()
