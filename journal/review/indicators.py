"""A client's self-report indicators by day, their scales and the thresholds that apply."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta

from journal.alerts.rules import RiskRules, indicators
from journal.checkin.flow import answers_of
from journal.checkin.questionnaire import MAX_SCORE, Answer, Questionnaire
from journal.review.charts import DayPoint, Series, Thresholds
from storage.records import CheckIn, Client, DayStatus
from storage.uow import UnitOfWork


class Indicators:
    """What the summary, the history, the report and the workspace show of the indicators,
    read the same way for all: the roll-ups and scales the questionnaire declares."""

    def __init__(self, questionnaire: Questionnaire, rules: RiskRules) -> None:
        self._q = questionnaire
        self._rules = rules

    @property
    def questionnaire(self) -> Questionnaire:
        return self._q

    def of(self, checkin: CheckIn, answers: Mapping[str, Answer]) -> dict[str, int]:
        """Each roll-up of one check-in (empty when it has none)."""
        names = self._q.roll_up_ids
        scores = checkin.scores or {}
        if names and all(name in scores for name in names):
            return {name: int(scores[name]) for name in names}
        if checkin.status != DayStatus.SUBMITTED or not answers:
            return {}
        try:  # stored before scores were kept: the answers give the same roll-ups
            return dict(indicators(self._q, answers).roll_ups)
        except (KeyError, ValueError):
            return {}

    def domains(self, checkin: CheckIn, answers: Mapping[str, Answer]) -> dict[str, int]:
        """Each domain's own self-report indicator (0..2) of one check-in."""
        stored = (checkin.scores or {}).get("domains")
        if isinstance(stored, dict) and stored:
            return {str(k): int(v) for k, v in stored.items()}
        if checkin.status != DayStatus.SUBMITTED or not answers:
            return {}
        try:
            return dict(indicators(self._q, answers).domain_scores)
        except (KeyError, ValueError):
            return {}

    def points(self, checkins: Sequence[CheckIn], start: date, end: date) -> list[DayPoint]:
        """One point a day from start to end; days without a submitted check-in are empty."""
        by_day = {c.local_date: c for c in checkins if c.status == DayStatus.SUBMITTED and c.state}
        points = []
        day = start
        while day <= end:
            checkin = by_day.get(day)
            if checkin is None:
                points.append(DayPoint(day))
            else:
                assert checkin.state is not None
                answers = answers_of(checkin.state)
                scales = {scale.item: value for scale in self._q.review.scales
                          if (value := _scale(answers, scale.item)) is not None}
                points.append(DayPoint(day, self.of(checkin, answers), scales,
                                       self.domains(checkin, answers)))
            day += timedelta(days=1)
        return points

    def maximum(self, name: str) -> int:
        """The highest score a roll-up can reach with this questionnaire."""
        domains = {item.domain for item in self._q.items
                   if name in item.indicators and item.domain is not None}
        return MAX_SCORE * len(domains) if domains else 10

    async def series(self, uow: UnitOfWork, client: Client, language: str
                     ) -> tuple[tuple[Series, ...], tuple[Series, ...]]:
        """The roll-ups, each against its thresholds with this client's overrides, and the
        charted scales, named in `language`."""
        overrides = await uow.overrides.for_client(client.id)
        roll_ups = tuple(
            Series("roll_up", r.id, r.label.get(language), self.maximum(r.id),
                   self._thresholds(r.id, overrides))
            for r in self._q.roll_ups)
        scales = tuple(Series("scale", s.item, s.label.get(language), self._q.item(s.item).max)
                       for s in self._q.review.scales)
        return roll_ups, scales

    def _thresholds(self, roll_up: str, overrides: Mapping[str, int]) -> Thresholds:
        """Where the rules' daily "at least" tests of a roll-up begin the elevated and the
        high level (the lowest such test of each level)."""
        found: dict[str, int] = {}
        for rule in self._rules.daily:
            test = rule.test
            if (test.source != "indicator" or test.name != roll_up
                    or test.comparison != "at_least" or not isinstance(test.value, int)
                    or rule.also or rule.level not in ("elevated", "high")):
                continue
            value = overrides.get(rule.id, test.value)
            found[rule.level] = min(found.get(rule.level, value), value)
        return Thresholds(found.get("elevated"), found.get("high"))


def _scale(answers: Mapping[str, Answer], item_id: str) -> int | None:
    value = answers.get(item_id)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


__all__ = ["Indicators"]
