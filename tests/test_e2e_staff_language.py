"""Staff read in their own language and zone: a clinician who chose Spanish with /language
gets the alert, its Details, the client summary and the session report in Spanish, in their
zone, while an English-speaking colleague of the same program gets them in English."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from io import BytesIO
from typing import Any

import pytest
from pypdf import PdfReader

from journal.alerts.rules import Finding
from journal.alerts.rules_file import load_rules
from journal.alerts.service import AlertService
from journal.checkin.questionnaire_file import load_questionnaire
from journal.clock import FakeClock
from storage.crypto import MasterKeyring
from storage.records import Client
from storage.uow import Store
from telegram_emulator import BotAPIEmulator
from tests.conftest import Database
from tests.e2e import InProcessBot, bot_settings
from tests.helpers import make_client, make_clinician
from tests.reading import times_without_zone

RUIZ, LANE, ANA, BEN = 7401, 7402, 8401, 8402


@pytest.fixture
async def world(emulator: BotAPIEmulator, sqlite_database: Database, ring: MasterKeyring,
                clock: FakeClock) -> AsyncIterator[dict[str, Any]]:
    store = Store.open(sqlite_database.url, ring)
    ruiz = await make_clinician(store, clock, telegram_id=RUIZ, name="Dra. Ruiz")
    lane = await make_clinician(store, clock, telegram_id=LANE, name="Dr Lane")
    ana = await make_client(store, clock, ruiz, telegram_id=ANA)
    ben = await make_client(store, clock, lane, telegram_id=BEN)
    for user, name in ((RUIZ, "Ruiz"), (LANE, "Lane"), (ANA, "Ana"), (BEN, "Ben")):
        emulator.person(user, name, language_code="en")
    q = load_questionnaire()
    alerts = AlertService(clock=clock, questionnaire=q, rules=load_rules(questionnaire=q))
    bot = await InProcessBot(bot_settings(emulator, sqlite_database.url, ring,
                                          scheduler_enabled=False, default_language="en",
                                          default_timezone="UTC"),
                             clock=clock).start()
    try:
        for user in (RUIZ, LANE):
            sent = await emulator.send_command(user, "/start")
            await emulator.wait_for_message(user, after=sent.message_id)
        yield {"emu": emulator, "store": store, "alerts": alerts, "ana": ana, "ben": ben,
               "ruiz": ruiz}
    finally:
        await bot.stop()
        await store.close()


async def _raise(world: dict[str, Any], client: Client) -> None:
    async with world["store"].transaction() as uow:
        await world["alerts"].raise_alert(
            uow, client, findings=[Finding("self_harm", "critical", "SELF_HARM"),
                                   Finding("lapse", "high", "LAPSE"),
                                   Finding("lapse_again", "high", "LAPSE")],
            checkin_id=None, answers={"self_harm": True, "lapse": True})


async def _ask(emu: BotAPIEmulator, user: int, text: str, contains: str) -> Any:
    sent = await emu.send_text(user, text)
    return await emu.wait_for_message(user, contains=contains, after=sent.message_id)


def _pdf(message: Any) -> str:
    assert message.kind == "document" and message.file is not None
    reader = PdfReader(BytesIO(message.file.data))
    return "\n".join(page.extract_text() for page in reader.pages)


async def test_a_spanish_clinician_reads_alerts_summaries_and_reports_in_spanish(
        world: dict[str, Any]) -> None:
    emu, store, ana, ben = world["emu"], world["store"], world["ana"], world["ben"]
    # /language works for staff: the choice is theirs, kept with their record.
    asked = await _ask(emu, RUIZ, "/language", contains="alerts, summaries and reports")
    await emu.press_button(RUIZ, asked.message_id, text="Español")
    await emu.wait_for_message(RUIZ, contains="están en español")
    async with store.transaction() as uow:
        await uow.clinicians.set_locale(world["ruiz"].id, timezone="Europe/Madrid")
        assert (await uow.clinicians.get(world["ruiz"].id)).language == "es"  # type: ignore[union-attr]

    await _raise(world, ana)
    await _raise(world, ben)
    spanish = await emu.wait_for_message(RUIZ, contains=f"cliente {ana.code}")
    english = await emu.wait_for_message(LANE, contains=f"alert for client {ben.code}")
    assert spanish.text.startswith("Alerta de nivel Crítico") and "Generada:" in spanish.text
    assert " CET" in spanish.text or " CEST" in spanish.text  # Ruiz's own zone
    assert english.text.startswith("Critical alert") and " UTC" in english.text
    assert times_without_zone(spanish.text) == [] == times_without_zone(english.text)

    await emu.press_button(RUIZ, spanish.message_id, text="Detalles")
    details = await emu.wait_for_message(RUIZ, contains="Detalles del cliente")
    assert details.text.count("Informó de un desliz") == 1 and "autolesión" in details.text
    await emu.press_button(LANE, english.message_id, text="Details")
    details_en = await emu.wait_for_message(LANE, contains="Details for client")
    assert details_en.text.count("Reported a lapse") == 1  # each reason once

    summary = await _ask(emu, RUIZ, f"/client {ana.code}", contains="clínico Dra. Ruiz")
    assert "Alertas de los últimos 14 días" in summary.text
    assert times_without_zone(summary.text) == [] and "Adherence" not in summary.text
    summary_en = await _ask(emu, LANE, f"/client {ben.code}", contains="clinician Dr Lane")
    assert "Alerts in the last 14 days" in summary_en.text

    report = await _ask(emu, RUIZ, f"/report {ana.code} 7", contains="Informe de sesión")
    text = _pdf(report)
    assert f"Informe de sesión: cliente {ana.code}" in text and "Session report" not in text
    assert times_without_zone(text) == [] and ("CET" in text or "CEST" in text)
    report_en = await _ask(emu, LANE, f"/report {ben.code} 7", contains="Session report")
    text_en = _pdf(report_en)
    assert f"Session report: client {ben.code}" in text_en and "Informe" not in text_en
    assert " UTC" in text_en


async def test_an_escalation_reaches_each_supervisor_in_their_own_language_and_zone(
        store: Store, clock: FakeClock) -> None:
    """Dra. Ruiz's client raises an alert nobody acknowledges: one supervisor reads the
    escalation in Spanish in Bogotá time, the other in the program's English and UTC."""
    q = load_questionnaire()
    alerts = AlertService(clock=clock, questionnaire=q, rules=load_rules(questionnaire=q))
    ruiz = await make_clinician(store, clock, telegram_id=RUIZ, name="Dra. Ruiz")
    async with store.transaction() as uow:
        await uow.clinicians.add(telegram_id=7411, name="Dr Sol", role="supervisor",
                                 now=clock.now(), language="es", timezone="America/Bogota")
        await uow.clinicians.add(telegram_id=7412, name="Dr Day", role="supervisor",
                                 now=clock.now())
    ana = await make_client(store, clock, ruiz, telegram_id=ANA)
    async with store.transaction() as uow:
        await alerts.raise_alert(uow, ana, findings=[Finding("lapse", "high", "LAPSE"),
                                                     Finding("lapse_2", "high", "LAPSE")],
                                 checkin_id=None, answers={"lapse": True})
    clock.advance(minutes=61)
    async with store.transaction() as uow:
        assert await alerts.escalate_due(uow) == 1
        [alert] = await uow.alerts.open_for([ana.id])
        assert alert.detail["reasons"] == ["LAPSE"]  # stored once
        sent = {m.chat_id: m.payload["params"]["text"] for m in
                await uow.outbox.claim_due(clock.now(), limit=50, lease=timedelta(minutes=1))
                if m.chat_id in (7411, 7412)}
    assert sent[7411].startswith("ESCALADA") and "-05" in sent[7411]
    assert sent[7412].startswith("ESCALATED") and " UTC" in sent[7412]
    assert all(times_without_zone(text) == [] for text in sent.values())
