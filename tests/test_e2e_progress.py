"""The monthly progress report through the emulator: on the program's day the clinician is
asked to review a draft, sends it with a note, and the officer gets a short message, the
PDF (which says what it leaves out and carries no word the client wrote) and acknowledges
receipt, which the clinician sees. A client who withdrew gets no report."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
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
from journal.sharing import SharingService
from storage.crypto import MasterKeyring
from storage.models import ProgressReportRow
from storage.uow import Store
from tests.conftest import Database
from tests.e2e import InProcessBot, bot_settings, eventually
from tests.helpers import make_clinician
from tests.stories import enrolled_client

LANE, REYES, SHARES, WITHDREW = 7001, 7501, 8001, 8002
CANARY = "CANARY-9p2x"


@pytest.fixture
async def world(emulator: Any, sqlite_database: Database, ring: MasterKeyring,
                clock: FakeClock) -> AsyncIterator[dict[str, Any]]:
    store = Store.open(sqlite_database.url, ring)
    earlier = FakeClock(datetime(2026, 1, 20, 9, 0, tzinfo=UTC))  # agreed in January
    lane = await make_clinician(store, earlier, telegram_id=LANE, name="Dr Lane")
    await AdminService(store=store, clock=earlier).add_clinician(
        telegram_id=REYES, name="Officer Reyes", role="officer")
    clients = {tid: await enrolled_client(store, earlier, lane, tid,
                                          coping_steps=(f"walk {CANARY}",))
               for tid in (SHARES, WITHDREW)}
    sharing = SharingService(clock=earlier)
    async with store.transaction() as uow:
        for tid, client in clients.items():
            agreement, client, _ = await sharing.propose(uow, code=client.code,
                                                         officer_telegram_id=REYES, by=lane)
            await sharing.answer(uow, client, agreement.id, agree=True)
            if tid == WITHDREW:
                await sharing.withdraw(uow, client, agreement.id)
    q = load_questionnaire()
    alerts = AlertService(clock=earlier, questionnaire=q, rules=load_rules(questionnaire=q))
    earlier.advance(days=20)  # 9 February: an alert in the month reported
    async with store.transaction() as uow:
        await alerts.raise_alert(uow, clients[SHARES], checkin_id=None,
                                 answers={"note": CANARY},
                                 findings=[Finding("self_harm", "critical", "SELF_HARM")])
    for user, name in ((LANE, "Lane"), (REYES, "Reyes"), (SHARES, "A"), (WITHDREW, "B")):
        emulator.person(user, name)
        await emulator.send_text(user, "/start")
    bot = await InProcessBot(bot_settings(emulator, sqlite_database.url, ring),
                             clock=clock).start()
    try:
        yield {"emu": emulator, "store": store, "clients": clients}
    finally:
        await bot.stop()
        await store.close()


async def test_the_monthly_report_is_reviewed_sent_read_and_acknowledged(
        world: dict[str, Any]) -> None:
    emu, shares, withdrew = world["emu"], world["clients"][SHARES], world["clients"][WITHDREW]
    asked = await emu.wait_for_message(LANE, contains="ready to review", timeout=40)
    assert shares.code in asked.text and "2026-02" in asked.text
    assert withdrew.code not in asked.text

    sent = await emu.send_command(LANE, f"/progress {shares.code}")
    draft = await emu.wait_for_message(LANE, contains="Monthly progress report",
                                       after=sent.message_id)
    assert "critical: 1" in draft.text and CANARY not in draft.text
    sent = await emu.send_command(LANE, f"/progress {withdrew.code}")
    await emu.wait_for_message(LANE, after=sent.message_id,
                               contains="No monthly progress report waits")

    sent = await emu.send_text(LANE, f"/progress {shares.code} Attends every group; engaged.")
    await emu.wait_for_message(LANE, contains="Sent to Officer Reyes", after=sent.message_id)
    await eventually(lambda: any(m.message_id == sent.message_id for m in emu.deleted(LANE)))
    report = await emu.wait_for_message(REYES, contains="Monthly progress report")
    assert shares.code in report.text and CANARY not in report.text
    await emu.press_button(REYES, report.message_id, text="The report (PDF)")
    pdf = await emu.wait_for_message(REYES, after=report.message_id)
    assert pdf.file is not None
    text = " ".join(" ".join(p.extract_text() for p in PdfReader(BytesIO(pdf.file.data)).pages
                             ).split())
    assert "Attends every group" in text and "What this report leaves out, and why" in text
    assert "critical: 1" in text and CANARY not in text.replace(" ", "")

    await emu.press_button(REYES, report.message_id, text="Acknowledge receipt")
    await emu.wait_for_message(LANE, contains="acknowledged receipt")
    sent = await emu.send_command(REYES, "/supervisees")
    await emu.wait_for_message(REYES, after=sent.message_id,
                               contains="monthly report: 2026-02: acknowledged")
    async with world["store"].unit_of_work() as uow:
        rows = dict((await uow.session.execute(
            select(ProgressReportRow.client_id, ProgressReportRow.status))).all())
        actions = [e.action for e in await uow.audit_events(client_id=shares.id)]
    assert rows == {shares.id: "sent"}
    for action in ("progress.draft", "progress.send", "progress.acknowledge", "officer.view"):
        assert action in actions
