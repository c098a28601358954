"""When a client's check-in falls: local check-in times to UTC instants, across DST changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DEFAULT_WINDOW = timedelta(hours=12)


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


def prompt_instant(day: date, checkin_time: str, timezone: str) -> datetime:
    """When the client's check-in for local date `day` is due (UTC)."""
    return local_instant(day, parse_hhmm(checkin_time), ZoneInfo(timezone))


def window_close(prompt: datetime, window: timedelta = DEFAULT_WINDOW) -> datetime:
    """When the day's check-in stops being open: a fixed span of real time after the prompt,
    so a DST change inside the window neither shortens nor lengthens it."""
    return prompt + window


def is_checkin_day(day: date, checkin_days: str) -> bool:
    """checkin_days holds weekday digits, Monday being 0 ("01234" is weekdays)."""
    return str(day.weekday()) in checkin_days


def local_date(instant: datetime, timezone: str) -> date:
    return instant.astimezone(ZoneInfo(timezone)).date()


__all__ = ["DEFAULT_WINDOW", "is_checkin_day", "local_date", "local_instant", "parse_hhmm",
           "prompt_instant", "window_close"]
