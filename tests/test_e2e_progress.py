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
from journal.i18n import gettext_for
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


@pytest.fixture(params=["en", "es"])
async def world(request: Any, emulator: Any, sqlite_database: Database, ring: MasterKeyring,
                clock: FakeClock) -> AsyncIterator[dict[str, Any]]:
    language = request.param
    store = Store.open(sqlite_database.url, ring)
    earlier = FakeClock(datetime(2026, 1, 20, 9, 0, tzinfo=UTC))  # agreed in January
    lane = await make_clinician(store, earlier, telegram_id=LANE, name="Dr Lane")
    admin = AdminService(store=store, clock=earlier)
    await admin.set_clinician_locale(telegram_id=LANE, language=language)
    await admin.add_clinician(telegram_id=REYES, name="Officer Reyes", role="officer",
                              language=language)
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
        yield {"emu": emulator, "store": store, "clients": clients, "language": language}
    finally:
        await bot.stop()
        await store.close()


async def test_the_monthly_report_is_reviewed_sent_read_and_acknowledged(
        world: dict[str, Any]) -> None:
    emu, shares, withdrew = world["emu"], world["clients"][SHARES], world["clients"][WITHDREW]

    def t(text: str) -> str:
        return gettext_for(world["language"], text)

    def head(text: str) -> str:  # a translated text up to its first placeholder
        return t(text).split("{")[0]

    asked = await emu.wait_for_message(LANE, timeout=40, contains=head(
        "The monthly progress report for client {code} ({month}) is ready to review. Send "
        "/progress {code} to see it, then /progress {code} followed by a short progress note "
        "to send it."))
    assert shares.code in asked.text and "2026-02" in asked.text
    assert withdrew.code not in asked.text

    sent = await emu.send_command(LANE, f"/progress {shares.code}")
    draft = await emu.wait_for_message(LANE, after=sent.message_id, contains=head(
        "Monthly progress report for client {code}, {month}:"))
    critical = f"{t('critical')}: 1"
    assert critical in draft.text and CANARY not in draft.text
    sent = await emu.send_command(LANE, f"/progress {withdrew.code}")
    await emu.wait_for_message(LANE, after=sent.message_id, contains=t(
        "No monthly progress report waits to be sent for that client."))

    sent = await emu.send_text(LANE, f"/progress {shares.code} Attends every group; engaged.")
    await emu.wait_for_message(LANE, after=sent.message_id, contains=t(
        "Sent to {officer}. You will see here when they acknowledge receipt.").format(
        officer="Officer Reyes"))
    await eventually(lambda: any(m.message_id == sent.message_id for m in emu.deleted(LANE)))
    report = await emu.wait_for_message(REYES, contains=head(
        "Monthly progress report for client {code}, {month}:"))
    assert shares.code in report.text and CANARY not in report.text
    await emu.press_button(REYES, report.message_id, text=t("The report (PDF)"))
    pdf = await emu.wait_for_message(REYES, after=report.message_id)
    assert pdf.file is not None
    text = " ".join(" ".join(p.extract_text() for p in PdfReader(BytesIO(pdf.file.data)).pages
                             ).split())
    leaves_out = t("What this report leaves out, and why: the client's answers, journal, "
                   "relapse prevention plan, the reasons for alerts and any clinical note. "
                   "Treatment depends on honest self-report, so what the client writes stays "
                   "between them and the clinic; the client agreed to this report and can "
                   "withdraw at any time.")
    assert "Attends every group" in text and " ".join(leaves_out.split()[:6]) in text
    assert critical in text and CANARY not in text.replace(" ", "")

    await emu.press_button(REYES, report.message_id, text=t("Acknowledge receipt"))
    await emu.wait_for_message(LANE, contains=t(
        "{officer} acknowledged receipt of the progress report for client {code}.").format(
        officer="Officer Reyes", code=shares.code))
    sent = await emu.send_command(REYES, "/supervisees")
    await emu.wait_for_message(REYES, after=sent.message_id, contains=t(
        "monthly report: {state}").format(state="2026-02: " + t("acknowledged")))
    async with world["store"].unit_of_work() as uow:
        rows = dict((await uow.session.execute(
            select(ProgressReportRow.client_id, ProgressReportRow.status))).all())
        actions = [e.action for e in await uow.audit_events(client_id=shares.id)]
    assert rows == {shares.id: "sent"}
    for action in ("progress.draft", "progress.send", "progress.acknowledge", "officer.view"):
        assert action in actions
