"""Stories of a check-in's day: when it opens and closes in the client's own time, the
same instant for the service that answers the buttons and for the scheduler that prompts
and closes the day, on the days the clocks change too."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from journal.alerts.rules_file import load_rules
from journal.alerts.service import AlertService
from journal.checkin.days import Window, local_instant, parse_hhmm
from journal.checkin.questionnaire_file import load_questionnaire
from journal.checkin.service import CheckInService
from journal.checkin.view import CLOSED
from journal.clock import FakeClock
from scheduler.ticks import Ticks
from storage.records import Client
from storage.uow import Store
from tests.helpers import make_clinician

Q = load_questionnaire()
NEW_YORK = "America/New_York"
LONG_WINDOW = timedelta(hours=22)  # the longest STEADFAST_CHECKIN_WINDOW_HOURS allows


def at(text_: str) -> datetime:
    """"2026-03-08 07:00" in UTC."""
    return datetime.fromisoformat(text_).replace(tzinfo=UTC)


async def new_yorker(store: Store, clock: FakeClock, checkin_time: str) -> Client:
    clinician = await make_clinician(store, clock)
    async with store.transaction() as uow:
        client = await uow.clients.add_invited(clinician_id=clinician.id, language="en",
                                               timezone=NEW_YORK, checkin_time=checkin_time,
                                               now=clock.now())
        return await uow.clients.update(client.id, telegram_id=8001, status="active",
                                        enrolled_at=clock.now())


def service_and_ticks(store: Store, clock: FakeClock) -> tuple[CheckInService, Ticks]:
    alerts = AlertService(clock=clock, questionnaire=Q, rules=load_rules(questionnaire=Q))
    checkins = CheckInService(clock=clock, questionnaire=Q, alerts=alerts, store=store,
                              window=LONG_WINDOW)
    return checkins, Ticks(store=store, clock=clock, checkins=checkins, alerts=alerts,
                           reminder_delay=None)


async def status_of(store: Store, client: Client, day: date) -> str | None:
    async with store.unit_of_work() as uow:
        checkin = await uow.checkins.for_day(client.id, day)
        return checkin.status if checkin is not None else None


# ------------------------------------------------------------------------ pure times


@pytest.mark.parametrize(("zone", "day", "time_", "expected"), [
    # An ordinary day.
    ("America/New_York", date(2026, 3, 7), "02:30", "2026-03-07 07:30"),
    ("Europe/Madrid", date(2026, 3, 28), "02:30", "2026-03-28 01:30"),
    # Spring forward: 02:30 does not exist; the first valid instant is when clocks jump (03:00).
    ("America/New_York", date(2026, 3, 8), "02:30", "2026-03-08 07:00"),
    ("America/New_York", date(2026, 3, 8), "02:00", "2026-03-08 07:00"),
    ("America/New_York", date(2026, 3, 8), "02:59", "2026-03-08 07:00"),
    ("America/New_York", date(2026, 3, 8), "03:00", "2026-03-08 07:00"),
    ("America/New_York", date(2026, 3, 8), "01:59", "2026-03-08 06:59"),
    ("Europe/Madrid", date(2026, 3, 29), "02:30", "2026-03-29 01:00"),
    ("Europe/Madrid", date(2026, 3, 29), "02:00", "2026-03-29 01:00"),
    # Fall back: 01:30 (New York) and 02:30 (Madrid) happen twice; the first one counts.
    ("America/New_York", date(2026, 11, 1), "01:30", "2026-11-01 05:30"),
    ("America/New_York", date(2026, 11, 1), "02:30", "2026-11-01 07:30"),
    ("Europe/Madrid", date(2026, 10, 25), "02:30", "2026-10-25 00:30"),
    ("Europe/Madrid", date(2026, 10, 25), "03:00", "2026-10-25 02:00"),
    # The days after use the new offset.
    ("America/New_York", date(2026, 3, 9), "02:30", "2026-03-09 06:30"),
    ("America/New_York", date(2026, 11, 2), "01:30", "2026-11-02 06:30"),
    ("Europe/Madrid", date(2026, 10, 26), "02:30", "2026-10-26 01:30"),
    # A zone that skipped a whole calendar day (Samoa, 30 December 2011).
    ("Pacific/Apia", date(2011, 12, 30), "20:00", "2011-12-30 10:00"),  # 31 Dec 00:00 +14
])
def test_a_check_in_time_becomes_one_utc_instant(zone: str, day: date, time_: str,
                                                 expected: str) -> None:
    assert local_instant(day, parse_hhmm(time_), ZoneInfo(zone)) == at(expected)


def test_instants_are_monotonic_through_every_minute_of_a_transition_day() -> None:
    zone = ZoneInfo("Europe/Madrid")
    for day in (date(2026, 3, 29), date(2026, 10, 25)):
        instants = [local_instant(day, time(h, m), zone) for h in range(24) for m in range(60)]
        assert instants == sorted(instants)
        for instant in instants:
            assert instant.tzinfo is not None


def test_a_window_is_between_zero_and_twenty_three_hours() -> None:
    assert Window().length == timedelta(hours=12)
    for length in (timedelta(0), timedelta(hours=23)):
        with pytest.raises(ValueError, match="between 0 and 23 hours"):
            Window(length)


# ------------------------------------------------------- the service and the scheduler agree


async def test_a_check_in_the_clocks_skip_opens_and_closes_at_one_instant_for_everyone(
        store: Store) -> None:
    # 02:30 does not exist in New York on 8 March 2026: the clocks jump from 02:00 to 03:00
    # (07:00 UTC). The check-in opens then, and its 22-hour window closes at 05:00 UTC on
    # the 9th (01:00 local), for the scheduler and for the buttons alike.
    day = date(2026, 3, 8)
    clock = FakeClock(at("2026-03-07 12:00"))
    client = await new_yorker(store, clock, "02:30")
    checkins, ticks = service_and_ticks(store, clock)
    opens, closes = at("2026-03-08 07:00"), at("2026-03-09 05:00")

    clock.set(opens - timedelta(minutes=1))
    assert (await ticks.run()).prompted == 0
    clock.set(opens)
    assert (await ticks.run()).prompted == 1
    assert await status_of(store, client, day) == "prompted"
    assert checkins.closes_at(client, day) == closes

    clock.set(closes - timedelta(minutes=1))  # 00:59 on the 9th: the 8th is still open
    assert checkins.is_open(client, day)
    assert (await ticks.run()).missed == 0
    async with store.transaction() as uow:
        assert await checkins.current_day(uow, client) == day

    clock.set(closes)  # closed for the buttons before any tick has run...
    assert not checkins.is_open(client, day)
    async with store.transaction() as uow:
        assert await checkins.current_day(uow, client) == day + timedelta(days=1)
        late = await checkins.start_or_continue(uow, client, day=day)
        assert late.notice == CLOSED and late.view is None
    assert await status_of(store, client, day) == "prompted"
    assert (await ticks.run()).missed == 1  # ...and the tick marks it missed at that instant
    assert await status_of(store, client, day) == "missed"


async def test_a_check_in_at_a_time_that_happens_twice_opens_at_its_first_occurrence(
        store: Store) -> None:
    # 01:30 happens twice in New York on 1 November 2026 (05:30 and 06:30 UTC): the first
    # counts, so the window closes 22 hours later, at 03:30 UTC on the 2nd, and the day
    # stays answerable until its local end (05:00 UTC). The buttons follow the status.
    day = date(2026, 11, 1)
    clock = FakeClock(at("2026-10-31 12:00"))
    client = await new_yorker(store, clock, "01:30")
    checkins, ticks = service_and_ticks(store, clock)
    opens = at("2026-11-01 05:30")

    clock.set(opens - timedelta(minutes=1))
    assert (await ticks.run()).prompted == 0
    clock.set(opens)
    assert (await ticks.run()).prompted == 1
    assert checkins.closes_at(client, day) == at("2026-11-02 05:00")

    clock.set(at("2026-11-02 03:29"))
    assert (await ticks.run()).missed == 0
    async with store.transaction() as uow:
        step = await checkins.start_or_continue(uow, client)
        assert step.view is not None and step.view.day == day
    clock.set(at("2026-11-02 03:30"))
    assert (await ticks.run()).missed == 1
    async with store.transaction() as uow:
        late = await checkins.start_or_continue(uow, client, day=day)
        assert late.notice == CLOSED


# ------------------------------------------------- a three-days phase over a clock change


def test_due_days_follow_each_change_of_days_by_local_date() -> None:
    from journal.checkin.days import DueDays

    due = DueDays(((date(2026, 3, 2), "0123456"), (date(2026, 3, 9), "024")))
    assert due.days_on(date(2026, 3, 1)) == ""  # before the first: nothing was due
    assert not due.is_due(date(2026, 3, 1))
    assert all(due.is_due(date(2026, 3, d)) for d in range(2, 9))  # the daily week
    # From Monday 9 March (the day after New York's clocks change), Mon, Wed, Fri only.
    assert [d for d in range(9, 16) if due.is_due(date(2026, 3, d))] == [9, 11, 13]


def test_adherence_on_three_days_counts_only_the_days_that_were_due_across_the_change() -> None:
    from journal.checkin.days import DueDays, due_count

    # Mon/Wed/Fri from Monday 2 March to Sunday 15 March 2026; the clocks change on
    # Sunday the 8th in New York, a day that was never due.
    due = DueDays(((date(2026, 3, 2), "024"),))
    statuses = {date(2026, 3, 2): "submitted", date(2026, 3, 4): "submitted",
                date(2026, 3, 6): "missed", date(2026, 3, 9): "submitted",
                date(2026, 3, 11): "submitted"}
    # Friday the 13th has no row yet and is today: not counted until done.
    done, expected = due_count(statuses, due, start=date(2026, 3, 2), end=date(2026, 3, 15),
                               today=date(2026, 3, 13))
    assert (done, expected) == (4, 5)
    # The next week, Friday the 13th still has no check-in: it counts as missed; the
    # weekend and the Tuesdays and Thursdays never count.
    done, expected = due_count(statuses, due, start=date(2026, 3, 2), end=date(2026, 3, 15),
                               today=date(2026, 3, 16))
    assert (done, expected) == (4, 6)
    # A step up to daily on Thursday the 12th: from then every day is due.
    stepped = DueDays(((date(2026, 3, 2), "024"), (date(2026, 3, 12), "0123456")))
    done, expected = due_count(statuses, stepped, start=date(2026, 3, 2),
                               end=date(2026, 3, 15), today=date(2026, 3, 16))
    assert (done, expected) == (4, 3 + 2 + 4)  # week one 3, Mon+Wed, then Thu to Sun


async def test_a_three_days_client_is_prompted_and_missed_on_due_days_only_over_the_change(
        store: Store) -> None:
    from journal.checkin.days import DueDays, due_count

    # A New Yorker at 02:30 (a time that does not exist on 8 March 2026) on Mon/Wed/Fri.
    clock = FakeClock(at("2026-03-01 12:00"))  # Sunday
    client = await new_yorker(store, clock, "02:30")
    async with store.transaction() as uow:
        client = await uow.clients.update(client.id, checkin_days="024")
    checkins, ticks = service_and_ticks(store, clock)
    prompted: list[date] = []
    missed = 0
    moment = at("2026-03-01 12:00")
    while moment < at("2026-03-16 20:00"):  # two weeks, hour by hour
        moment += timedelta(hours=1)
        clock.set(moment)
        report = await ticks.run()
        missed += report.missed
        if report.prompted:
            prompted.append(checkins.today(client))
    assert prompted == [date(2026, 3, d) for d in (2, 4, 6, 9, 11, 13, 16)]
    assert missed == 6  # every due day but the 16th, still open; never a day not due
    async with store.unit_of_work() as uow:
        statuses = await uow.checkins.statuses(client.id, since=date(2026, 3, 1))
    assert set(statuses) == set(prompted)
    done, expected = due_count(statuses, DueDays(((date(2026, 3, 1), "024"),)),
                               start=date(2026, 3, 1), end=date(2026, 3, 16),
                               today=date(2026, 3, 16))
    assert (done, expected) == (0, 6)


def test_after_a_step_up_the_days_that_were_not_due_before_it_are_not_counted_missed() -> None:
    from journal.review.adherence import adherence, day_states
    from storage.records import CheckInDay

    # Mon/Wed/Fri until Thursday 12 March 2026, 10:00 in New York, then every day.
    client = Client(id="c1", code="ABC-DE", telegram_id=1, clinician_id=1, status="active",
                    language="en", timezone=NEW_YORK, checkin_time="20:00",
                    checkin_days="0123456", pause_reason=None, unreachable=False,
                    created_at=at("2026-03-01 12:00"), enrolled_at=at("2026-03-01 12:00"),
                    phase="daily", phase_since=at("2026-03-12 14:00"))
    rows = [CheckInDay(f"d{d}", date(2026, 3, d), "submitted", "low", None)
            for d in (2, 4, 6, 9, 11)]
    states = day_states(client, rows, start=date(2026, 3, 1), end=date(2026, 3, 14),
                        today=date(2026, 3, 14))
    # Tuesdays, Thursday the 5th, the weekend of the clock change: not due then, not missed.
    assert {d.day for d, s in states.items() if s == "missed"} == {12, 13}
    assert adherence(states, start=date(2026, 3, 1), end=date(2026, 3, 14)).expected == 7
