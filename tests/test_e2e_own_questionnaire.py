"""A program that brings its own check-in: other questions, other item ids, one roll-up of
its own, its own domains and rules, named by STEADFAST_QUESTIONNAIRE and
STEADFAST_RISK_RULES. The client answers it in the chat, the clinician gets the alert and
its details, and the caseload, the client page and the session report show the program's
own indicator, scale, domains, situation and note: nothing of the default check-in is
assumed anywhere on the way."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from pypdf import PdfReader

from app.composition import build_services
from app.server import build_server
from journal.clock import FakeClock
from storage.crypto import MasterKeyring
from storage.uow import Store
from tests.conftest import Database
from tests.e2e import InProcessBot, bot_settings
from tests.helpers import make_clinician
from tests.stories import Phone, enrolled_client
from tests.test_workspace_client import signed_in, visible_text
from web.routes import workspace

CLINICIAN, CLIENT = 7401, 8401

QUESTIONNAIRE = """
id = "harbor-daily"
version = 1
languages = ["en", "es"]
title = { en = "Harbor check-in", es = "Registro Harbor" }

[phrases]
yes = { en = "Yes", es = "Sí" }
no = { en = "No", es = "No" }
skipped = { en = "Skipped", es = "Omitida" }
none_selected = { en = "None", es = "Ninguna" }
removed_step = { en = "Removed", es = "Quitado" }

[[roll_ups]]
id = "strain"
label = { en = "Harbor strain index", es = "Índice de tensión Harbor" }
short = { en = "strain", es = "tensión" }

[domains]
low_mood = { en = "Low mood days", es = "Días de ánimo bajo" }
urges = { en = "Urges felt", es = "Impulsos sentidos" }

[review]
scales = [{ item = "hope", label = { en = "Hope for the week", es = "Esperanza para la semana" } }]
situation = "risky_moment"
situation_detail = "risky_story"
lapse = "slip"
note = "diary"

[[items]]
id = "mood"
kind = "choice"
domain = "low_mood"
indicators = ["strain"]
text = { en = "How was your mood today?", es = "¿Cómo estuvo tu ánimo hoy?" }
short = { en = "Mood", es = "Ánimo" }
options = [
    { key = "fine", label = { en = "Fine", es = "Bien" } },
    { key = "low", label = { en = "Low", es = "Bajo" } },
    { key = "very_low", label = { en = "Very low", es = "Muy bajo" } },
]
score = { fine = 0, low = 1, very_low = 2 }

[[items]]
id = "urge"
kind = "yesno"
domain = "urges"
indicators = ["strain"]
text = { en = "Did you feel an urge to act on a risky thought?", es = "¿Sentiste el impulso de actuar sobre un pensamiento de riesgo?" }
short = { en = "Urge to act", es = "Impulso de actuar" }
score = { yes = 2, no = 0 }

[[items]]
id = "risky_moment"
kind = "yesno"
text = { en = "Was there a risky moment today?", es = "¿Hubo hoy un momento de riesgo?" }
short = { en = "Risky moment", es = "Momento de riesgo" }

[[items]]
id = "risky_story"
kind = "text"
max_length = 500
when = { item = "risky_moment", equals = true }
text = { en = "Tell us briefly what happened.", es = "Cuéntanos brevemente qué pasó." }
short = { en = "The moment", es = "El momento" }

[[items]]
id = "slip"
kind = "yesno"
text = { en = "Did you slip back into an old habit?", es = "¿Volviste a un viejo hábito?" }
short = { en = "Slip", es = "Recaída" }

[[items]]
id = "hope"
kind = "scale"
min = 0
max = 10
text = { en = "How hopeful are you about this week?", es = "¿Cuánta esperanza tienes para esta semana?" }
short = { en = "Hope", es = "Esperanza" }

[[items]]
id = "diary"
kind = "text"
skippable = true
max_length = 1000
text = { en = "Anything for your diary?", es = "¿Algo para tu diario?" }
short = { en = "Diary", es = "Diario" }
"""

RULES = """
id = "harbor-rules"
version = 1
questionnaire = "harbor-daily"

[reasons]
STRAIN = "Harbor strain is up"
RISKY_MOMENT = "A risky moment was reported"

[[daily]]
id = "strain_elevated"
level = "elevated"
reason = "STRAIN"
indicator = "strain"
at_least = 2

[[daily]]
id = "strain_high"
level = "high"
reason = "STRAIN"
indicator = "strain"
at_least = 4

