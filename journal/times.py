"""A time a person reads: one format, always in the reader's zone and naming it."""

from __future__ import annotations

from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo


def shown_time(moment: datetime, zone: str | tzinfo) -> str:
    """`moment` as the reader reads it, e.g. "2026-03-02 08:55 CET".

    Staff read times in the program's zone (`STEADFAST_DEFAULT_TIMEZONE`) until they have
    their own, a client in theirs. A naive `moment` is taken as UTC, as the database keeps
    it; the zone's abbreviation goes with every time, so no reader has to guess the clock."""
    tz = ZoneInfo(zone) if isinstance(zone, str) else zone
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo("UTC"))
    local = moment.astimezone(tz)
    return f"{local:%Y-%m-%d %H:%M} {local.tzname() or str(tz)}"
