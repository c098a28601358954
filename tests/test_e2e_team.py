"""The treatment team through the emulator, in English and in Spanish: an officer is added,
the clinician proposes sharing, nothing reaches the officer until the client agrees, a
critical alert reaches the clinician and then the officer with its level only, the client
withdraws and nothing more is sent, and the client's ledger names who looked.

A canary the client typed in every free text (journal, plan, the answers behind an alert)
never appears in anything the officer receives."""

from __future__ import annotations

from collections.abc import AsyncIterator
from io import BytesIO
from typing import Any

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from journal.administration import AdminService
from journal.alerts.rules import Finding
from journal.alerts.rules_file import load_rules
from journal.alerts.service import AlertService
from journal.checkin.questionnaire_file import load_questionnaire
from journal.clock import FakeClock
from journal.i18n import gettext_for
from storage.crypto import MasterKeyring
from storage.models import AlertCopyRow, OutboxRow, SharingAgreementRow
from storage.records import Client
from storage.uow import Store
from tests.conftest import Database
from tests.e2e import InProcessBot, bot_settings, eventually
from tests.helpers import make_clinician
from tests.stories import enrolled_client

CLINICIAN, OFFICER, OTHER_OFFICER, CLIENT = 7001, 7501, 7502, 8001
CANARY = "CANARY-7f3q"


@pytest.fixture(params=["en", "es"])
async def world(request: Any, emulator: Any, sqlite_database: Database, ring: MasterKeyring,
                clock: FakeClock) -> AsyncIterator[dict[str, Any]]:
    language = request.param
    store = Store.open(sqlite_database.url, ring)
    clinician = await make_clinician(store, clock, telegram_id=CLINICIAN, name="Dr Lane")
    client = await enrolled_client(store, clock, clinician, CLIENT, language=language,
                                   coping_steps=(f"call my sponsor {CANARY}",))
    for user, name in ((CLINICIAN, "Lane"), (OFFICER, "Reyes"), (OTHER_OFFICER, "Ortiz"),
                       (CLIENT, "Sam")):
        emulator.person(user, name)
    q = load_questionnaire()
    alerts = AlertService(clock=clock, questionnaire=q, rules=load_rules(questionnaire=q))
    bot = await InProcessBot(bot_settings(emulator, sqlite_database.url, ring),
                             clock=clock).start()
    try:
        yield {"emu": emulator, "store": store, "clock": clock, "client": client,
               "alerts": alerts, "language": language}
    finally:
        await bot.stop()
        await store.close()


def t(world: dict[str, Any], text: str) -> str:
    return gettext_for(world["language"], text)


async def raise_critical(world: dict[str, Any]) -> str:
    client: Client = world["client"]
    async with world["store"].transaction() as uow:
        alert = await world["alerts"].raise_alert(
            uow, client, findings=[Finding("self_harm", "critical", "SELF_HARM")],
            checkin_id=None, answers={"self_harm": True, "note": f"I wrote {CANARY}"})
    return str(alert.id)


async def clinician_told(world: dict[str, Any], alert_id: str) -> None:
    """Wait until the clinician's copy of the alert was delivered (committed as sent)."""
    async def sent() -> bool:
        async with world["store"].unit_of_work() as uow:
            status = await uow.session.scalar(
                select(OutboxRow.status).join(AlertCopyRow, AlertCopyRow.outbox_id == OutboxRow.id)
                .where(AlertCopyRow.alert_id == alert_id, AlertCopyRow.escalation == 0))
        return status == "sent"

    await eventually(sent, timeout=30)


async def queued_to_officer(world: dict[str, Any]) -> int:
    async with world["store"].unit_of_work() as uow:
        index = await uow.vault.telegram_index(OFFICER)
        return len(list(await uow.session.scalars(
            select(OutboxRow.id).where(OutboxRow.chat_index == index, OutboxRow.kind == "team"))))


def everything_to(emu: Any, chat: int) -> list[str]:
    return [m.text for m in [*emu.chat(chat), *emu.deleted(chat)] if m.from_bot]


