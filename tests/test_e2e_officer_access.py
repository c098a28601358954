"""The officer's door, as an access matrix through the emulator: every chat command and
every callback, as an officer, about a client who shares with them, one who does not, one
who withdrew and another officer's client. Only /supervisee of the client who shares shows
anything; every other answer is the one an unknown code gets, and nothing changes."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select, update

from bot.callbacks import AlertCb, DischargeCb, ReviewCb, SharingCb
from bot.handlers.team import STAFF_COMMANDS
from bot.menus import CLIENT as CLIENT_MENU
from journal.administration import AdminService
from journal.alerts.rules import Finding
from journal.alerts.rules_file import load_rules
from journal.alerts.service import AlertService
from journal.checkin.questionnaire_file import load_questionnaire
from journal.clock import FakeClock
from journal.sharing import SharingService
from storage.crypto import MasterKeyring
from storage.models import AlertRow, ClientRow, OutboxRow, SharingAgreementRow
from storage.uow import Store
from telegram_emulator.people import _Callback
from tests.conftest import Database
from tests.e2e import InProcessBot, bot_settings
from tests.helpers import make_clinician
from tests.stories import enrolled_client

LANE, ORTIZ, REYES, ROSS = 7001, 7002, 7501, 7502
NOT_FOUND = "No client with that code is in your caseload."


@pytest.fixture
async def world(emulator: Any, sqlite_database: Database, ring: MasterKeyring,
                clock: FakeClock) -> AsyncIterator[dict[str, Any]]:
    store = Store.open(sqlite_database.url, ring)
    lane = await make_clinician(store, clock, telegram_id=LANE, name="Dr Lane")
    ortiz = await make_clinician(store, clock, telegram_id=ORTIZ, name="Dr Ortiz")
    admin = AdminService(store=store, clock=clock)
    await admin.add_clinician(telegram_id=REYES, name="Officer Reyes", role="officer")
    await admin.add_clinician(telegram_id=ROSS, name="Officer Ross", role="officer")
    clients = {name: await enrolled_client(store, clock, owner, tid)
               for name, owner, tid in (("shares", lane, 8001), ("silent", lane, 8002),
                                        ("withdrew", lane, 8003), ("ross", ortiz, 8004))}
    sharing = SharingService(clock=clock)
    agreements = {}
    async with store.transaction() as uow:
        for name, officer in (("shares", REYES), ("withdrew", REYES), ("ross", ROSS)):
            agreement, client, _ = await sharing.propose(
                uow, code=clients[name].code, officer_telegram_id=officer,
                by=await uow.clinicians.get(client_owner(clients[name], lane, ortiz)))
            await sharing.answer(uow, client, agreement.id, agree=True)
            agreements[name] = agreement.id
            if name == "withdrew":
                await sharing.withdraw(uow, client, agreement.id)
    q = load_questionnaire()
    alerts = AlertService(clock=clock, questionnaire=q, rules=load_rules(questionnaire=q))
    alert_ids = {}
    async with store.transaction() as uow:
        for name, client in clients.items():
            alert = await alerts.raise_alert(uow, client, checkin_id=None, answers={},
                                             findings=[Finding("self_harm", "critical",
                                                               "SELF_HARM")])
            alert_ids[name] = alert.id
    async with store.transaction() as uow:  # the setup's messages are not this story's
        await uow.session.execute(update(OutboxRow).values(status="cancelled"))
    emulator.person(REYES, "Reyes")
    bot = await InProcessBot(bot_settings(emulator, sqlite_database.url, ring),
                             clock=clock).start()
    try:
        yield {"emu": emulator, "store": store, "clients": clients,
               "agreements": agreements, "alerts": alert_ids}
    finally:
        await bot.stop()
        await store.close()


def client_owner(client: Any, lane: Any, ortiz: Any) -> int:
    return int(lane.id if client.clinician_id == lane.id else ortiz.id)


async def ask(emu: Any, text: str) -> str:
    sent = await emu.send_text(REYES, text)
    return str((await emu.wait_for_message(REYES, after=sent.message_id)).text)


async def forged_press(emu: Any, message_id: int, data: str) -> str:
    """A button press carrying data the officer's client made up (a modified app can send
    any callback data on any message in its chat), as the emulator sends a real press."""
    msg = emu._find_visible(REYES, message_id)
    query_id = str(secrets.randbits(62))
    emu._callbacks[query_id] = _Callback(REYES, message_id, time.monotonic())
    emu._enqueue({"callback_query": {
        "id": query_id, "from": emu._active_person(REYES).user_json(),
        "message": emu._message_json(msg), "chat_instance": str((emu.bot_id << 24) ^ REYES),
        "data": data}})
    await asyncio.sleep(0)
    return str(await emu.callback_answer(query_id))


async def test_every_command_and_button_as_an_officer(world: dict[str, Any]) -> None:
    emu, clients = world["emu"], world["clients"]
    hello = await ask(emu, "/start")
    assert "/supervisees" in hello
    listing = await ask(emu, "/supervisees")
    assert clients["shares"].code in listing
    for name in ("silent", "withdrew", "ross"):
        assert clients[name].code not in listing

    code_commands = [*STAFF_COMMANDS, "team", "supervisee", "sharing"]
    for name, client in clients.items():
        for command in code_commands:
            reply = await ask(emu, f"/{command} {client.code}")
            if command == "supervisee" and name == "shares":
                assert reply.startswith(client.code), reply
                assert "open alerts" in reply
            else:
                assert reply == NOT_FOUND, (command, name, reply)
    unknown = await ask(emu, "/supervisee ZZZ-99")
    assert unknown == NOT_FOUND
    for command in (*STAFF_COMMANDS, *(name for name, _ in CLIENT_MENU if name not in ("help", "language"))):
        assert await ask(emu, f"/{command}") == NOT_FOUND, command

    # Buttons: whatever the data, the answer is the same and nothing changes.
    anchor = (await emu.wait_for_message(REYES, contains="/supervisees")).message_id
    presses = []
    for name, client in clients.items():
        presses += [ReviewCb(action=a, code=client.code).pack()
                    for a in ("summary", "history", "report", "plan")]
        presses += [DischargeCb(action="confirm", code=client.code).pack(),
                    AlertCb(action="details", alert_id=world["alerts"][name]).pack(),
                    AlertCb(action="ack", alert_id=world["alerts"][name]).pack(),
                    SharingCb(action="propose", agreement=client.code, officer=REYES).pack()]
    for agreement in world["agreements"].values():
        presses += [SharingCb(action=a, agreement=agreement).pack()
                    for a in ("agree", "decline", "withdraw", "ledger", "pdf", "received",
                              "report")]
    for data in presses:
        assert await forged_press(emu, anchor, data) == NOT_FOUND, data

    async with world["store"].unit_of_work() as uow:
        assert set(await uow.session.scalars(select(AlertRow.status))) == {"open"}
        assert set(await uow.session.scalars(select(ClientRow.status))) == {"active"}
        statuses = dict((await uow.session.execute(
            select(SharingAgreementRow.id, SharingAgreementRow.status))).all())
    assert statuses == {world["agreements"]["shares"]: "agreed",
                        world["agreements"]["withdrew"]: "withdrawn",
                        world["agreements"]["ross"]: "agreed"}
