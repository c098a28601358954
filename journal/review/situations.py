"""What the client page reads beside the shared review model (journal/review/model.py):
each high-risk situation with the coping used and how well it worked as separate values
(the report joins them into one cell), each day's check-in note, and each ACUTE-2007
domain's indicator as one series a day, ready for a chart.

Plain values in the viewer's language, from decrypted check-ins; the page lays them out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from journal.checkin.flow import answers_of, render_answer
from journal.checkin.questionnaire import Answer, Questionnaire
from journal.review.charts import DayPoint
from storage.records import CheckIn


@dataclass(frozen=True)
class Situation:
    """A high-risk situation and what the client did about it."""

    day: date
    happened: str | None
    coping: tuple[str, ...]
    worked: int | None  # how well the coping steps worked, 0-10
    lapse: bool


def _text(value: Answer | None) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def situations(checkins: Sequence[CheckIn], q: Questionnaire, plan: Sequence[str],
               language: str) -> list[Situation]:
    """The high-risk days among the submitted check-ins, newest first."""
    found = []
    for checkin in sorted(checkins, key=lambda c: c.local_date, reverse=True):
        if checkin.status != "submitted" or not checkin.state:
            continue
        answers = answers_of(checkin.state)
        if answers.get("high_risk") is not True:
            continue
        steps = answers.get("coping_steps")
        coping: tuple[str, ...] = ()
        if isinstance(steps, tuple) and q.has_item("coping_steps"):
            item = q.item("coping_steps")
            coping = tuple(render_answer(item, (key,), language, plan) for key in steps)
        worked = answers.get("coping_effect")
        found.append(Situation(
            day=checkin.local_date, happened=_text(answers.get("high_risk_detail")),
            coping=coping,
            worked=worked if isinstance(worked, int) and not isinstance(worked, bool) else None,
            lapse=answers.get("lapse") is True))
    return found


def checkin_notes(checkins: Sequence[CheckIn]) -> dict[date, str]:
    """Each submitted check-in's journal note, by day."""
    notes = {}
    for checkin in checkins:
        if checkin.status == "submitted" and checkin.state:
            note = _text(answers_of(checkin.state).get("journal_note"))
            if note is not None:
                notes[checkin.local_date] = note
    return notes


def domain_series(points: Sequence[DayPoint], domains: Sequence[str]
                  ) -> dict[str, tuple[int | None, ...]]:
    """Each domain's indicator (0-2) every day of `points`; None without a check-in."""
    return {name: tuple(_score(p.domains, name) for p in points) for name in domains}


def _score(scores: Mapping[str, int], name: str) -> int | None:
    return scores.get(name) if scores else None


__all__ = ["Situation", "checkin_notes", "domain_series", "situations"]