async def test_the_team_story(world: dict[str, Any]) -> None:
    emu, store, client = world["emu"], world["store"], world["client"]
    es = world["language"] == "es"

    # An administrator adds the officer; their chat gets the officer's own menu.
    admin = AdminService(store=store, clock=world["clock"])
    officer = await admin.add_clinician(telegram_id=OFFICER, name="Officer Reyes",
                                        role="officer", language=world["language"])
    await admin.add_clinician(telegram_id=OTHER_OFFICER, name="Officer Ortiz", role="officer")
    assert officer.role == "officer"
    for user in (OFFICER, OTHER_OFFICER, CLINICIAN, CLIENT):
        sent = await emu.send_command(user, "/start")
        await emu.wait_for_message(user, after=sent.message_id)
    await eventually(lambda: "supervisees" in emu.commands_for(OFFICER))
    assert "caseload" not in emu.commands_for(OFFICER)

    # The client writes a journal entry with the canary in it.
    sent = await emu.send_command(CLIENT, "/journal")
    status = await emu.wait_for_message(CLIENT, after=sent.message_id)
    await emu.send_text(CLIENT, f"Today was hard {CANARY}")
    await eventually(lambda: any(m.message_id == status.message_id and ("(1" in m.text)
                                 for m in emu.chat(CLIENT)))
    await emu.press_button(CLIENT, status.message_id, text=t(world, "Done"))

    # The clinician proposes sharing with Officer Reyes.
    sent = await emu.send_command(CLINICIAN, f"/team {client.code}")
    choice = await emu.wait_for_message(CLINICIAN, contains=client.code, after=sent.message_id)
    await emu.press_button(CLINICIAN, choice.message_id, text="Officer Reyes")
    # The first line says nothing a shoulder-surfer could read.
    first_line = "Una pregunta para ti." if es else "A question for you."
    proposal = await emu.wait_for_message(CLIENT, contains=first_line)
    assert proposal.text.split("\n")[0] == first_line
    assert "Officer Reyes" in proposal.text
    assert t(world, "Never shared: your answers, your journal, your plan, the reasons for an "
                    "alert, and any note. You can stop sharing at any time with /sharing; "
                    "your treatment goes on the same.") in proposal.text

    # Not agreed yet: a critical alert reaches the clinician, and nothing the officer.
    first = await raise_critical(world)
    await clinician_told(world, first)
    assert await queued_to_officer(world) == 0

    await emu.press_button(CLIENT, proposal.message_id, text=t(world, "I agree"))
    agreed = await emu.wait_for_message(OFFICER, contains=client.code)
    await emu.wait_for_message(CLINICIAN, contains="Officer Reyes", after=choice.message_id)

    # Agreed: the next critical alert reaches the clinician, then the officer, level only.
    second = await raise_critical(world)
    await clinician_told(world, second)
    told = await emu.wait_for_message(OFFICER, after=agreed.message_id,
                                      contains=t(world, "critical"))
    head, tail = t(world, "Alert for client {code}: level {level}, {time}. The treatment team "
                          "is responding.").format(code=client.code, level=t(world, "critical"),
                                                   time="TIME").split("TIME")
    assert told.text.startswith(head) and told.text.endswith(tail)

    # The officer's list; a clinician's command, and a client who does not share, both
    # answer like a code that does not exist.
    not_found = t(world, "No client with that code is in your caseload.")
    sent = await emu.send_command(OFFICER, "/supervisees")
    listed = await emu.wait_for_message(OFFICER, contains=client.code, after=sent.message_id)
    assert "2" in listed.text  # two open critical alerts
    sent = await emu.send_command(OFFICER, f"/client {client.code}")
    await emu.wait_for_message(OFFICER, contains=not_found, after=sent.message_id)
    sent = await emu.send_command(OTHER_OFFICER, f"/supervisee {client.code}")
    await emu.wait_for_message(OTHER_OFFICER, after=sent.message_id,  # the program's language
                               contains="No client with that code is in your caseload.")

    # The clinician looks at the summary; the ledger names both.
    sent = await emu.send_command(CLINICIAN, f"/client {client.code}")
    await emu.wait_for_message(CLINICIAN, contains=client.code, after=sent.message_id)
    sent = await emu.send_command(CLIENT, "/sharing")
    mine = await emu.wait_for_message(CLIENT, contains="Officer Reyes", after=sent.message_id)
    await emu.press_button(CLIENT, mine.message_id,
                           text=t(world, "Who looked at my information"))
    ledger = await emu.wait_for_message(CLIENT, contains="Dr Lane", after=mine.message_id)
    assert "Officer Reyes" in ledger.text
    assert t(world, "supervising officer") in ledger.text
    # The same on request as a short PDF in the client's language.
    await emu.press_button(CLIENT, ledger.message_id, text=t(world, "As a PDF"))
    pdf = await emu.wait_for_message(CLIENT, after=ledger.message_id,
                                     contains=t(world, "Who looked at your information"))
    assert pdf.document is not None and pdf.file is not None
    pages = "\n".join(page.extract_text() for page in PdfReader(BytesIO(pdf.file.data)).pages)
    assert "Dr Lane" in pages and "Officer Reyes" in pages and CANARY not in pages
    assert t(world, "Never shared") in pages

    # The client withdraws: both are told, and the next alert reaches the clinician only.
    await emu.press_button(CLIENT, mine.message_id,
                           text=t(world, "Stop sharing with {officer}").format(
                               officer="Officer Reyes"))
    await emu.wait_for_message(OFFICER, after=listed.message_id, contains=t(
        world, "Sharing of information about client {code} with you has ended. Nothing more "
               "will be sent about them.").format(code=client.code))
    before = await queued_to_officer(world)
    third = await raise_critical(world)
    await clinician_told(world, third)
    assert await queued_to_officer(world) == before
    async with store.unit_of_work() as uow:
        statuses = list(await uow.session.scalars(select(SharingAgreementRow.status)))
        actions = [e.action for e in await uow.audit_events(client_id=client.id)]
    assert statuses == ["withdrawn"]
    for action in ("sharing.propose", "sharing.agree", "sharing.withdrawn", "officer.view",
                   "sharing.ledger"):
        assert action in actions

    # Nothing the client wrote reached either officer.
    for chat in (OFFICER, OTHER_OFFICER):
        for text in everything_to(emu, chat):
            assert CANARY not in text
