"""Appointments on a real database and the scheduler's real tick: reminders at the client's
local times across a clock change, answers, attendance, the no-show alert, and an idle tick
that reads nothing ahead."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from journal.alerts.rules_file import load_rules
from journal.alerts.service import AlertService
from journal.appointments import (
    AppointmentProgram,
    AppointmentRequest,
    AppointmentsError,
    AppointmentService,
    Offset,
    load_program,
    parse_program,
    parse_request,
    reminder_instants,
    zone_of,
)
from journal.checkin.questionnaire_file import load_questionnaire
from journal.checkin.service import CheckInService
from journal.clock import FakeClock
from journal.errors import InvalidInput, NotFound
from scheduler.ticks import Ticks
from storage.models import AlertRow, AppointmentRow, OutboxRow
from storage.records import Client, Clinician
from storage.uow import Store
from tests.helpers import make_clinician

Q = load_questionnaire()
MADRID = "Europe/Madrid"
# Spain moves its clocks forward on Sunday 29 March 2026 at 01:00 UTC (02:00 -> 03:00).
MONDAY = date(2026, 3, 30)


def at(text_: str) -> datetime:
    return datetime.fromisoformat(text_).replace(tzinfo=UTC)


def services(store: Store, clock: FakeClock) -> tuple[AppointmentService, Ticks]:
    alerts = AlertService(clock=clock, questionnaire=Q, rules=load_rules(questionnaire=Q))
    appointments = AppointmentService(clock=clock, program=load_program(), alerts=alerts)
    checkins = CheckInService(clock=clock, questionnaire=Q, alerts=alerts, store=store)
    return appointments, Ticks(store=store, clock=clock, checkins=checkins, alerts=alerts,
                               reminder_delay=None, appointments=appointments)


async def a_client(store: Store, clock: FakeClock, clinician: Clinician, *, telegram_id: int,
                   language: str = "en") -> Client:
    async with store.transaction() as uow:
        client = await uow.clients.add_invited(clinician_id=clinician.id, language=language,
                                               timezone=MADRID, checkin_time="20:00",
                                               now=clock.now())
        return await uow.clients.update(client.id, telegram_id=telegram_id, status="active",
                                        enrolled_at=clock.now())


async def messages(store: Store, clock: FakeClock, chat_id: int) -> list[dict[str, Any]]:
    """The params of every outbox row for `chat_id`, oldest first."""
    async with store.unit_of_work() as uow:
        ids = list(await uow.session.scalars(
            select(OutboxRow.id).order_by(OutboxRow.created_at, OutboxRow.id)))
        found = []
        for message_id in ids:
            message = await uow.outbox.get(message_id, clock.now())
            if message is not None and message.chat_id == chat_id:
                found.append(message.payload["params"])
        return found


async def add(store: Store, service: AppointmentService, clinician: Clinician, code: str,
              kind: str = "individual", day: date = MONDAY, at_: time = time(10, 0),
              place: str = "Calle Mayor 5, room 2", online: bool = False) -> str:
    async with store.transaction() as uow:
        _client, made = await service.add(uow, clinician, AppointmentRequest(
            code, kind, day, at_, online, place))
        return made.id


# ------------------------------------------------------------------------ pure rules


def test_the_day_before_is_the_same_wall_clock_time_across_a_clock_change() -> None:
    program = load_program()
    starts = at("2026-03-30 08:00")  # Monday 10:00 CEST
    day_before, hour_before = reminder_instants(program, starts, zone_of(MADRID))
    assert day_before == at("2026-03-29 08:00")  # Sunday 10:00 CEST, 23 hours before
    assert hour_before == at("2026-03-30 07:00")
    # Across the autumn change the day before is 25 hours before.
    # Sunday 25 October 10:00 CET; Saturday 10:00 was still summer time.
    autumn = reminder_instants(program, at("2026-10-25 09:00"), zone_of(MADRID))[0]
    assert autumn == at("2026-10-24 08:00")


def test_a_program_file_with_mistakes_names_each() -> None:
    with pytest.raises(AppointmentsError) as raised:
        parse_program({"version": 0, "reminders": ["1w"], "attendance_after": "1d",
                       "kinds": {"Bad Code": ""}, "colour": "red"})
    text = str(raised.value)
    for part in ("colour", "version", "Bad Code", "reminders", "attendance_after"):
        assert part in text
    program = parse_program({"version": 1, "reminders": ["30m", "2d"], "kinds": {"x": "X"}})
    assert program.reminders == (Offset(2, "d"), Offset(30, "m"))


def test_the_chat_command_reads_code_kind_date_time_and_place_or_online() -> None:
    request = parse_request("abc-de court 2026-03-30 09:15 Juzgado n.º 3")
    assert (request.code, request.kind, request.day, request.at, request.place,
            request.online) == ("ABC-DE", "court", MONDAY, time(9, 15), "Juzgado n.º 3", False)
    assert parse_request("ABC-DE individual 2026-03-30 09:15 online").online
    for bad in ("", "ABC-DE court", "ABC-DE court 30/03/2026 09:15", "ABC-DE court 2026-03-30 9"):
        with pytest.raises(InvalidInput):
            parse_request(bad)


# ------------------------------------------------------------------------ with the tick


async def test_reminders_come_the_day_before_and_an_hour_before_in_local_time_across_dst(
        store: Store) -> None:
    clock = FakeClock(at("2026-03-27 09:00"))  # Friday, still winter time
    service, ticks = services(store, clock)
    lane = await make_clinician(store, clock)
    sam = await a_client(store, clock, lane, telegram_id=8001, language="es")
    await add(store, service, lane, sam.code)
    told = await messages(store, clock, 8001)
    assert len(told) == 1
    assert told[0]["text"].splitlines()[0] == "Tienes una cita nueva: 2026-03-30 10:00 CEST."
    assert [b["action"] for b in told[0]["buttons"][0]] == ["appointment.confirm",
                                                            "appointment.decline"]
    await ticks.run()  # the first tick looks at everything: nothing is due yet
    clock.set(at("2026-03-29 07:59"))  # Sunday 09:59 CEST; 24 h before would be 09:00 UTC
    assert (await ticks.run()).appointments == 0
    clock.set(at("2026-03-29 08:00"))
    report = await ticks.run()
    assert report.appointments == 1
    assert report.next_due == at("2026-03-29 18:00")  # the check-in (20:00) comes first
    async with store.unit_of_work() as uow:
        assert await uow.appointments.earliest_due() == at("2026-03-30 07:00")
    reminder = (await messages(store, clock, 8001))[-1]
    first, kind, place = reminder["text"].splitlines()
    assert first == "Recordatorio: tienes una cita 2026-03-30 10:00 CEST."
    assert kind == "Sesión individual" and place == "Calle Mayor 5, room 2"
    for word in ("sesión", "tratamiento", "terapia", "grupo", "delito"):
        assert word not in first.lower()
    assert (await ticks.run()).appointments == 0  # once
    clock.set(at("2026-03-30 07:00"))
    assert (await ticks.run()).appointments == 1
    assert len(await messages(store, clock, 8001)) == 3
    # Two hours after the start nobody recorded the attendance: the clinician is asked.
    clock.set(at("2026-03-30 09:59"))
    assert (await ticks.run()).appointments == 0
    clock.set(at("2026-03-30 10:00"))
    assert (await ticks.run()).appointments == 1
    ask = (await messages(store, clock, lane.telegram_id))[-1]
    assert sam.code in ask["text"] and "Calle" not in ask["text"]
    assert {b["mark"] for row in ask["buttons"] for b in row} == {
        "attended", "late", "excused", "no_show"}
    async with store.unit_of_work() as uow:
        row = (await uow.session.scalars(select(AppointmentRow))).one()
        assert row.next_due_at is None  # nothing left for the tick
        assert b"Calle" not in (row.place_ct or b"")


async def test_a_reminder_already_past_when_recorded_is_not_sent(store: Store) -> None:
    clock = FakeClock(at("2026-03-30 06:30"))  # Monday 08:30 CEST: the day before is past
    service, ticks = services(store, clock)
    lane = await make_clinician(store, clock)
    sam = await a_client(store, clock, lane, telegram_id=8001)
    await add(store, service, lane, sam.code)
    await ticks.run()
    assert len(await messages(store, clock, 8001)) == 1  # the "new appointment" only
    clock.set(at("2026-03-30 07:00"))
    assert (await ticks.run()).appointments == 1
    assert (await messages(store, clock, 8001))[-1]["text"].startswith(
        "Reminder: you have an appointment 2026-03-30 10:00 CEST.")


async def test_the_client_cannot_come_the_reason_is_sealed_and_no_more_reminders(
        store: Store) -> None:
    clock = FakeClock(at("2026-03-27 09:00"))
    service, ticks = services(store, clock)
    lane = await make_clinician(store, clock)
    sam = await a_client(store, clock, lane, telegram_id=8001)
    appointment_id = await add(store, service, lane, sam.code, kind="officer", online=True,
                               place="")
    async with store.transaction() as uow:
        await service.decline(uow, sam, appointment_id)
        assert await service.awaiting_reason(uow, sam) == appointment_id
        await service.give_reason(uow, sam, "My shift at the warehouse was moved")
        assert await service.awaiting_reason(uow, sam) is None
    notice = (await messages(store, clock, lane.telegram_id))[-1]["text"]
    assert sam.code in notice and "warehouse" not in notice
    async with store.unit_of_work() as uow:
        row = (await uow.session.scalars(select(AppointmentRow))).one()
        assert row.response == "declined" and b"warehouse" not in (row.reason_ct or b"")
        _client, ahead, _past = await service.for_staff(uow, lane, sam.code)
        assert "warehouse" in ahead[0].response and ahead[0].where == "Online"
    clock.set(at("2026-03-29 08:00"))
    await ticks.run()
    assert len(await messages(store, clock, 8001)) == 1  # no reminder after "cannot come"


async def test_a_no_show_raises_the_alert_once_and_only_staff_who_see_the_client_record_it(
        store: Store) -> None:
    clock = FakeClock(at("2026-03-27 09:00"))
    service, _ticks = services(store, clock)
    lane = await make_clinician(store, clock)
    other = await make_clinician(store, clock, telegram_id=501, name="Dr Other")
    sam = await a_client(store, clock, lane, telegram_id=8001)
    appointment_id = await add(store, service, lane, sam.code)
    async with store.transaction() as uow:
        with pytest.raises(InvalidInput):  # not begun yet
            await service.record_attendance(uow, lane, appointment_id, "no_show")
    clock.set(at("2026-03-30 08:30"))
    async with store.transaction() as uow:
        with pytest.raises(NotFound):
            await service.record_attendance(uow, other, appointment_id, "no_show")
        with pytest.raises(NotFound):
            await service.for_staff(uow, other, sam.code)
        with pytest.raises(NotFound):
            await service.add(uow, other, AppointmentRequest(sam.code, "court", MONDAY,
                                                             time(15, 0)))
    for mark in ("no_show", "no_show", "excused", "no_show"):
        async with store.transaction() as uow:
            await service.record_attendance(uow, lane, appointment_id, mark)
    async with store.unit_of_work() as uow:
        alerts = list(await uow.session.scalars(select(AlertRow)))
        detail = await uow.alerts.get(alerts[0].id)
    assert len(alerts) == 2  # the second no-show after "excused" is recorded again...
    copies = [m for m in await messages(store, clock, lane.telegram_id)
              if "buttons" in m and any(b["action"] == "alert.ack" for r in m["buttons"]
                                        for b in r)]
    assert len(copies) == 1  # ...but the clinician is told once per appointment
    assert detail is not None and detail.level == "elevated"


async def test_an_idle_tick_reads_no_appointment_ahead(store: Store) -> None:
    clock = FakeClock(at("2026-03-01 09:00"))
    service, ticks = services(store, clock)
    lane = await make_clinician(store, clock)
    sam = await a_client(store, clock, lane, telegram_id=8001)
    for day in range(10):
        await add(store, service, lane, sam.code, day=MONDAY + timedelta(days=day))
    await ticks.run()
    read: list[int] = []
    async with store.unit_of_work() as uow:
        original = type(uow.appointments).due

    async def counting(self: Any, now: datetime, **kwargs: Any) -> Any:
        found = await original(self, now, **kwargs)
        read.append(len(found))
        return found

    type(uow.appointments).due = counting  # type: ignore[method-assign]
    try:
        clock.set(at("2026-03-01 10:00"))
        report = await ticks.run()
    finally:
        type(uow.appointments).due = original  # type: ignore[method-assign]
    assert read == [] and report.appointments == 0  # the soonest instant said: none due
    assert report.next_due is not None and report.next_due <= at("2026-03-29 08:00")


def test_the_default_kinds_have_spanish_names() -> None:
    from journal.i18n import gettext_for

    program: AppointmentProgram = load_program()
    assert set(program.kinds) == {"individual", "group", "officer", "polygraph", "court",
                                  "other"}
    for name in program.kinds.values():
        assert gettext_for("es", name) != name
