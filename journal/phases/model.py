"""The program's treatment phases as plain values: pure, no storage, no Telegram."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, Literal

from journal.alerts.levels import LEVELS, RuleLevel
from journal.checkin.questionnaire import Localized

# The named day sets a phase may use, as weekday digits (Monday 0), beside /schedule's own.
DAY_SETS: Final[Mapping[str, str]] = {
    "every_day": "0123456",
    "weekdays": "01234",
    "three_days": "024",  # Monday, Wednesday, Friday
    "one_day": "2",       # Wednesday
}
StepTo = Literal["previous", "first"]


@dataclass(frozen=True)
class StepDown:
    """What moving on from a phase asks; None: not asked."""

    min_days: int | None = None
    min_adherence: float | None = None
    no_alert_at_or_above: RuleLevel | None = None
    no_alert_days: int | None = None
    plan_reviewed_days: int | None = None
    rating_at_most: int | None = None


@dataclass(frozen=True)
class Phase:
    id: str
    name: Localized
    days: str  # weekday digits
    reminder: bool
    thresholds: Mapping[str, int]
    sections: tuple[str, ...] | None  # None: every section
    officer_report_days: int
    step_down: StepDown | None  # None: the last phase


@dataclass(frozen=True)
class StepUp:
    alert_at_or_above: RuleLevel | None
    alert_reasons: frozenset[str]
    to: StepTo = "previous"


@dataclass(frozen=True)
class Phases:
    id: str
    version: int
    phases: tuple[Phase, ...]
    step_up: StepUp = field(default_factory=lambda: StepUp(None, frozenset()))

    @property
    def first(self) -> Phase:
        return self.phases[0]

    def of(self, phase_id: str | None) -> Phase:
        """A client's phase by its stored id; None or an id the file no longer has: the
        first (the most control), so a renamed phase never loosens anyone's schedule."""
        for phase in self.phases:
            if phase.id == phase_id:
                return phase
        return self.first

    def index(self, phase_id: str | None) -> int:
        return self.phases.index(self.of(phase_id))

    def next_after(self, phase_id: str | None) -> Phase | None:
        at = self.index(phase_id)
        return self.phases[at + 1] if at + 1 < len(self.phases) else None

    def step_up_from(self, phase_id: str | None) -> Phase | None:
        """Where a step up lands, or None when already in the first phase."""
        at = self.index(phase_id)
        if at == 0:
            return None
        return self.first if self.step_up.to == "first" else self.phases[at - 1]

    def steps_up_on(self, level: str, reasons: list[str]) -> bool:
        """Whether an alert of `level` with `reasons` steps a client up by rule."""
        rule = self.step_up
        if (rule.alert_at_or_above is not None and level in LEVELS
                and LEVELS.index(level) >= LEVELS.index(rule.alert_at_or_above)):
            return True
        return any(r in rule.alert_reasons for r in reasons)


__all__ = ["DAY_SETS", "Phase", "Phases", "StepDown", "StepTo", "StepUp"]
