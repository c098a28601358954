"""When a client's check-in falls: their local date, the opening instant, the window, the days.

The only place that turns a client's local time into an instant, so the service that
answers a button and the scheduler that prompts and closes days cannot disagree, even on
the days the clocks change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from storage.records import Client

# The default of STEADFAST_CHECKIN_WINDOW_HOURS, the one setting that configures it.
DEFAULT_WINDOW: Final = timedelta(hours=12)
# Below 23 h a day's window always closes before the next day's prompt, even on a 23-hour
# spring-forward day, so two days are never open at once.
LONGEST_WINDOW: Final = timedelta(hours=23)
STREAK_LOOKBACK: Final = 400  # days; a streak longer than this is shown as this


def parse_hhmm(text: str) -> time:
    """"HH:MM" as stored in clients.checkin_time."""
    hours, _, minutes = text.partition(":")
    return time(int(hours), int(minutes))


def local_instant(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of wall-clock time `at` on `day` in `zone`.

    A time that occurs twice (the clocks fall back) means its first occurrence; a time that
    does not exist (the clocks spring forward over it) moves to the first valid instant
    after the gap, i.e. the moment the clocks changed: a check-in is late, never skipped.
    """
    naive = datetime.combine(day, at)
    first = naive.replace(tzinfo=zone, fold=0).astimezone(UTC)  # fold=0: first occurrence
    if first.astimezone(zone).replace(tzinfo=None) == naive:
        return first
    # In a gap, fold=1 reads the time with the offset after the change and fold=0 with the
    # offset before it, so the change lies between the two readings: find it to the second.
    before = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
    after = first
    offset_after = after.astimezone(zone).utcoffset()
    while after - before > timedelta(seconds=1):
        middle = before + (after - before) // 2
        middle = middle.replace(microsecond=0)
        if middle.astimezone(zone).utcoffset() == offset_after:
            after = middle
        else:
            before = middle
    return after


def local_date(client: Client, at: datetime) -> date:
    """The client's local date at instant `at` (their today, at now), in their time zone."""
    return at.astimezone(ZoneInfo(client.timezone)).date()


def opens_at(client: Client, day: date) -> datetime:
    """When the client's check-in for local date `day` opens (UTC): their check-in time."""
    return local_instant(day, parse_hhmm(client.checkin_time), ZoneInfo(client.timezone))


def is_checkin_day(day: date, checkin_days: str) -> bool:
    """checkin_days holds weekday digits, Monday being 0 ("01234" is weekdays)."""
    return str(day.weekday()) in checkin_days


def counts_from(client: Client) -> datetime:
    """The first moment the client's check-ins count: enrolment, or the last resume."""
    start = client.enrolled_at or client.created_at
    return max(start, client.resumed_at) if client.resumed_at is not None else start


def streak_ending(statuses: Mapping[date, str], day: date) -> int:
    """Consecutive submitted days ending with `day`, from each local date's status."""
    count = 0
    while statuses.get(day - timedelta(days=count)) == "submitted":
        count += 1
    return count


@dataclass(frozen=True)
class DueDays:
    """Which local dates a check-in was due, when the days changed over time (a phase step
    changes them): each change's first local date with its weekday digits, oldest first.
    Dates are the client's own, so a clock change moves no day in or out."""

    changes: tuple[tuple[date, str], ...]

    def days_on(self, day: date) -> str:
        """The weekday digits in force on `day` ("" before the first change)."""
        found = ""
        for first, days in self.changes:
            if first > day:
                break
            found = days
        return found

    def is_due(self, day: date) -> bool:
        return is_checkin_day(day, self.days_on(day))


def due_count(statuses: Mapping[date, str], due: DueDays, *, start: date, end: date,
              today: date) -> tuple[int, int]:
    """(done, due) from start to end: a day counts when it was due, or when it has a row
    that was asked of the client (submitted or missed, whatever the days said); a due day
    before today with no submitted check-in counts as not done; today counts once done."""
    done = expected = 0
    day = start
    while day <= end:
        status = statuses.get(day)
        if status == "submitted":
            done += 1
            expected += 1
        elif status == "missed" or (due.is_due(day) and day < today):
            expected += 1
        day += timedelta(days=1)
    return done, expected


@dataclass(frozen=True)
class Window:
    """How long after its opening a day's check-in stays open: a fixed span of real time,
    so a clock change inside the window neither shortens nor lengthens it."""

    length: timedelta = DEFAULT_WINDOW

    def __post_init__(self) -> None:
        if not timedelta(0) < self.length < LONGEST_WINDOW:
            raise ValueError("the check-in window must be between 0 and 23 hours")

    def closes_at(self, client: Client, day: date) -> datetime:
        """When `day`'s window closes: from then on an unfinished day is missed."""
        return opens_at(client, day) + self.length

    def useful_until(self, client: Client, day: date) -> datetime:
        """Until when `day` can be answered, and a prompt or reminder for it is of use: the
        whole local day, and on to the end of its window after the check-in time (a
        check-in started before midnight can be finished after)."""
        end_of_day = local_instant(day + timedelta(days=1), time(0), ZoneInfo(client.timezone))
        return max(self.closes_at(client, day), end_of_day)

    def is_open(self, client: Client, day: date, now: datetime) -> bool:
        """Whether `day`'s check-in can still be answered at `now`. The scheduler's "missed"
        status is what closes a day; this is the same rule, so a late tick changes nothing."""
        today = local_date(client, now)
        if day == today:
            return True
        if day != today - timedelta(days=1):
            return False
        return now < self.useful_until(client, day)


__all__ = ["DEFAULT_WINDOW", "DueDays", "due_count", "STREAK_LOOKBACK", "Window", "counts_from", "is_checkin_day",
           "local_instant", "local_date", "opens_at", "parse_hhmm", "streak_ending"]
