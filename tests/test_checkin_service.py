"""The check-in service against a real database, without Telegram: prompts, versions, guards."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from bot import callbacks as ck
from bot.callbacks import CheckInCb, render_buttons
from bot.views.checkin import render
from journal.alerts.rules_file import load_rules
from journal.alerts.service import AlertService
from journal.checkin.flow import (
    CheckInState,
    QuestionnaireChanged,
    Stored,
    answer,
    answers_of,
    start,
)
from journal.checkin.questionnaire_file import load_questionnaire
from journal.checkin.service import CheckInService, TextTooLong
from journal.checkin.view import ALREADY_SAVED, CLOSED, CheckInView
from journal.clock import FakeClock
from storage.models import OutboxRow
from storage.records import Client
from storage.uow import Store
from tests.helpers import make_client, make_clinician

Q = load_questionnaire()
DAY = date(2026, 3, 2)


def service(store: Store, clock: FakeClock) -> CheckInService:
    alerts = AlertService(clock=clock, questionnaire=Q, rules=load_rules(questionnaire=Q))
    return CheckInService(clock=clock, questionnaire=Q, alerts=alerts, store=store)


async def client_of(store: Store, clock: FakeClock) -> Client:
    return await make_client(store, clock, await make_clinician(store, clock), telegram_id=8001)


def test_a_check_in_button_fits_telegram_and_its_day_reads_back() -> None:
    assert CheckInCb.unpack(CheckInCb(action=ck.ANSWER, day=20260302, v=12, n=3).pack()).v == 12
    worst = CheckInCb(action=ck.TOGGLE, day=99991231, v=10**9, n=-10**6).pack()
    assert len(worst.encode()) <= 64
    assert ck.day_from_code(20260302) == DAY and ck.day_from_code(20261399) is None


def test_stored_state_keeps_its_answers_readable_for_alerts() -> None:
    state = answer(Q, start(Q), "victim_access", "left")
    stored = Stored(3, state)
    assert Stored.from_data(stored.to_data()) == stored
    assert answers_of(stored.to_data()) == {"victim_access": "left"}


def test_a_scale_is_a_compact_grid_with_its_end_labels() -> None:
    view = CheckInView(day=DAY, version=1, language="en", screen="item", title="T",
                          item=Q.item("anger"), position=(2, 15), can_go_back=True,
                          previous=None)
    text, markup = render(view)
    assert markup is not None
    assert [len(row) for row in markup.inline_keyboard] == [6, 5, 1]
    assert "0 = None · 10 = Very strong" in text and "2 of 15" in text


async def test_the_prompt_is_queued_once_a_day_and_creates_the_day(
        store: Store, clock: FakeClock) -> None:
    checkins = service(store, clock)
    client = await client_of(store, clock)
    async with store.transaction() as uow:
        assert await checkins.prompt(uow, client)
        assert not await checkins.prompt(uow, client)
        day = await uow.checkins.for_day(client.id, DAY)
        assert day is not None and day.status == "prompted" and day.prompted_at == clock.now()
        assert day.questionnaire_version == str(Q.version)
        message = await uow.outbox.claim_due(clock.now(), limit=5, lease=timedelta(seconds=5))
    assert [m.kind for m in message] == ["prompt"]
    buttons = render_buttons(message[0].payload["params"]["buttons"]).inline_keyboard[0]
    assert [b.callback_data for b in buttons] == ["ck:s:20260302:0:0", "ck:l:20260302:0:0"]


async def test_a_button_of_another_version_changes_nothing(
        store: Store, clock: FakeClock) -> None:
    checkins = service(store, clock)
    client = await client_of(store, clock)
    async with store.transaction() as uow:
        first = await checkins.start_or_continue(uow, client)
        assert first.view is not None and first.view.version == 1
    async with store.transaction() as uow:
        step = await checkins.answer(uow, client, DAY, 1, 0)
        assert step.view is not None and step.view.version == 2
    async with store.transaction() as uow:
        again = await checkins.answer(uow, client, DAY, 1, 0)
        assert again.notice == ALREADY_SAVED and again.view is None
        closed = await checkins.answer(uow, client, DAY - timedelta(days=1), 2, 0)
        assert closed.notice == CLOSED
        # A position no option has (a forged button) is refused the same gentle way.
        forged = await checkins.answer(uow, client, DAY, 2, 99)
        assert forged.notice == ALREADY_SAVED
        checkin = await uow.checkins.for_day(client.id, DAY)
        assert checkin is not None and checkin.state is not None
        assert Stored.from_data(checkin.state).version == 2
        assert answers_of(checkin.state) == {"victim_access": "no"}


async def test_a_check_in_open_when_the_questions_change_says_so_and_keeps_its_state(
        store: Store, clock: FakeClock) -> None:
    client = await client_of(store, clock)
    async with store.transaction() as uow:
        first = await service(store, clock).start_or_continue(uow, client)
        assert first.view is not None
    newer = dataclasses.replace(Q, version=Q.version + 1)
    alerts = AlertService(clock=clock, questionnaire=newer,
                          rules=load_rules(questionnaire=newer))
    updated = CheckInService(clock=clock, questionnaire=newer, alerts=alerts, store=store)
    with pytest.raises(QuestionnaireChanged) as caught:
        async with store.transaction() as uow:
            await updated.answer(uow, client, DAY, first.view.version, 0)
    assert caught.value.key == "checkin.changed"  # the kind answer, not "already saved"
    async with store.transaction() as uow:
        day = await uow.checkins.for_day(client.id, DAY)
    assert day is not None and day.status == "in_progress" and day.state is not None
    kept = Stored.from_data(day.state)
    assert kept.version == first.view.version and kept.state.questionnaire == Q.id
    assert kept.state.version == Q.version and answers_of(day.state) == {}


async def test_too_long_a_typed_answer_is_refused_and_nothing_is_kept(
        store: Store, clock: FakeClock) -> None:
    checkins = service(store, clock)
    client = await client_of(store, clock)
    async with store.transaction() as uow:
        await checkins.start_or_continue(uow, client)
        checkin = await uow.checkins.for_day(client.id, DAY)
        assert checkin is not None
        state = CheckInState(Q.id, Q.version, {}, "journal_note")  # straight to the note
        await uow.checkins.save(checkin.id, state=Stored(5, state).to_data())
    async with store.unit_of_work() as uow:
        assert await checkins.awaiting_text(uow, client)
        with pytest.raises(TextTooLong):
            await checkins.answer_text(uow, client, "x" * 2001)


async def test_later_queues_one_reminder_per_prompt_message(
        store: Store, clock: FakeClock) -> None:
    checkins = service(store, clock)
    client = await client_of(store, clock)
    async with store.transaction() as uow:
        step = await checkins.later(uow, client, DAY, 41)
        again = await checkins.later(uow, client, DAY, 41)
        assert step.later_minutes == 60 and again.edit == 41
        count = await uow.session.scalar(select(func.count()).select_from(OutboxRow))
        assert count == 1


async def test_a_check_in_begun_before_midnight_is_finished_after_it(
        store: Store, clock: FakeClock) -> None:
    checkins = service(store, clock)
    client = await client_of(store, clock)  # Madrid, check-in at 20:00, 12-hour window
    clock.set(datetime(2026, 3, 2, 22, 0, tzinfo=UTC))  # 23:00 in Madrid
    async with store.transaction() as uow:
        await checkins.start_or_continue(uow, client)
        await checkins.answer(uow, client, DAY, 1, 0)
    clock.set(datetime(2026, 3, 2, 23, 30, tzinfo=UTC))  # 00:30 on the next local day
    async with store.transaction() as uow:
        resumed = await checkins.start_or_continue(uow, client)
        assert resumed.view is not None and resumed.view.day == DAY
        assert resumed.view.item is not None and resumed.view.item.id == "anger"
        step = await checkins.answer(uow, client, DAY, 2, 4)
        assert step.view is not None and step.view.version == 3
    clock.set(datetime(2026, 3, 3, 7, 30, tzinfo=UTC))  # 08:30: the window has closed
    async with store.transaction() as uow:
        late = await checkins.answer(uow, client, DAY, 3, 0)
        assert late.notice == CLOSED
        fresh = await checkins.start_or_continue(uow, client)
        assert fresh.view is not None and fresh.view.day == DAY + timedelta(days=1)
        old = await uow.checkins.for_day(client.id, DAY)
        assert old is not None and old.state is not None
        assert answers_of(old.state) == {"victim_access": "no", "anger": 4}
