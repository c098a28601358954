"""The review model: what the PDF report, the chat summary and the workspace page show of
one client, as plain frozen dataclasses, built once and rendered three ways.

Every value is already decrypted and translated into the viewer's language; every moment
is an aware datetime in the viewer's zone (render it with journal.times.shown_time and
`ReviewModel.timezone` / `ClientSummary.timezone`, so it always names its zone). Nothing
here does I/O except the two async builders at the end, which read a unit of work.

Fields, for whoever renders them:

`AlertRow` (one alert; `ReportData.alert_rows`, `ClientSummary.alert_rows`)
    id, at (raised, viewer's zone), level (low|elevated|high|critical),
    level_label (translated), reasons (translated, each reason once, in rule order),
    status (open|acknowledged|closed), acknowledged_by (the name, or None),
    acknowledged_at (viewer's zone, or None), response_minutes (raised to acknowledged,
    whole minutes, or None), response_text (the same in words: "1 hour 5 minutes"),
    notes (each note left on it, oldest first: `AlertNoteRow` author name, at in the
    viewer's zone, text decrypted), escalations (how many times it went to the supervisors).

`DayRow` (one local day of the period, oldest first; `ReportData.day_rows`)
    day, status (submitted|missed|open|none), level (the check-in's risk level or None),
    domains (domain id -> self-report indicator 0..2, submitted days only),
    roll_ups (roll-up id -> value), self_harm (True/False, None: not answered),
    high_risk (likewise), lapse (likewise), blown_it (0-10 after a lapse, or None),
    small_decisions (the SUDs chosen, translated, "other" with its text),
    good_life (the good-life steps chosen, translated).

`DomainRow` (one domain of the questionnaire's [domains] over the period;
`ReportData.domain_rows`)
    domain (id), label (translated), days (days with a score), some (days scored 1),
    definite (days scored 2), latest (the last score, or None).

`DayPoint` (journal.review.charts; `points`) has day, roll_ups (roll-up id -> value),
scales (charted scale item -> value) and domains (domain id -> 0..2); `Series` (one line a
chart draws) has kind (roll_up|scale), id, label (translated), top and thresholds. Which
roll-ups, scales, domains and items there are is the questionnaire's to say (its
[[roll_ups]], [domains] and [review]), never this code's.

`SituationRow`: day, happened, coping (the coping used and how well it worked).
`JournalText`: at (viewer's zone), text, source (entry|checkin).

`ReportData` (the whole session report; journal.review.report_data builds it)
    client_code, clinician, start, end, generated_at (viewer's zone), timezone (the
    viewer's zone name), client_timezone, language, points, days (date -> day state),
    adherence, asked, alerts (chart marks), alert_rows, day_rows, domain_rows,
    domain_labels (domain id -> translated label, in questionnaire order),
    roll_ups, scales (each a Series), situations, journal, plan.

`ClientSummary` (journal/review/summary.py; `/client` and the page's summary) has client,
clinician_name, today, last_checkin, week, month (Adherence: done, expected, ratio),
open_alerts (level -> count), recent_alerts (the raw rows), alert_rows, plan, points,
start, roll_ups, scales, language, timezone, domain_labels.
`ReviewService.locale_of(clinician)` says which language and zone a viewer reads in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Literal
from zoneinfo import ZoneInfo

from journal.alerts.levels import LABELS as LEVEL_LABELS
from journal.alerts.service import CopyState, copy_states
from journal.checkin.flow import answers_of, render_answer
from journal.checkin.questionnaire import Answer, Questionnaire
from journal.i18n import gettext_for, ngettext_for
from journal.phases.review import PhaseReview
from journal.review.charts import AlertMark, DayPoint, Series
from storage.records import Alert, CheckIn, DayStatus, Plan

if TYPE_CHECKING:
    from storage.uow import UnitOfWork

@dataclass(frozen=True)
class AlertNoteRow:
    author: str
    at: datetime
    text: str


@dataclass(frozen=True)
class AlertRow:
    id: str
    at: datetime
    level: str
    level_label: str
    reasons: tuple[str, ...]
    status: str
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None
    response_minutes: int | None = None
    response_text: str | None = None
    notes: tuple[AlertNoteRow, ...] = ()
    escalations: int = 0
    copies: tuple[CopyState, ...] = ()  # where each copy stands (journal/alerts/service.py)


@dataclass(frozen=True)
class DayRow:
    day: date
    status: str
    level: str | None = None
    domains: Mapping[str, int] = field(default_factory=dict)
    roll_ups: Mapping[str, int] = field(default_factory=dict)
    self_harm: bool | None = None
    high_risk: bool | None = None
    lapse: bool | None = None
    blown_it: int | None = None
    small_decisions: tuple[str, ...] = ()
    good_life: tuple[str, ...] = ()


@dataclass(frozen=True)
class DomainRow:
    domain: str
    label: str
    days: int
    some: int
    definite: int
    latest: int | None


@dataclass(frozen=True)
class SituationRow:
    day: date
    happened: str
    coping: str


@dataclass(frozen=True)
class JournalText:
    at: datetime  # in the viewer's zone
    text: str
    source: Literal["entry", "checkin"]


@dataclass(frozen=True)
class ReportData:
    """Everything a report shows, decrypted and in plain values (see the module's notes)."""

    client_code: str
    clinician: str
    start: date
    end: date
    generated_at: datetime
    timezone: str
    client_timezone: str
    language: str
    points: tuple[DayPoint, ...]
    days: Mapping[date, str]  # submitted | missed | open | none
    adherence: int  # days checked in
    asked: int  # days a check-in was asked for
    alerts: tuple[AlertMark, ...]
    alert_rows: tuple[AlertRow, ...]
    day_rows: tuple[DayRow, ...]
    domain_rows: tuple[DomainRow, ...]
    domain_labels: Mapping[str, str]
    roll_ups: tuple[Series, ...]  # each with its label, its top and its thresholds
    scales: tuple[Series, ...]
    situations: tuple[SituationRow, ...]
    journal: tuple[JournalText, ...]
    plan: Plan
    # (at in the viewer's zone, clinician told, how it went: "" or an OUTCOMES key)
    help_moments: tuple[tuple[datetime, bool | None, str], ...] = ()
    # Each saved version of the plan, newest first: (number, at in the viewer's zone, why).
    plan_history: tuple[tuple[int, datetime, str], ...] = ()
    phase: PhaseReview | None = None  # the phase path and the rating beside the self-report

    @property
    def period_days(self) -> int:
        return (self.end - self.start).days + 1


# -- building --------------------------------------------------------------------------


def reasons_once(codes: Iterable[str], label: Callable[[str], str], language: str
                 ) -> tuple[str, ...]:
    """The reasons' texts, each once: two rules (elevated and high) may give one reason,
    and two codes may share a label."""
    texts = (gettext_for(language, label(code)) for code in codes)
    return tuple(dict.fromkeys(texts))


def duration_text(minutes: int, language: str) -> str:
    """A response time as a person reads it: "45 minutes", "1 hour 5 minutes", "2 days
    3 hours" (the two largest units)."""
    def mins(n: int) -> str:
        return ngettext_for(language, "{n} minute", "{n} minutes", n).format(n=n)

    def hrs(n: int) -> str:
        return ngettext_for(language, "{n} hour", "{n} hours", n).format(n=n)

    if minutes < 60:
        return mins(minutes)
    hours, rest = divmod(minutes, 60)
    if hours < 24:
        return hrs(hours) + (" " + mins(rest) if rest else "")
    days, hours = divmod(hours, 24)
    return (ngettext_for(language, "{n} day", "{n} days", days).format(n=days)
            + (" " + hrs(hours) if hours else ""))


async def alert_rows(uow: UnitOfWork, alerts: Sequence[Alert], *, language: str,
                     timezone: str, reason_label: Callable[[str], str]
                     ) -> tuple[AlertRow, ...]:
    """The alerts as a session reads them: reasons once, who acknowledged, when, how fast
    and with what notes (each note is decrypted by the repository, for this view only)."""
    zone = ZoneInfo(timezone)
    names: dict[int, str] = {}
    copies = await copy_states(uow, alerts)
    rows = []
    for alert in alerts:
        for by in (alert.acknowledged_by, *(n.author_id for n in alert.notes)):
            if by is not None and by not in names:
                person = await uow.clinicians.get(by)
                names[by] = person.name if person else "-"
        by = alert.acknowledged_by
        minutes = None
        if alert.acknowledged_at is not None:
            minutes = max(0, int((alert.acknowledged_at - alert.created_at).total_seconds()
                                 // 60))
        rows.append(AlertRow(
            id=alert.id, at=alert.created_at.astimezone(zone), level=alert.level,
            level_label=gettext_for(language, LEVEL_LABELS.get(alert.level, alert.level)),
            reasons=reasons_once(alert.detail.get("reasons", []), reason_label, language),
            status=alert.status, acknowledged_by=names.get(by) if by is not None else None,
            acknowledged_at=(alert.acknowledged_at.astimezone(zone)
                             if alert.acknowledged_at else None),
            response_minutes=minutes,
            response_text=duration_text(minutes, language) if minutes is not None else None,
            notes=tuple(AlertNoteRow(author=names.get(n.author_id, "-")
                                     if n.author_id is not None else "-",
                                     at=n.at.astimezone(zone), text=n.text or "-")
                        for n in alert.notes),
            escalations=alert.escalations,
            copies=tuple(CopyState(c.name, c.escalation, c.state,
                                   c.at.astimezone(zone) if c.at else None)
                         for c in copies.get(alert.id, ()))))
    return tuple(rows)


def _flag(value: Answer | None) -> bool | None:
    return value if isinstance(value, bool) else None


def _chosen(q: Questionnaire, answers: Mapping[str, Answer], part: str, language: str,
            other: str | None = None) -> tuple[str, ...]:
    """The options chosen for the item playing `part`, in words; the "other" option with
    the text of the item playing `other`."""
    item_id = q.review.item(part)
    value = answers.get(item_id) if item_id is not None else None
    if item_id is None or not isinstance(value, tuple) or not value:
        return ()
    item = q.item(item_id)
    texts = [render_answer(item, (key,), language) for key in value]
    extra = q.review.answer(answers, other) if other else None
    if isinstance(extra, str) and extra.strip() and "other" in value:
        texts[value.index("other")] += f": {extra.strip()}"
    return tuple(texts)


def day_rows(points: Sequence[DayPoint], states: Mapping[date, str],
             checkins: Sequence[CheckIn], q: Questionnaire, language: str
             ) -> tuple[DayRow, ...]:
    """Day by day, the answers a session goes through beside the indicators (the items
    playing the questionnaire's [review] parts)."""
    by_day = {c.local_date: c for c in checkins
              if c.status == DayStatus.SUBMITTED and c.state}
    rows = []
    for point in points:
        checkin = by_day.get(point.day)
        answers = answers_of(checkin.state) if checkin and checkin.state else {}
        blown = q.review.answer(answers, "lapse_feeling")
        rows.append(DayRow(
            day=point.day, status=states.get(point.day, "none"),
            level=checkin.risk_level if checkin else None, domains=dict(point.domains),
            roll_ups=dict(point.roll_ups),
            self_harm=_flag(q.review.answer(answers, "self_harm")),
            high_risk=_flag(q.review.answer(answers, "situation")),
            lapse=_flag(q.review.answer(answers, "lapse")),
            blown_it=blown if isinstance(blown, int) and not isinstance(blown, bool) else None,
            small_decisions=_chosen(q, answers, "small_decisions", language,
                                    other="small_decisions_other"),
            good_life=_chosen(q, answers, "good_life", language)))
    return tuple(rows)


def domain_labels(q: Questionnaire, language: str) -> dict[str, str]:
    """The domains the questionnaire scores, in its [domains] order, named in `language`."""
    scored = {item.domain for item in q.items if item.domain is not None}
    return {d: label.get(language) for d, label in q.domains.items() if d in scored}


def domain_rows(points: Sequence[DayPoint], labels: Mapping[str, str]
                ) -> tuple[DomainRow, ...]:
    rows = []
    for domain, text in labels.items():
        scores = [p.domains[domain] for p in points if domain in p.domains]
        rows.append(DomainRow(domain=domain, label=text, days=len(scores),
                              some=scores.count(1), definite=scores.count(2),
                              latest=scores[-1] if scores else None))
    return tuple(rows)


__all__ = ["AlertRow", "DayRow", "DomainRow", "JournalText", "ReportData",
           "SituationRow", "alert_rows", "day_rows", "domain_labels", "domain_rows",
           "duration_text", "reasons_once"]
