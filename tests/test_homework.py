"""Homework on a real database: the library file, where a task stands (done, late,
missing), the answer sealed as a draft between messages, and the reminder the tick sends
once, the evening before in the client's zone."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from journal.alerts.rules_file import load_rules
from journal.alerts.service import AlertService
from journal.checkin.questionnaire_file import load_questionnaire
from journal.checkin.service import CheckInService
from journal.clock import FakeClock
from journal.errors import InvalidInput, NotAllowed, NotFound
from journal.homework import (
    HomeworkError,
    HomeworkRequest,
    HomeworkService,
    load_library,
    parse_library,
    parse_request,
)
from scheduler.ticks import Ticks
from storage.models import HomeworkRow
from storage.uow import Store
from tests.helpers import make_clinician
from tests.stories import enrolled_client

Q = load_questionnaire()


def at(text_: str) -> datetime:
    return datetime.fromisoformat(text_).replace(tzinfo=UTC)


def test_the_library_has_every_kind_of_task_in_english_and_spanish() -> None:
    from journal.i18n import gettext_for

    library = load_library()
    assert {"anger_log", "thinking_errors", "empathy_letter", "cycle", "good_lives"} <= set(
        library.titles)
    for text in (*library.titles.values(), *library.prompts.values()):
        assert gettext_for("es", text) != text
    with pytest.raises(HomeworkError) as raised:
        parse_library({"version": 1, "titles": {"a": "A", "own": "O"}, "prompts": {"a": "x"},
                       "reminder_time": "late"})
    assert "own" in str(raised.value) and "reminder_time" in str(raised.value)


def test_the_chat_command_reads_codes_task_date_and_own_text() -> None:
    request = parse_request("abc-de,fgh-jk own 2026-03-30 Write about   your week.")
    assert request == HomeworkRequest(("ABC-DE", "FGH-JK"), "own", date(2026, 3, 30),
                                      "Write about   your week.")
    for bad in ("", "ABC-DE anger_log", "ABC-DE anger_log 30/03/2026"):
        with pytest.raises(InvalidInput):
            parse_request(bad)


async def test_a_task_is_answered_in_parts_sealed_reminded_once_and_judged_by_its_due_day(
        store: Store) -> None:
    clock = FakeClock(at("2026-03-27 09:00"))
    q_alerts = AlertService(clock=clock, questionnaire=Q, rules=load_rules(questionnaire=Q))
    service = HomeworkService(clock=clock, store=store, library=load_library())
    ticks = Ticks(store=store, clock=clock, alerts=q_alerts, reminder_delay=None,
                  checkins=CheckInService(clock=clock, questionnaire=Q, alerts=q_alerts,
                                          store=store), homework=service)
    lane = await make_clinician(store, clock)
    other = await make_clinician(store, clock, telegram_id=501, name="Dr Other")
    sam = await enrolled_client(store, clock, lane, 8001, checkin_days="")
    kim = await enrolled_client(store, clock, lane, 8002, checkin_days="")
    async with store.transaction() as uow:
        with pytest.raises(NotFound):
            await service.assign(uow, other, HomeworkRequest((sam.code,), "cycle",
                                                             date(2026, 3, 30)))
        with pytest.raises(InvalidInput):
            await service.assign(uow, lane, HomeworkRequest((sam.code,), "cycle",
                                                            date(2026, 3, 26)))
        made = await service.assign(uow, lane, HomeworkRequest(
            (sam.code, kim.code), "cycle", date(2026, 3, 30)))
    sams, kims = made[0][1], made[1][1]
    # Due by the end of 30 March in Madrid (summer time): 22:00 UTC.
    assert sams.due_at == at("2026-03-30 22:00")
    assert sams.next_due_at == at("2026-03-29 16:00")  # 18:00 CEST the evening before
    async with store.transaction() as uow:
        await service.start(uow, sam, sams.id)
        await service.append(uow, sam, "First the boredom.")
    async with store.transaction() as uow:
        with pytest.raises(NotFound):
            await service.finish(uow, kim, sams.id)  # not Kim's
    async with store.unit_of_work() as uow:
        row = await uow.session.get(HomeworkRow, sams.id)
        assert row is not None and row.status == "draft" and b"boredom" not in row.answer_ct
    async with store.transaction() as uow:
        closed = await service.save_draft(uow, sam, sams.id)
        assert closed.parts == 1
        reopened = await service.start(uow, sam, sams.id)
        assert reopened.resumed and reopened.parts == 1
        await service.append(uow, sam, "Then the lies.")
    await ticks.run()
    clock.set(at("2026-03-29 16:00"))
    assert (await ticks.run()).homework == 2
    assert (await ticks.run()).homework == 0
    async with store.transaction() as uow:
        await service.finish(uow, sam, sams.id)
        with pytest.raises(NotAllowed):
            await service.start(uow, sam, sams.id)
    clock.set(at("2026-03-30 22:00"))
    async with store.unit_of_work() as uow:
        _client, lines = await service.for_staff(uow, lane, sam.code)
        assert [line.state for line in lines] == ["done"]
        _client, lines = await service.for_staff(uow, lane, kim.code)
        assert [line.state for line in lines] == ["missing"]
        assert await uow.homework.overdue_counts([sam.id, kim.id], clock.now()) == {kim.id: 1}
        done = await uow.homework.get(sams.id)
    assert done is not None and done.answer == "First the boredom.\n\nThen the lies."
    # Handed in after its day: late.
    async with store.transaction() as uow:
        await service.start(uow, kim, kims.id)
        await service.append(uow, kim, "Sorry, it is late.")
        await service.finish(uow, kim, kims.id)
        _client, lines = await service.for_staff(uow, lane, kim.code)
    assert [line.state for line in lines] == ["late"]
    async with store.unit_of_work() as uow:
        left = list(await uow.session.scalars(select(HomeworkRow.next_due_at)))
    assert left == [None, None]  # nothing more for the tick
