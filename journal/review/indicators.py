"""A client's self-report indicators by day, their scales and the thresholds that apply."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta

from journal.alerts.rules import DailyRule, RiskRules, indicators
from journal.checkin.flow import answers_of
from journal.checkin.questionnaire import INDICATOR_NAMES, MAX_SCORE, Answer, Questionnaire
from journal.review.charts import DayPoint, Thresholds
from storage.records import CheckIn, Client
from storage.uow import UnitOfWork


class Indicators:
    """What the summary, the history and the report show of the indicators, read the same
    way for all three."""

    def __init__(self, questionnaire: Questionnaire, rules: RiskRules) -> None:
        self._q = questionnaire
        self._rules = rules

    @property
    def questionnaire(self) -> Questionnaire:
        return self._q

    def of(self, checkin: CheckIn, answers: Mapping[str, Answer]
           ) -> tuple[int | None, int | None]:
        """The sexual/violent and the general indicator of one check-in."""
        scores = checkin.scores or {}
        if "sexual_violent" in scores and "general" in scores:
            return int(scores["sexual_violent"]), int(scores["general"])
        if checkin.status != "submitted" or not answers:
            return None, None
        try:  # stored before scores were kept: the answers give the same roll-ups
            ind = indicators(self._q, answers)
        except (KeyError, ValueError):
            return None, None
        return ind.sexual_violent, ind.general

    def domains(self, checkin: CheckIn, answers: Mapping[str, Answer]) -> dict[str, int]:
        """Each ACUTE-2007 domain's own self-report indicator (0..2) of one check-in."""
        stored = (checkin.scores or {}).get("domains")
        if isinstance(stored, dict) and stored:
            return {str(k): int(v) for k, v in stored.items()}
        if checkin.status != "submitted" or not answers:
            return {}
        try:
            return dict(indicators(self._q, answers).domain_scores)
        except (KeyError, ValueError):
            return {}

    def points(self, checkins: Sequence[CheckIn], start: date, end: date) -> list[DayPoint]:
        """One point a day from start to end; days without a submitted check-in are empty."""
        by_day = {c.local_date: c for c in checkins if c.status == "submitted" and c.state}
        points = []
        day = start
        while day <= end:
            checkin = by_day.get(day)
            if checkin is None:
                points.append(DayPoint(day))
            else:
                assert checkin.state is not None
                answers = answers_of(checkin.state)
                sv, general = self.of(checkin, answers)
                points.append(DayPoint(day, sv, general, _scale(answers, "confidence"),
                                       _scale(answers, "coping"),
                                       _scale(answers, "coping_effect"),
                                       self.domains(checkin, answers)))
            day += timedelta(days=1)
        return points

    def maximum(self, name: str) -> int:
        """The highest score an indicator can reach with this questionnaire."""
        domains = {item.domain for item in self._q.items
                   if name in item.indicators and item.domain is not None}
        return MAX_SCORE * len(domains) if name in INDICATOR_NAMES and domains else 10

    async def thresholds(self, uow: UnitOfWork, client: Client
                         ) -> tuple[Thresholds, Thresholds]:
        """The rules' indicator thresholds, with this client's overrides applied."""
        overrides = await uow.overrides.for_client(client.id)

        def value(rule_id: str) -> int | None:
            try:
                rule = self._rules.rule(rule_id)
            except KeyError:
                return None
            if not isinstance(rule, DailyRule) or not isinstance(rule.test.value, int):
                return None
            return overrides.get(rule_id, rule.test.value)

        return (Thresholds(value("sexual_violent_elevated"), value("sexual_violent_high")),
                Thresholds(value("general_elevated"), value("general_high")))


def _scale(answers: Mapping[str, Answer], item_id: str) -> int | None:
    value = answers.get(item_id)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


__all__ = ["Indicators"]
