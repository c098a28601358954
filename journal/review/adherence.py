"""Which days a client was asked to check in, which they did, and the ratio of the two."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from journal.checkin.days import is_checkin_day, local_date
from storage.records import ASKED, CheckInDay, Client, ClientStatus, DayStatus


@dataclass(frozen=True)
class Adherence:
    done: int
    expected: int

    @property
    def ratio(self) -> float | None:
        return self.done / self.expected if self.expected else None


def client_today(client: Client, now: datetime) -> date:
    """The client's local date; after discharge, their last day in the program."""
    today = local_date(client, now)
    if client.discharged_at is not None:
        today = min(today, local_date(client, client.discharged_at))
    return today


def day_states(client: Client, days: Sequence[CheckInDay], *, start: date, end: date,
               today: date) -> dict[date, str]:
    """What each day from start to end shows: submitted, missed, open or none.

    A day is asked for when it is a check-in weekday on or after enrolment (and before a
    pause). An asked day in the past with no submitted check-in counts as missed even when
    no row exists, so a gap in prompting never flatters adherence."""
    return states_by_status(client, {d.local_date: d.status for d in days}, start=start,
                            end=end, today=today)


def states_by_status(client: Client, statuses: Mapping[date, str], *, start: date, end: date,
                     today: date) -> dict[date, str]:
    """day_states() from each day's check-in status alone (what a caseload reads)."""
    enrolled = local_date(client, client.enrolled_at) if client.enrolled_at else None
    # The check-in days changed with the phase: before that, only the days' own rows tell
    # what was asked (the scheduler wrote one for every day that was due then).
    phase_from = local_date(client, client.phase_since) if client.phase_since else None
    paused = (local_date(client, client.paused_at)
              if client.status == ClientStatus.PAUSED and client.paused_at else None)
    states: dict[date, str] = {}
    day = start
    while day <= end:
        status = statuses.get(day)
        asked = (enrolled is not None and day >= enrolled
                 and is_checkin_day(day, client.checkin_days)
                 and (phase_from is None or day >= phase_from)
                 and (paused is None or day < paused))
        if status == DayStatus.SUBMITTED:
            states[day] = "submitted"
        elif status == DayStatus.MISSED or (asked and day < today):
            states[day] = "missed"
        elif status in ASKED:
            states[day] = "open"
        else:
            states[day] = "none"
        day += timedelta(days=1)
    return states


def adherence(states: Mapping[date, str], *, start: date, end: date) -> Adherence:
    """Submitted days over days asked for; today counts only once it is done."""
    window = [s for d, s in states.items() if start <= d <= end]
    done = window.count("submitted")
    return Adherence(done, done + window.count("missed"))


__all__ = ["Adherence", "adherence", "client_today", "day_states", "states_by_status"]
