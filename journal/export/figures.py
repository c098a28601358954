"""The program's own figures: clients by status, adherence by week (median and spread
across clients, never one client's), alerts by level per month, time from alert to
acknowledgement by level, escalations, e-mail fallbacks and dead letters.

A handful of grouped statements whatever the program's size (tests/test_figures.py counts
them); no client's data key is opened: the check-ins are counted by status, and of an
alert only its level is opened, under the program's people key, as the caseload does."""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Final

from journal.alerts.levels import ALERT_ORDER
from journal.clock import Clock
from journal.errors import NotFound
from journal.people import actor_of
from storage.records import Clinician
from storage.repositories.exports import WEEK_ZERO
from storage.uow import UnitOfWork

STATUSES: Final = ("invited", "active", "paused", "discharged")
EMAIL_STATES: Final = ("sent", "pending", "skipped")


@dataclass(frozen=True)
class WeekAdherence:
    """One week: over the clients with a check-in due in it, the median share done and
    the middle half's spread (25th to 75th percentile)."""

    start: date
    clients: int
    median: float | None
    low: float | None
    high: float | None


@dataclass(frozen=True)
class AckTimes:
    """Minutes from an alert to its acknowledgement, over the acknowledged ones."""

    level: str
    alerts: int
    acknowledged: int
    median: float | None
    p90: float | None
    longest: float | None
    escalated: int  # alerts that escalated at least once


@dataclass(frozen=True)
class ProgramFigures:
    since: date
    until: date
    clients: dict[str, int]
    weeks: list[WeekAdherence]
    months: list[tuple[str, dict[str, int]]]  # ("2026-03", {level: alerts})
    acks: list[AckTimes]
    emails: dict[str, int]
    dead_letters: int
    # Each clinician's (by name) times to acknowledgement, when the program wants them.
    by_clinician: list[tuple[str, list[AckTimes]]] = field(default_factory=list)

    def rows(self) -> list[tuple[str, str, str, str]]:
        """(figure, group, measure, value): every number, for the table's CSV."""
        out: list[tuple[str, str, str, str]] = []
        for status in STATUSES:
            out.append(("clients", status, "count", str(self.clients.get(status, 0))))
        for week in self.weeks:
            for name, value in (("clients", week.clients), ("median", week.median),
                                ("p25", week.low), ("p75", week.high)):
                out.append(("adherence", week.start.isoformat(), name, _num(value)))
        for month, levels in self.months:
            for level in ALERT_ORDER:
                out.append(("alerts", month, level, str(levels.get(level, 0))))
        for ack in self.acks:
            for name, value in (("alerts", ack.alerts), ("acknowledged", ack.acknowledged),
                                ("median_minutes", ack.median), ("p90_minutes", ack.p90),
                                ("longest_minutes", ack.longest),
                                ("escalated", ack.escalated)):
                out.append(("acknowledgement", ack.level, name, _num(value)))
        for state in EMAIL_STATES:
            out.append(("email_fallbacks", state, "count", str(self.emails.get(state, 0))))
        out.append(("dead_letters", "", "count", str(self.dead_letters)))
        for name, acks in self.by_clinician:
            for ack in acks:
                for measure, value in (("alerts", ack.alerts),
                                       ("acknowledged", ack.acknowledged),
                                       ("median_minutes", ack.median),
                                       ("p90_minutes", ack.p90),
                                       ("longest_minutes", ack.longest)):
                    out.append(("acknowledgement_by_clinician", f"{name}: {ack.level}",
                                measure, _num(value)))
        return out


def _num(value: float | int | None) -> str:
    if value is None:
        return ""
    if isinstance(value, int):
        return str(value)
    return f"{value:.2f}".rstrip("0").rstrip(".")


