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
from storage.records import CheckIn, DayStatus


@dataclass(frozen=True)
class Situation:
    """A high-risk situation and what the client did about it."""

    day: date
    happened: str | None
    coping: tuple[str, ...]  # each coping step used, in words
    worked: int | None  # how well the coping steps worked, 0-10
    lapse: bool
    coping_answer: str | None = None  # the coping answer as one text (None: not asked)


def _text(value: Answer | None) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def situations(checkins: Sequence[CheckIn], q: Questionnaire, plan: Sequence[str],
               language: str) -> list[Situation]:
    """The high-risk days among the submitted check-ins, newest first (the questionnaire's
    [review] parts say which items tell of them)."""
    review = q.review
    used = review.item("coping_used")
    found = []
    for checkin in sorted(checkins, key=lambda c: c.local_date, reverse=True):
        if checkin.status != DayStatus.SUBMITTED or not checkin.state:
            continue
        answers = answers_of(checkin.state)
        if review.answer(answers, "situation") is not True:
            continue
        steps = review.answer(answers, "coping_used")
        coping: tuple[str, ...] = ()
        answer = None
        if used is not None and steps is not None:
            item = q.item(used)
            answer = render_answer(item, steps, language, plan)
            if isinstance(steps, tuple):
                coping = tuple(render_answer(item, (key,), language, plan) for key in steps)
        worked = review.answer(answers, "coping_effect")
        found.append(Situation(
            day=checkin.local_date, happened=_text(review.answer(answers, "situation_detail")),
            coping=coping,
            worked=worked if isinstance(worked, int) and not isinstance(worked, bool) else None,
            lapse=review.answer(answers, "lapse") is True, coping_answer=answer))
    return found


def checkin_note(checkin: CheckIn, q: Questionnaire) -> str | None:
    """A submitted check-in's journal note, if it has one."""
    if checkin.status != DayStatus.SUBMITTED or not checkin.state:
        return None
    return _text(q.review.answer(answers_of(checkin.state), "note"))


def checkin_notes(checkins: Sequence[CheckIn], q: Questionnaire) -> dict[date, str]:
    """Each submitted check-in's journal note, by day."""
    return {checkin.local_date: note for checkin in checkins
            if (note := checkin_note(checkin, q)) is not None}


def domain_series(points: Sequence[DayPoint], domains: Sequence[str]
                  ) -> dict[str, tuple[int | None, ...]]:
    """Each domain's indicator (0-2) every day of `points`; None without a check-in."""
    return {name: tuple(_score(p.domains, name) for p in points) for name in domains}


def _score(scores: Mapping[str, int], name: str) -> int | None:
    return scores.get(name) if scores else None


__all__ = ["Situation", "checkin_note", "checkin_notes", "domain_series", "situations"]
