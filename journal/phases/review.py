"""What the review shows of phases and ratings, as plain values (pure: the report's worker
unpickles these, so nothing here imports storage)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from journal.i18n import N_

# Labels the page and the PDF share: indicators and judgement, never a scored assessment.
RATING_HEADING: Final = N_("Self-report beside the clinician's rating")
RATING_CAPTION: Final = N_("Indicators from the client's own check-ins (the month's average, "
                           "0 none, 1 some, 2 definite) beside the clinician's judgement of "
                           "the same areas. Not a scored assessment: a difference is "
                           "something to talk about in session.")
DISAGREE: Final = N_("Talk about in session")
NOT_RATED: Final = N_("Not rated yet")
PHASE_HEADING: Final = N_("Treatment phase")
DISAGREEMENT: Final = 2  # ratings this far apart (0 against 2) are flagged


@dataclass(frozen=True)
class DomainComparison:
    domain: str
    label: str
    self_report: int | None  # the month's self-report indicator: its days' average, rounded
    days: int  # days scored in the month
    rating: int | None  # the clinician's latest rating
    disagree: bool


def month_self_report(values: Sequence[int | None]) -> tuple[int | None, int]:
    """(the average of the days scored, rounded half up; the number of days scored)."""
    scored = [v for v in values if v is not None]
    if not scored:
        return None, 0
    return int(sum(scored) / len(scored) + 0.5), len(scored)


def compare(labels: Mapping[str, str], month: Mapping[str, Sequence[int | None]],
            rating: Mapping[str, int] | None) -> tuple[DomainComparison, ...]:
    """Each domain's month of self-report beside the clinician's rating; a disagreement
    (self-report low and the rating high, or the reverse) is flagged."""
    rows = []
    for domain, label in labels.items():
        own, days = month_self_report(month.get(domain, ()))
        rated = rating.get(domain) if rating else None
        rows.append(DomainComparison(
            domain=domain, label=label, self_report=own, days=days, rating=rated,
            disagree=own is not None and rated is not None
            and abs(own - rated) >= DISAGREEMENT))
    return tuple(rows)


@dataclass(frozen=True)
class TimelineRow:
    at: datetime  # the viewer's zone
    direction: str  # down | up
    start: str  # phase names, translated
    end: str
    why: str  # translated: approved by, the rule, the clinician's reason


@dataclass(frozen=True)
class CriterionRow:
    text: str
    met: bool


@dataclass(frozen=True)
class PhaseReview:
    """The client's path: their phase, days in it, the next step's criteria, the timeline,
    proposals awaiting approval, and the latest rating."""

    phase: str
    number: int
    count: int
    days_in_phase: int
    next: str | None
    criteria: tuple[CriterionRow, ...]
    ready: bool
    awaiting_approval: bool
    timeline: tuple[TimelineRow, ...]
    comparisons: tuple[DomainComparison, ...]
    rated_at: datetime | None  # the viewer's zone
    rating_note: str
    rating_overdue: bool

    @property
    def disagreements(self) -> int:
        return sum(c.disagree for c in self.comparisons)


__all__ = ["DISAGREE", "NOT_RATED", "PHASE_HEADING", "RATING_CAPTION", "RATING_HEADING",
           "CriterionRow", "DomainComparison", "PhaseReview", "TimelineRow", "compare",
           "month_self_report"]