[[daily]]
id = "risky_moment"
level = "elevated"
reason = "RISKY_MOMENT"
item = "risky_moment"
equals = true
"""

STORY = "Waited at the old bus stop, then walked home"
DIARY = "Phoned my brother in the evening"


@pytest.fixture
def program_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The program's own files, named the way an operator names them: in the environment."""
    questionnaire, rules = tmp_path / "harbor.toml", tmp_path / "harbor_rules.toml"
    questionnaire.write_text(QUESTIONNAIRE, encoding="utf-8")
    rules.write_text(RULES, encoding="utf-8")
    monkeypatch.setenv("STEADFAST_QUESTIONNAIRE", str(questionnaire))
    monkeypatch.setenv("STEADFAST_RISK_RULES", str(rules))


async def test_a_program_with_its_own_checkin_sees_its_data_in_every_view(
        program_files: None, emulator: Any, sqlite_database: Database, ring: MasterKeyring,
        clock: FakeClock) -> None:
    store = Store.open(sqlite_database.url, ring)
    settings = bot_settings(emulator, sqlite_database.url, ring, scheduler_enabled=False,
                            alert_detail="full")
    assert settings.questionnaire is not None and settings.risk_rules is not None
    lane = await make_clinician(store, clock, telegram_id=CLINICIAN, name="Dr Lane")
    client = await enrolled_client(store, clock, lane, CLIENT)
    emulator.person(CLINICIAN, "Lane")
    emulator.person(CLIENT, "Sam")
    await emulator.send_text(CLINICIAN, "/start")  # the clinician's chat with the bot exists
    bot = await InProcessBot(settings, clock=clock).start()
    try:
        # The client answers the program's questions, in the program's order.
        phone = Phone(emulator, CLIENT)
        first = await phone.checkin(contains="How was your mood today?")
        assert "1 of 6" in first.text
        await phone.press("Very low")
        await phone.press("Yes")  # an urge
        shown = await phone.press("Yes")  # a risky moment: opens the story
        assert shown is not None and "Tell us briefly what happened." in shown.text
        await phone.type(STORY)
        await phone.press("No")  # no slip
        await phone.press("3")  # hope
        summary = await phone.type(DIARY)
        assert summary is not None and "• Mood: Very low" in summary.text
        await phone.press("Submit")
        assert "saved" in phone.message(first.message_id).text

        # The alert: the program's rules fired on the program's roll-up and item.
        alert = await emulator.wait_for_message(CLINICIAN, contains="alert for client")
        assert "High alert" in alert.text, alert.text
        assert "Harbor strain is up" in alert.text
        assert "A risky moment was reported" in alert.text
        await emulator.press_button(CLINICIAN, alert.message_id, text="Details")
        details = await emulator.wait_for_message(CLINICIAN, contains="Details for client")
        assert "Mood: Very low" in details.text and "Urge to act: Yes" in details.text
        assert f"The moment: {STORY}" in details.text  # the situation's own words

        async with store.unit_of_work() as uow:
            stored = await uow.checkins.recent(client.id, since=clock.now().date(),
                                               until=clock.now().date())
        assert stored[0].scores is not None and stored[0].scores["strain"] == 4
    finally:
        await bot.stop()

    # The workspace, on the same settings: caseload, client page, report.
    services = build_services(settings, store, clock)
    server = TestServer(build_server([workspace(services)]), host="127.0.0.1")
    await server.start_server()
    world = _World(store, server)
    try:
        session = await signed_in(world, lane)  # type: ignore[arg-type]
        async with session:
            async with session.get(world.url("/caseload")) as answer:
                caseload = visible_text(await answer.text())
            assert answer.status == 200 and client.code in caseload
            assert "Harbor strain index" in caseload  # the trend names the program's roll-up
            assert "Sexual/violent" not in caseload and "General indicator" not in caseload

            async with session.get(world.url(f"/clients/{client.code}?days=14")) as answer:
                page = visible_text(await answer.text())
            assert answer.status == 200
            for shown in ("Harbor strain index", "Hope for the week", "Low mood days",
                          "Urges felt", STORY, DIARY, "Harbor strain is up"):
                assert shown in page, shown
            assert "Sexual/violent" not in page and "Confidence for tomorrow" not in page

            async with session.get(world.url(f"/reports/{client.code}?days=14")) as answer:
                assert answer.status == 200, await answer.text()
                pdf = await answer.read()
        text = "\n".join(p.extract_text() for p in PdfReader(BytesIO(pdf)).pages)
        flat = " ".join(text.split())
        for shown in ("Low mood days", "Urges felt", STORY, DIARY, "Harbor strain is up"):
            assert shown in flat, shown
        assert "Access to victims" not in flat and "Hostility" not in flat
    finally:
        await server.close()
        await store.close()


class _World:
    """What tests/test_workspace_client.py's signed_in() needs of a world."""

    def __init__(self, store: Store, server: TestServer) -> None:
        self.store = store
        self.server = server

    def url(self, path: str) -> str:
        return str(self.server.make_url(path))

