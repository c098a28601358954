"""Stories of an appointment through the real bot and the Bot API emulator, on a fake clock:
recorded in the chat by the clinician, reminded the day before and an hour before in the
client's zone across Spain's spring clock change, "I cannot come" with a reason that stays
sealed, the attendance reminder, the no-show and its alert; in English and in Spanish."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from journal.alerts.rules_file import load_rules
from journal.alerts.service import AlertService
from journal.appointments import AppointmentService, load_program
from journal.checkin.questionnaire_file import load_questionnaire
from journal.checkin.service import CheckInService
from journal.clock import FakeClock
from scheduler.ticks import Ticks
from storage.crypto import MasterKeyring
from storage.models import AlertRow, AppointmentRow
from storage.uow import Store
from tests.conftest import Database
from tests.e2e import InProcessBot, bot_settings, eventually
from tests.helpers import make_clinician
from tests.stories import enrolled_client

CLINICIAN, OTHER, CLIENT = 7201, 7202, 8201
REASON = "My shift at the warehouse was moved"

# What the client reads, by language.
TEXTS = {
    "en": {"new": "You have a new appointment: 2026-03-30 10:00 CEST.",
           "reminder": "Reminder: you have an appointment 2026-03-30 10:00 CEST.",
           "kind": "Individual session", "decline": "I cannot come",
           "why": "why you cannot come", "saved": "Your reason was saved",
           "list": "Your next appointments:"},
    "es": {"new": "Tienes una cita nueva: 2026-03-30 10:00 CEST.",
           "reminder": "Recordatorio: tienes una cita 2026-03-30 10:00 CEST.",
           "kind": "Sesión individual", "decline": "No puedo ir",
           "why": "por qué no puedes ir", "saved": "Tu motivo se ha guardado",
           "list": "Tus próximas citas:"},
}


def at(text_: str) -> datetime:
    return datetime.fromisoformat(text_).replace(tzinfo=UTC)


@pytest.fixture
async def world(emulator: Any, sqlite_database: Database, ring: MasterKeyring,
                request: pytest.FixtureRequest) -> AsyncIterator[dict[str, Any]]:
    language = getattr(request, "param", "en")
    clock = FakeClock(at("2026-03-27 09:00"))  # Friday, winter time in Madrid
    store = Store.open(sqlite_database.url, ring)
    lane = await make_clinician(store, clock, telegram_id=CLINICIAN, name="Dr Lane")
    await make_clinician(store, clock, telegram_id=OTHER, name="Dr Other")
    # No daily check-in days: the story's alerts are the appointment's alone.
    client = await enrolled_client(store, clock, lane, CLIENT, language=language,
                                   checkin_days="")
    for user, name in ((CLINICIAN, "Lane"), (OTHER, "Other"), (CLIENT, "Sam")):
        emulator.person(user, name, language_code=language if user == CLIENT else "en")
        await emulator.send_text(user, "/start")
    # The scheduler's own tick on the test's fake clock, run when the story says so; the
    # bot (its own scheduler off) delivers what it queues.
    q = load_questionnaire()
    alerts = AlertService(clock=clock, questionnaire=q, rules=load_rules(questionnaire=q))
    ticks = Ticks(store=store, clock=clock, alerts=alerts, reminder_delay=None,
                  checkins=CheckInService(clock=clock, questionnaire=q, alerts=alerts,
                                          store=store),
                  appointments=AppointmentService(clock=clock, program=load_program(),
                                                  alerts=alerts))
    bot = await InProcessBot(bot_settings(emulator, sqlite_database.url, ring,
                                          scheduler_enabled=False), clock=clock).start()
    try:
        yield {"emu": emulator, "store": store, "clock": clock, "client": client,
               "ticks": ticks, "language": language}
    finally:
        await bot.stop()
        await store.close()


async def say(emu: Any, user: int, text: str, reply: str) -> Any:
    sent = await emu.send_text(user, text)
    return await emu.wait_for_message(user, contains=reply, after=sent.message_id)


@pytest.mark.parametrize("world", ["en", "es"], indirect=True)
async def test_reminded_across_the_clock_change_cannot_come_then_a_no_show_alerts(
        world: dict[str, Any]) -> None:
    emu, clock, store, ticks = world["emu"], world["clock"], world["store"], world["ticks"]
    code, texts = world["client"].code, TEXTS[world["language"]]
    recorded = await say(emu, CLINICIAN, f"/appointment {code} individual 2026-03-30 10:00 "
                         "Calle Mayor 5", "Appointment recorded")
    assert code in recorded.text and "2026-03-30 09:00 CEST" not in recorded.text
    new = await emu.wait_for_message(CLIENT, contains=texts["new"])
    assert new.text.splitlines()[1:] == [texts["kind"], "Calle Mayor 5"]

    await ticks.run()
    clock.set(at("2026-03-29 07:59"))  # Sunday 09:59 CEST, an hour after 24 h before
    await ticks.run()
    clock.set(at("2026-03-29 08:00"))  # Sunday 10:00 CEST: the day before
    await ticks.run()
    day_before = await emu.wait_for_message(CLIENT, contains=texts["reminder"])
    assert day_before.text.splitlines()[0] == texts["reminder"]
    clock.set(at("2026-03-30 07:00"))  # Monday 09:00 CEST: an hour before
    await ticks.run()
    hour_before = await emu.wait_for_message(CLIENT, contains=texts["reminder"],
                                             after=day_before.message_id)
    assert sum(texts["reminder"] in m.text for m in emu.chat(CLIENT)) == 2

    await emu.press_button(CLIENT, hour_before.message_id, text=texts["decline"])
    ask = await emu.wait_for_message(CLIENT, contains=texts["why"])
    told = await emu.wait_for_message(CLINICIAN, contains="cannot come")
    assert code in told.text and "warehouse" not in told.text
    sent = await emu.send_text(CLIENT, REASON)
    await emu.wait_for_message(CLIENT, contains=texts["saved"], after=ask.message_id)
    await eventually(lambda: any(m.message_id == sent.message_id for m in emu.deleted(CLIENT)))
    async with store.unit_of_work() as uow:
        row = (await uow.session.scalars(select(AppointmentRow))).one()
        assert row.response == "declined" and b"warehouse" not in (row.reason_ct or b"")
    listing = await say(emu, CLINICIAN, f"/appointments {code}", "Appointments of client")
    assert REASON in listing.text

    clock.set(at("2026-03-30 10:00"))  # two hours after the start, nothing recorded
    await ticks.run()
    ask_staff = await emu.wait_for_message(CLINICIAN, contains="Please record the attendance")
    await emu.press_button(CLINICIAN, ask_staff.message_id, text="no-show")
    await eventually(lambda: any("no-show" in m.text and "Recorded" in m.text
                                 for m in emu.chat(CLINICIAN) if m.from_bot))
    alert = await emu.wait_for_message(CLINICIAN, contains="alert for client")
    assert code in alert.text and "warehouse" not in alert.text
    async with store.unit_of_work() as uow:
        ids = list(await uow.session.scalars(select(AlertRow.id)))
        reasons = [(await uow.alerts.get(i)).detail["reasons"] for i in ids]  # type: ignore[union-attr]
    assert reasons == [["NO_SHOW"]]
    await emu.press_button(CLINICIAN, alert.message_id, text="Details")
    details = await emu.wait_for_message(CLINICIAN, contains="Did not come to an appointment")
    assert "warehouse" not in details.text
    # The client asks for their next appointments: none left.
    await say(emu, CLIENT, "/appointments", "")


async def test_only_the_clients_own_clinician_records_or_reads_and_clients_see_their_own(
        world: dict[str, Any]) -> None:
    emu, code = world["emu"], world["client"].code
    unknown = await say(emu, OTHER, "/appointment ZZZ-ZZ individual 2026-03-30 10:00 online",
                        "caseload")
    other = await say(emu, OTHER, f"/appointment {code} individual 2026-03-30 10:00 online",
                      "caseload")
    assert other.text == unknown.text
    assert (await say(emu, OTHER, f"/appointments {code}", "caseload")).text == unknown.text
    assert (await say(emu, OTHER, f"/attendance {code} no_show", "caseload")).text == \
        unknown.text
    kinds = await say(emu, CLINICIAN, "/appointment", "Kinds:")
    assert "polygraph" in kinds.text
    bad = await say(emu, CLINICIAN, f"/appointment {code} dentist 2026-03-30 10:00", "kind")
    assert "/appointment" in bad.text
    past = await say(emu, CLINICIAN, f"/appointment {code} court 2026-03-01 10:00", "passed")
    assert past.text
    await say(emu, CLINICIAN, f"/appointment {code} court 2026-04-02 09:30 online",
              "Appointment recorded")
    mine = await say(emu, CLIENT, "/appointments", "Your next appointments:")
    assert "2026-04-02 09:30 CEST" in mine.text and "Online" in mine.text
    # Staff commands are not the client's: the same answer as a command nobody knows.
    nobody = await say(emu, CLIENT, "/nosuchcommand", "")
    for command in (f"/appointment {code} court 2026-04-03 09:30", f"/attendance {code} late"):
        assert (await say(emu, CLIENT, command, "")).text == nobody.text
