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


def ago_text(moment: datetime, now: datetime, language: str) -> str:
    """How long ago `moment` was, in the reader's words and its largest unit: "raised
    5 minutes ago", "raised 2 hours ago", "raised 3 days ago" (under a minute: "raised
    just now"). The moment itself is shown beside it with shown_time()."""
    from journal.i18n import gettext_for, ngettext_for

    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo("UTC"))
    minutes = max(0, int((now - moment).total_seconds() // 60))
    if minutes < 1:
        return gettext_for(language, "raised just now")
    if minutes < 60:
        return ngettext_for(language, "raised {n} minute ago", "raised {n} minutes ago",
                            minutes).format(n=minutes)
    hours = minutes // 60
    if hours < 48:
        return ngettext_for(language, "raised {n} hour ago", "raised {n} hours ago",
                            hours).format(n=hours)
    days = hours // 24
    return ngettext_for(language, "raised {n} day ago", "raised {n} days ago",
                        days).format(n=days)
