"""Risk levels: their names, their order and how each is labelled to a reader, in one place."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final, Literal, TypeAlias, get_args

from journal.i18n import N_

Level: TypeAlias = Literal["low", "elevated", "high", "critical"]
LEVELS: Final[tuple[Level, ...]] = get_args(Level)  # least serious first
RuleLevel: TypeAlias = Literal["elevated", "high", "critical"]  # what a rule may raise
RULE_LEVELS: Final[tuple[RuleLevel, ...]] = get_args(RuleLevel)
ALERT_ORDER: Final[tuple[RuleLevel, ...]] = tuple(reversed(RULE_LEVELS))  # most serious first

# gettext msgids, one way of writing each level: LABELS head a line or a table cell
# ("Critical alert for client ...", "High alert for client ..."); WORDS stand inside a
# sentence ("Latest level: high").
LABELS: Final[Mapping[str, str]] = {
    "low": N_("Low"), "elevated": N_("Elevated"), "high": N_("High"), "critical": N_("Critical")}
WORDS: Final[Mapping[str, str]] = {
    "low": N_("low"), "elevated": N_("elevated"), "high": N_("high"), "critical": N_("critical")}


def level_rank(level: Level) -> int:
    return LEVELS.index(level)


def highest(levels: Sequence[Level]) -> Level:
    """The most serious level; low when there is none."""
    return max(levels, key=level_rank, default="low")


def label(level: str, labels: Mapping[str, str] = LABELS) -> str:
    """The msgid naming `level`; an unknown stored level is shown as it is."""
    return labels.get(level, level)


__all__ = ["ALERT_ORDER", "LABELS", "LEVELS", "RULE_LEVELS", "WORDS", "Level",
           "RuleLevel", "highest", "label", "level_rank"]
