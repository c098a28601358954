"""What a session goes through day by day, read from decrypted check-ins and alerts: each
ACUTE-2007 domain's indicator, the lapses, small decisions, good-life steps and self-harm
answers, the high-risk situations beside the coping used, and each alert with who
acknowledged it, how fast and their note.

Plain values in the viewer's language; the page (and any other view) lays them out."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Final

from journal.alerts.rules import indicators as score_answers
from journal.checkin.flow import answers_of, render_answer
from journal.checkin.questionnaire import Answer, Questionnaire
from journal.i18n import N_, gettext_for
from storage.records import Alert, CheckIn

# The seven ACUTE-2007 domains a check-in item may name, as a clinician reads them. The
# check-in gives self-report indicators per domain, never an ACUTE-2007 rating.
DOMAIN_LABELS: Final = {
    "access_to_victims": N_("Victim access"),
    "hostility": N_("Hostility"),
    "sexual_preoccupation": N_("Sexual preoccupation"),
    "rejection_of_supervision": N_("Rejection of supervision"),
    "emotional_collapse": N_("Emotional collapse"),
    "collapse_of_social_supports": N_("Collapse of social supports"),
    "substance_abuse": N_("Substance abuse"),
}


def domains_of(q: Questionnaire) -> tuple[str, ...]:
    """The domains this questionnaire scores, in the order its items ask about them."""
    seen: dict[str, None] = {}
    for item in q.items:
        if item.domain is not None and item.scored:
            seen.setdefault(item.domain, None)
    return tuple(seen)


def domain_series(checkins: Sequence[CheckIn], q: Questionnaire, start: date, end: date
                  ) -> dict[str, tuple[int | None, ...]]:
    """Each domain's score (0-2) every day from start to end; None without a check-in.

    The scores kept with each check-in are read first, so a questionnaire changed since
    does not rewrite history; an older check-in without them is scored from its answers."""
    by_day = {c.local_date: c for c in checkins if c.status == "submitted" and c.state}
    names = domains_of(q)
    series: dict[str, list[int | None]] = {name: [] for name in names}
    day = start
    while day <= end:
        checkin = by_day.get(day)
        scores: Mapping[str, int] = {}
        if checkin is not None:
            kept = (checkin.scores or {}).get("domains")
            if isinstance(kept, dict):
                scores = {k: int(v) for k, v in kept.items()}
            else:
                assert checkin.state is not None
                try:
                    scores = score_answers(q, answers_of(checkin.state)).domain_scores
                except (KeyError, ValueError):
                    scores = {}
        for name in names:
            series[name].append(scores.get(name) if checkin is not None else None)
        day += timedelta(days=1)
    return {name: tuple(values) for name, values in series.items()}


@dataclass(frozen=True)
class DayRow:
    """One submitted check-in's answers a session goes through, in words."""

    day: date
    lapse: bool | None = None
    blown_it: int | None = None  # "I've blown it" feeling after a lapse, 0-10
    small_decisions: tuple[str, ...] = ()
    good_life: tuple[str, ...] = ()
    self_harm: bool | None = None
    note: str | None = None  # the check-in's journal note


@dataclass(frozen=True)
class Situation:
    """A high-risk situation and what the client did about it."""

    day: date
    happened: str | None
    coping: tuple[str, ...]
    worked: int | None  # how well the coping steps worked, 0-10
    lapse: bool


def _labels(q: Questionnaire, item_id: str, value: Answer | None, language: str,
            plan: Sequence[str]) -> tuple[str, ...]:
    """The options chosen in a multi item, each on its own."""
    if not q.has_item(item_id) or not isinstance(value, tuple):
        return ()
    item = q.item(item_id)
    return tuple(render_answer(item, (key,), language, plan) for key in value)