def percentile(values: Sequence[float], share: float) -> float | None:
    """The `share` percentile (0 to 1) by linear interpolation; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    place = (len(ordered) - 1) * share
    below, above = math.floor(place), math.ceil(place)
    return ordered[below] + (ordered[above] - ordered[below]) * (place - below)


def _acks(raised: dict[str, int], waits: dict[str, list[float]],
          escalated: dict[str, int]) -> list[AckTimes]:
    return [AckTimes(level, raised.get(level, 0), len(waits.get(level, [])),
                     statistics.median(waits[level]) if waits.get(level) else None,
                     percentile(waits.get(level, []), 0.9),
                     max(waits[level]) if waits.get(level) else None,
                     escalated.get(level, 0))
            for level in ALERT_ORDER]


class FiguresService:
    def __init__(self, *, clock: Clock, by_clinician: bool = False) -> None:
        self._clock = clock
        self._by_clinician = by_clinician

    async def figures(self, uow: UnitOfWork, viewer: Clinician | None, *, weeks: int = 12,
                      months: int = 12) -> ProgramFigures:
        """For supervisors (anyone else finds nothing, as with the program page) and the
        command line (`viewer` None). Audited as a view."""
        if viewer is not None and not viewer.is_supervisor:
            raise NotFound("the program's figures are for supervisors")
        now = self._clock.now()
        today = now.date()
        this_week = (today - WEEK_ZERO).days // 7
        first_week = this_week - weeks + 1
        week_since = WEEK_ZERO + timedelta(days=7 * first_week)
        month_since = _months_back(today, months)
        since_at = datetime.combine(month_since, time(), UTC)

        clients = await uow.exports.status_counts()
        shares: dict[int, list[float]] = defaultdict(list)
        per_client: dict[tuple[str, int], list[int]] = defaultdict(lambda: [0, 0])
        for client_id, week, status, n in await uow.exports.weekly_statuses(week_since, today):
            counts = per_client[(client_id, week)]
            counts[0 if status == "submitted" else 1] += n
        for (_client, week), (done, missed) in per_client.items():
            if done + missed:
                shares[week].append(done / (done + missed))
        week_rows = []
        for week in range(first_week, this_week + 1):
            values = shares.get(week, [])
            week_rows.append(WeekAdherence(
                WEEK_ZERO + timedelta(days=7 * week), len(values),
                statistics.median(values) if values else None,
                percentile(values, 0.25), percentile(values, 0.75)))

        by_month: dict[str, dict[str, int]] = {}
        month = month_since
        while month <= today:
            by_month[f"{month:%Y-%m}"] = {}
            month = (month + timedelta(days=32)).replace(day=1)
        waits: dict[str, list[float]] = defaultdict(list)
        raised: dict[str, int] = defaultdict(int)
        escalated: dict[str, int] = defaultdict(int)
        staff_raised: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        staff_waits: dict[int, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
        staff_escalated: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        async for (created_at, acknowledged_at, level, escalations,
                   clinician_id) in uow.exports.alert_times(since_at,
                                                            now + timedelta(seconds=1)):
            if self._by_clinician:
                staff_raised[clinician_id][level] += 1
                if escalations:
                    staff_escalated[clinician_id][level] += 1
                if acknowledged_at is not None:
                    staff_waits[clinician_id][level].append(
                        (acknowledged_at - created_at).total_seconds() / 60)
            levels = by_month.setdefault(f"{created_at:%Y-%m}", {})
            levels[level] = levels.get(level, 0) + 1
            raised[level] += 1
            if escalations:
                escalated[level] += 1
            if acknowledged_at is not None:
                waits[level].append((acknowledged_at - created_at).total_seconds() / 60)
        acks = _acks(raised, waits, escalated)
        by_clinician = []
        if self._by_clinician:
            names = {c.id: c.name for c in await uow.clinicians.everyone()}
            for clinician_id in sorted(staff_raised, key=lambda i: names.get(i, "")):
                by_clinician.append((names.get(clinician_id, str(clinician_id)), _acks(
                    staff_raised[clinician_id], staff_waits[clinician_id],
                    staff_escalated[clinician_id])))
        emails = await uow.exports.email_counts(since_at)
        dead = await uow.exports.dead_letters(since_at)
        await uow.audit(at=now, actor=actor_of(viewer) if viewer else "admin:cli",
                        action="figures.view", detail=f"weeks {weeks}, months {months}")
        return ProgramFigures(week_since, today, {s: clients.get(s, 0) for s in STATUSES},
                              week_rows, sorted(by_month.items()), acks, emails, dead,
                              by_clinician)


def _months_back(today: date, months: int) -> date:
    """The first day of the month `months - 1` months before today's."""
    index = today.year * 12 + today.month - 1 - (months - 1)
    return date(index // 12, index % 12 + 1, 1)


__all__ = ["AckTimes", "FiguresService", "ProgramFigures", "WeekAdherence", "percentile"]
