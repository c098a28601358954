"""Stories of a check-in's day: when it opens and closes in the client's own time, the
same instant for the service that answers the buttons and for the scheduler that prompts
and closes the day, on the days the clocks change too."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from journal.checkin.days import Window, local_instant, parse_hhmm


def at(text_: str) -> datetime:
    """"2026-03-08 07:00" in UTC."""
    return datetime.fromisoformat(text_).replace(tzinfo=UTC)


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
