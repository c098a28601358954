"""A number a person types is ASCII digits: str.isdigit() also says yes to "²" and "①",
which int() refuses, so a client's check-in time or a setting written with them is told
apart as a mistake, not a failure."""

from __future__ import annotations

import pytest

from app.settings import Settings
from journal.enrolment import parse_time
from journal.errors import InvalidInput


@pytest.mark.parametrize("typed", ["²0:00", "20:①0", "٢0:00", "20:" + "0" * 5000, "7:5"])
def test_a_check_in_time_in_other_digits_is_not_a_time_of_day(typed: str) -> None:
    with pytest.raises(InvalidInput):
        parse_time(typed)


@pytest.mark.parametrize(("typed", "time"), [("20:00", "20:00"), ("8", "08:00"),
                                             ("8.30", "08:30")])
def test_a_check_in_time_in_ascii_digits_is_read(typed: str, time: str) -> None:
    assert parse_time(typed) == time


def test_a_default_check_in_time_in_other_digits_names_the_setting_rule() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="must be a time of day such as 20:00"):
        Settings(_env_file=None, default_checkin_time="²0:00")  # type: ignore[call-arg]