def _int(value: Answer | None) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _text(value: Answer | None) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def day_rows(checkins: Sequence[CheckIn], q: Questionnaire, plan: Sequence[str],
             language: str) -> tuple[list[DayRow], list[Situation]]:
    """The answers of each submitted check-in, newest first, and its high-risk situation."""
    crisis = [item.id for item in q.items if item.crisis and item.kind == "yesno"]
    rows: list[DayRow] = []
    situations: list[Situation] = []
    for checkin in sorted(checkins, key=lambda c: c.local_date, reverse=True):
        if checkin.status != "submitted" or not checkin.state:
            continue
        answers = answers_of(checkin.state)
        decisions = _labels(q, "suds", answers.get("suds"), language, plan)
        other = _text(answers.get("suds_other"))
        if other is not None:
            decisions = tuple(d for d in decisions
                              if d != render_answer(q.item("suds"), ("other",), language, plan)
                              ) + (other,)
        harm = [answers[i] for i in crisis if isinstance(answers.get(i), bool)]
        lapse = answers.get("lapse")
        rows.append(DayRow(
            day=checkin.local_date, lapse=lapse if isinstance(lapse, bool) else None,
            blown_it=_int(answers.get("blown_it")), small_decisions=decisions,
            good_life=_labels(q, "good_life", answers.get("good_life"), language, plan),
            self_harm=any(harm) if harm else None, note=_text(answers.get("journal_note"))))
        if answers.get("high_risk") is True:
            situations.append(Situation(
                day=checkin.local_date, happened=_text(answers.get("high_risk_detail")),
                coping=_labels(q, "coping_steps", answers.get("coping_steps"), language, plan),
                worked=_int(answers.get("coping_effect")), lapse=lapse is True))
    return rows, situations


@dataclass(frozen=True)
class AlertRow:
    """One alert as a session reviews it: why (each reason once), and how it was handled."""

    id: str
    at: datetime
    level: str
    reasons: tuple[str, ...]  # translated, in the order the rules found them
    status: str  # open | acknowledged
    acknowledged_at: datetime | None
    acknowledged_by: str | None  # the staff member's name
    took: timedelta | None  # from the alert to its acknowledgement
    note: str | None
    escalations: int


def reasons_once(codes: Sequence[str], label: Callable[[str], str], language: str
                 ) -> tuple[str, ...]:
    """Each reason's words once: several rules (elevated and high of one indicator) may
    give the same reason, and a reader should not read it twice."""
    return tuple(dict.fromkeys(gettext_for(language, label(code))
                               for code in dict.fromkeys(codes)))


def alert_rows(alerts: Sequence[Alert], names: Mapping[int, str],
               label: Callable[[str], str], language: str) -> list[AlertRow]:
    """Newest first; `names` maps a staff id to their name."""
    rows = []
    for alert in sorted(alerts, key=lambda a: a.created_at, reverse=True):
        codes = [str(c) for c in alert.detail.get("reasons", [])]
        ack = alert.acknowledged_at
        rows.append(AlertRow(
            id=alert.id, at=alert.created_at, level=alert.level,
            reasons=reasons_once(codes, label, language), status=alert.status,
            acknowledged_at=ack,
            acknowledged_by=(names.get(alert.acknowledged_by, "-")
                             if alert.acknowledged_by is not None else None),
            took=(ack - alert.created_at) if ack is not None else None,
            note=alert.ack_note, escalations=alert.escalations))
    return rows


def duration_text(took: timedelta, language: str) -> str:
    """"2 h and 05 min", "35 min", "3 d and 4 h": how long an acknowledgement took."""
    minutes = max(0, int(took.total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    t = lambda message: gettext_for(language, message)  # noqa: E731
    if days:
        return t(N_("{d} d and {h} h")).format(d=days, h=hours)
    if hours:
        return t(N_("{h} h and {m} min")).format(h=hours, m=f"{minutes:02d}")
    return t(N_("{m} min")).format(m=minutes)


__all__ = ["DOMAIN_LABELS", "AlertRow", "DayRow", "Situation", "alert_rows", "day_rows",
           "domain_series", "domains_of", "duration_text", "reasons_once"]
