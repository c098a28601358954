"""Stories of homework through the real bot and the Bot API emulator, on a fake clock: a task
given to three clients at once, reminded the evening before, answered by one of them over
two messages with a draft saved in between, done for them and missing for the others; in
English and in Spanish. And who may give or read it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from journal.alerts.rules_file import load_rules
from journal.alerts.service import AlertService
from journal.checkin.questionnaire_file import load_questionnaire
from journal.checkin.service import CheckInService
from journal.clock import FakeClock
from journal.homework import HomeworkService, load_library
from scheduler.ticks import Ticks
from storage.crypto import MasterKeyring
from storage.models import HomeworkRow
from storage.uow import Store
from tests.conftest import Database
from tests.e2e import InProcessBot, bot_settings, eventually
from tests.helpers import make_clinician
from tests.stories import enrolled_client

CLINICIAN, OTHER = 7301, 7302
MEMBERS = (8301, 8302, 8303)
FIRST = "I got angry at work when my shift was changed."
SECOND = "Next time I will take a walk before I answer."

TEXTS = {
    "en": {"new": "You have a new task, due 2026-03-30.", "title": "Anger log",
           "answer": "Answer now", "save": "Save for later", "saved": "Saved for later",
           "again": "Your unfinished answer is open again (1 part",
           "hand_in": "Hand in", "handed": "Handed in.", "answer1": "Answer 1",
           "reminder": "Reminder: you have a task due 2026-03-30.", "tasks": "Your tasks:",
           "write": "Write your answer"},
    "es": {"new": "Tienes una tarea nueva, para el 2026-03-30.", "title": "Registro de la ira",
           "answer": "Responder ahora", "save": "Guardar para después",
           "saved": "Guardada para después",
           "again": "Tu respuesta sin terminar está abierta de nuevo (1 parte",
           "hand_in": "Entregar", "handed": "Entregada.", "answer1": "Responder 1",
           "reminder": "Recordatorio: tienes una tarea para el 2026-03-30.",
           "tasks": "Tus tareas:", "write": "Escribe tu respuesta"},
}


def at(text_: str) -> datetime:
    return datetime.fromisoformat(text_).replace(tzinfo=UTC)


@pytest.fixture
async def world(emulator: Any, sqlite_database: Database, ring: MasterKeyring,
                request: pytest.FixtureRequest) -> AsyncIterator[dict[str, Any]]:
    language = getattr(request, "param", "en")
    clock = FakeClock(at("2026-03-27 09:00"))
    store = Store.open(sqlite_database.url, ring)
    lane = await make_clinician(store, clock, telegram_id=CLINICIAN, name="Dr Lane")
    await make_clinician(store, clock, telegram_id=OTHER, name="Dr Other")
    clients = [await enrolled_client(store, clock, lane, user, language=language,
                                     checkin_days="") for user in MEMBERS]
    for user, name in ((CLINICIAN, "Lane"), (OTHER, "Other"), *(
            (m, f"Member {n}") for n, m in enumerate(MEMBERS))):
        emulator.person(user, name, language_code=language if user in MEMBERS else "en")
        await emulator.send_text(user, "/start")
    q = load_questionnaire()
    alerts = AlertService(clock=clock, questionnaire=q, rules=load_rules(questionnaire=q))
    ticks = Ticks(store=store, clock=clock, alerts=alerts, reminder_delay=None,
                  checkins=CheckInService(clock=clock, questionnaire=q, alerts=alerts,
                                          store=store),
                  homework=HomeworkService(clock=clock, store=store, library=load_library()))
    bot = await InProcessBot(bot_settings(emulator, sqlite_database.url, ring,
                                          scheduler_enabled=False), clock=clock).start()
    try:
        yield {"emu": emulator, "store": store, "clock": clock, "clients": clients,
               "ticks": ticks, "language": language}
    finally:
        await bot.stop()
        await store.close()


async def say(emu: Any, user: int, text: str, reply: str) -> Any:
    sent = await emu.send_text(user, text)
    return await emu.wait_for_message(user, contains=reply, after=sent.message_id)


async def stored(store: Store, client_id: str) -> tuple[str, bytes]:
    async with store.unit_of_work() as uow:
        row = (await uow.session.scalars(
            select(HomeworkRow).where(HomeworkRow.client_id == client_id))).one()
        return row.status, row.answer_ct or b""


@pytest.mark.parametrize("world", ["en", "es"], indirect=True)
async def test_group_homework_answered_by_one_over_two_messages_with_a_draft_between(
        world: dict[str, Any]) -> None:
    emu, clock, store, ticks = world["emu"], world["clock"], world["store"], world["ticks"]
    clients, texts = world["clients"], TEXTS[world["language"]]
    codes = ",".join(c.code for c in clients)
    given = await say(emu, CLINICIAN, f"/homework {codes} anger_log 2026-03-30", "given to 3")
    assert all(c.code in given.text for c in clients)
    for user in MEMBERS:
        told = await emu.wait_for_message(user, contains=texts["new"])
        assert told.text.splitlines()[0] == texts["new"] and texts["title"] in told.text

    # The evening before (18:00 in Madrid, summer time since Sunday) all three are reminded.
    await ticks.run()
    clock.set(at("2026-03-29 15:59"))
    assert (await ticks.run()).homework == 0
    clock.set(at("2026-03-29 16:00"))
    assert (await ticks.run()).homework == 3
    for user in MEMBERS:
        await emu.wait_for_message(user, contains=texts["reminder"])

    first_member = MEMBERS[0]
    told = await emu.wait_for_message(first_member, contains=texts["new"])
    await emu.press_button(first_member, told.message_id, text=texts["answer"])
    await emu.wait_for_message(first_member, contains=texts["write"])
    sent = await emu.send_text(first_member, FIRST)
    await eventually(lambda: any(m.message_id == sent.message_id
                                 for m in emu.deleted(first_member)))
    status, sealed = await stored(store, clients[0].id)
    assert status == "draft" and b"angry" not in sealed
    progress = next(m for m in reversed(emu.chat(first_member))
                    if m.from_bot and any(b.text == texts["save"] for r in m.buttons for b in r))
    await emu.press_button(first_member, progress.message_id, text=texts["save"])
    await eventually(lambda: any(texts["saved"] in m.text for m in emu.chat(first_member)
                                 if m.from_bot))

    # Later the member comes back to the draft and finishes it.
    listing = await say(emu, first_member, "/homework", texts["tasks"])
    await emu.press_button(first_member, listing.message_id, text=texts["answer1"])
    again = await emu.wait_for_message(first_member, contains=texts["again"],
                                       after=listing.message_id)
    sent = await emu.send_text(first_member, SECOND)
    await eventually(lambda: any(m.message_id == sent.message_id
                                 for m in emu.deleted(first_member)))
    await eventually(lambda: "2" in (next(m for m in emu.chat(first_member)
                                          if m.message_id == again.message_id).text))
    await emu.press_button(first_member, again.message_id, text=texts["hand_in"])
    await eventually(lambda: any(texts["handed"] in m.text for m in emu.chat(first_member)
                                 if m.from_bot))
    handed = await emu.wait_for_message(CLINICIAN, contains="handed in")
    assert clients[0].code in handed.text and "angry" not in handed.text
    assert all(FIRST not in m.text and SECOND not in m.text for m in emu.chat(first_member))
    async with store.unit_of_work() as uow:
        mine = (await uow.homework.of_client(clients[0].id))[0]
    assert mine.answer == FIRST + "\n\n" + SECOND and mine.status == "done"

    # After the due date: done for the first member, missing for the others.
    clock.set(at("2026-03-31 08:00"))
    for client, state in zip(clients, ("done", "missing", "missing"), strict=True):
        shown = await say(emu, CLINICIAN, f"/homework {client.code}", "Homework of client")
        assert f"Anger log: {state}" in shown.text, shown.text


async def test_only_a_clients_clinician_gives_homework_and_a_client_cannot(
        world: dict[str, Any]) -> None:
    emu, code = world["emu"], world["clients"][0].code
    unknown = await say(emu, OTHER, "/homework ZZZ-ZZ anger_log 2026-03-30", "caseload")
    for command in (f"/homework {code} anger_log 2026-03-30", f"/homework {code}"):
        assert (await say(emu, OTHER, command, "caseload")).text == unknown.text
    mixed = await say(emu, CLINICIAN, f"/homework {code},ZZZ-ZZ anger_log 2026-03-30",
                      "caseload")
    assert mixed.text == unknown.text
    async with world["store"].unit_of_work() as uow:
        assert await uow.homework.of_client(world["clients"][0].id) == []  # none given
    library = await say(emu, CLINICIAN, "/homework", "library")
    assert "empathy_letter" in library.text
    await say(emu, CLINICIAN, f"/homework {code} dentist 2026-03-30", "task")
    await say(emu, CLINICIAN, f"/homework {code} anger_log 2026-03-01", "passed")
    await say(emu, CLINICIAN, f"/homework {code} own 2026-03-30", "/homework")
    await say(emu, CLINICIAN, f"/homework {code} own 2026-03-30 Write what helped you most.",
              "given to 1")
    own = await emu.wait_for_message(MEMBERS[0], contains="Write what helped you most.")
    assert own.text.splitlines()[0] == "You have a new task, due 2026-03-30."
    # A client's /homework is their own list, whatever follows it: the staff form is not
    # theirs, and another client's task is not in it.
    mine = await say(emu, MEMBERS[1], f"/homework {code} anger_log 2026-03-30", "")
    assert mine.text == "You have no tasks to do. Well done."
    first = await say(emu, MEMBERS[0], "/homework", "Your tasks:")
    assert "A task from your clinician, due 2026-03-30" in first.text
