"""Which way each roll-up moved, for the caseload: the last seven days' mean against the
seven before, in the client's own days.

The caseload's ordering and counts come from plaintext columns (journal/review/caseload.py);
the roll-ups are sealed with the answers, so reading them opens the last two weeks of each
client's check-ins. The page writes one audit event for that, as the chat does for a view
of decrypted data, and keeps nothing but the three words."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import fmean
from typing import Final

from journal.checkin.questionnaire import Questionnaire
from journal.i18n import N_
from journal.people import actor_of
from journal.review.caseload import CaseloadEntry
from journal.review.indicators import Indicators
from storage.records import Clinician
from storage.uow import UnitOfWork

WINDOW: Final = 7
STEADY: Final = 0.1  # a change under a tenth of the scale reads as steady
WORDS: Final = {"up": N_("rising"), "down": N_("falling"), "steady": N_("steady")}
ARROWS: Final = {"up": "↑", "down": "↓", "steady": "→"}


@dataclass(frozen=True)
class Trend:
    """Per roll-up: "up", "down", "steady", or None (too few check-ins to say)."""

    by_roll_up: dict[str, str | None]


def direction(recent: Sequence[int], before: Sequence[int], scale: int) -> str | None:
    if not recent or not before:
        return None
    change = fmean(recent) - fmean(before)
    if abs(change) < STEADY * max(scale, 1):
        return "steady"
    return "up" if change > 0 else "down"


def roll_up_names(questionnaire: Questionnaire, language: str) -> list[tuple[str, str]]:
    """Each roll-up's id and its name in `language`, in the questionnaire's order."""
    return [(r.id, r.label.get(language)) for r in questionnaire.roll_ups]


async def trends(uow: UnitOfWork, indicators: Indicators, entries: Sequence[CaseloadEntry],
                 viewer: Clinician, now: datetime) -> dict[str, Trend]:
    found: dict[str, Trend] = {}
    names = indicators.questionnaire.roll_up_ids  # the questionnaire's [[roll_ups]]
    scales = {name: indicators.maximum(name) for name in names}
    for entry in entries:
        start = entry.today - timedelta(days=2 * WINDOW - 1)
        checkins = await uow.checkins.recent(entry.client.id, since=start, until=entry.today)
        points = indicators.points(checkins, start, entry.today)
        split = len(points) - WINDOW
        by_roll_up: dict[str, str | None] = {}
        for name in names:
            values = [p.roll_ups.get(name) for p in points]
            by_roll_up[name] = direction([v for v in values[split:] if v is not None],
                                         [v for v in values[:split] if v is not None],
                                         scales[name])
        found[entry.client.id] = Trend(by_roll_up)
    if entries:
        await uow.audit(at=now, actor=actor_of(viewer), action="caseload.trends",
                        detail=f"clients: {len(entries)}")
    return found
