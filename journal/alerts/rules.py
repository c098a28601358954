"""Risk rules and their pure evaluation: self-report indicators, findings, levels.

The rules themselves are data (journal/risk_rules.toml, read by journal.alerts.rules_file).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from types import MappingProxyType
from typing import Final, Literal, TypeAlias, cast, get_args

from journal.alerts.levels import Level, RuleLevel, highest, level_rank
from journal.checkin.questionnaire import (
    SKIPPED,
    Answer,
    Questionnaire,
    score_item,
)

CheckInStatus: TypeAlias = Literal["completed", "missed"]

Source: TypeAlias = Literal["item", "score", "indicator"]
Comparison: TypeAlias = Literal["equals", "in", "at_least", "at_most"]
SOURCES: Final[tuple[str, ...]] = get_args(Source)
COMPARISONS: Final[tuple[str, ...]] = get_args(Comparison)

# --- the rules --------------------------------------------------------------------------


@dataclass(frozen=True)
class Criterion:
    """One comparison on today's check-in: an answer, an item's score, or an indicator."""

    source: Source
    name: str
    comparison: Comparison
    value: bool | int | str | tuple[str, ...]

    def holds(self, answers: Mapping[str, Answer], ind: Indicators) -> bool:
        actual: Answer | None
        if self.source == "indicator":
            actual = ind.value(self.name)
        elif self.source == "score":
            actual = ind.item_scores.get(self.name)
        else:
            actual = answers.get(self.name)
        if actual is None or actual is SKIPPED:
            return False  # an unanswered or skipped item fires nothing on its own
        if self.comparison == "equals":
            return type(actual) is type(self.value) and actual == self.value
        if self.comparison == "in":
            chosen = actual if isinstance(actual, tuple) else (actual,)
            return any(key in cast(tuple, self.value) for key in chosen)
        if not isinstance(actual, int) or isinstance(actual, bool):
            return False
        threshold = cast(int, self.value)
        return actual >= threshold if self.comparison == "at_least" else actual <= threshold


@dataclass(frozen=True)
class DailyRule:
    """Fires on one day's check-in when its test and every `also` test hold.

    Its overridable threshold is the number in its own test (at_least / at_most).
    """

    id: str
    level: RuleLevel
    reason: str
    test: Criterion
    also: tuple[Criterion, ...] = ()


@dataclass(frozen=True)
class TrendRule:
    """Fires on a change across days.

    falling: today's value is at least `by_at_least` below the highest value of the
    previous `days - 1` days (the window is `days` calendar days, today included).
    Threshold: by_at_least.
    rising: the value rose on each of the last `days` days, compared with the day before
    (so `days + 1` consecutive daily values). Threshold: days.
    """

    id: str
    level: RuleLevel
    reason: str
    source: Literal["item", "indicator"]
    name: str
    direction: Literal["falling", "rising"]
    days: int
    by_at_least: int = 0


@dataclass(frozen=True)
class MissedRule:
    """Fires when the latest `in_a_row` check-ins were all missed. Threshold: in_a_row."""

    id: str
    level: RuleLevel
    reason: str
    in_a_row: int


@dataclass(frozen=True)
class BlockedRule:
    """Fires when the client blocked the bot (Telegram answers 403). No threshold."""

    id: str
    level: RuleLevel
    reason: str


Rule: TypeAlias = DailyRule | TrendRule | MissedRule | BlockedRule


@dataclass(frozen=True)
class RiskRules:
    id: str
    version: int
    questionnaire: str | None  # the questionnaire id the rules were written for
    daily: tuple[DailyRule, ...]
    trends: tuple[TrendRule, ...]
    missed: tuple[MissedRule, ...]
    blocked: tuple[BlockedRule, ...]
    # Fires when staff record that the client did not come to an appointment; the same
    # shape as a blocked rule (id, level, reason). Empty: a no-show raises no alert.
    no_show: tuple[BlockedRule, ...] = ()
    # Reason code -> its label, an English gettext msgid (the file's [reasons] table), so a
    # program adds a rule and its label without code.
    reasons: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    # A client at risk now who asked for their clinician to be told (/now): level, reason.
    help_now: tuple[RuleLevel, str] = ("high", "HELP_NOW")

    def reason_label(self, code: str) -> str:
        """The msgid naming a reason; a code without a label is shown as it is."""
        return self.reasons.get(code, code)

    @property
    def all_rules(self) -> tuple[Rule, ...]:
        return (*self.daily, *self.trends, *self.missed, *self.blocked, *self.no_show)

    def rule(self, rule_id: str) -> Rule:
        for rule in self.all_rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(f"rules {self.id!r} have no rule {rule_id!r}")


# --- what evaluation works on and returns -----------------------------------------------


@dataclass(frozen=True)
class Indicators:
    """Self-report indicators of one check-in (never an ACUTE-2007 score).

    Each roll-up (the questionnaire's [[roll_ups]]) adds the highest item score of each
    domain among its items: with the default check-in sexual_violent 0-8, general 0-14.
    """

    roll_ups: Mapping[str, int]  # roll-up id -> its value
    item_scores: Mapping[str, int]
    domain_scores: Mapping[str, int]

    def value(self, name: str) -> int:
        if name not in self.roll_ups:
            raise KeyError(f"unknown indicator {name!r}")
        return self.roll_ups[name]


@dataclass(frozen=True)
class DaySnapshot:
    """One local day for the rules: the answers (None if the check-in was missed)."""

    local_date: date
    answers: Mapping[str, Answer] | None
    # Stored with the day; when None, computed from the answers with today's questionnaire.
    indicators: Indicators | None = None


@dataclass(frozen=True)
class Finding:
    rule_id: str
    level: RuleLevel
    reason_code: str


@dataclass(frozen=True)
class Assessment:
    level: Level
    findings: tuple[Finding, ...]
    crisis: bool  # show crisis resources to the client now
    indicators: Indicators | None


def indicators(q: Questionnaire, answers: Mapping[str, Answer]) -> Indicators:
    """Item scores and roll-up indicators of one check-in's answers."""
    item_scores: dict[str, int] = {}
    for item in q.items:
        score = score_item(item, answers.get(item.id))
        if score is not None:
            item_scores[item.id] = score
    domain_scores: dict[str, int] = {}
    roll_ups: dict[str, dict[str, int]] = {name: {} for name in q.roll_up_ids}
    for item in q.items:
        if item.id not in item_scores or item.domain is None:
            continue
        score = item_scores[item.id]
        domain_scores[item.domain] = max(domain_scores.get(item.domain, 0), score)
        for name in item.indicators:
            # A domain counts once per indicator, at its highest item, as a rater would.
            per_domain = roll_ups[name]
            per_domain[item.domain] = max(per_domain.get(item.domain, 0), score)
    return Indicators(
        roll_ups=MappingProxyType({name: sum(per_domain.values())
                                   for name, per_domain in roll_ups.items()}),
        item_scores=MappingProxyType(item_scores),
        domain_scores=MappingProxyType(domain_scores),
    )


def snapshot(
    q: Questionnaire, local_date: date, answers: Mapping[str, Answer] | None
) -> DaySnapshot:
    """A day with its indicators computed now, ready to store alongside the answers."""
    return DaySnapshot(local_date, answers, None if answers is None else indicators(q, answers))


def evaluate(
    rules: RiskRules,
    q: Questionnaire,
    today: DaySnapshot,
    history: Sequence[DaySnapshot],
    *,
    overrides: Mapping[str, int] | None = None,
) -> Assessment:
    """Assess a completed check-in against the rules and the previous days (oldest first).

    `overrides` (rule id → threshold) are one client's clinician-set thresholds; one that
    names no rule, or a rule without a threshold, is ignored here so a stale override can
    never stop an assessment (use `check_overrides` when a clinician sets them).
    """
    if today.answers is None:
        raise ValueError("today's check-in has no answers; missed days go to evaluate_missed")
    rules = _with_overrides(rules, overrides)
    answers = today.answers
    today_indicators = indicators(q, answers)
    findings: list[Finding] = []
    for rule in rules.daily:
        tests = (rule.test, *rule.also)
        if all(test.holds(answers, today_indicators) for test in tests):
            findings.append(Finding(rule.id, rule.level, rule.reason))
    by_date = {day.local_date: day for day in history if day.local_date < today.local_date}
    for trend in rules.trends:
        if _trend_fires(trend, q, today, today_indicators, by_date):
            findings.append(Finding(trend.id, trend.level, trend.reason))
    crisis = any(item.crisis and answers.get(item.id) is True for item in q.items) or any(
        finding.level == "critical" for finding in findings
    )
    return _assessment(findings, crisis, today_indicators)


def evaluate_missed(
    rules: RiskRules,
    recent_statuses: Sequence[CheckInStatus],
    *,
    overrides: Mapping[str, int] | None = None,
) -> Assessment:
    """Assess the latest check-in days (oldest first): missed check-ins in a row."""
    for status in recent_statuses:
        if status not in ("completed", "missed"):
            raise ValueError(f"unknown check-in status {status!r}")
    rules = _with_overrides(rules, overrides)
    run = 0
    for status in reversed(recent_statuses):
        if status != "missed":
            break
        run += 1
    findings = [Finding(r.id, r.level, r.reason) for r in rules.missed if run >= r.in_a_row]
    return _assessment(findings, crisis=False, ind=None)


def evaluate_blocked(rules: RiskRules) -> Assessment:
    """Assess a client blocking the bot: it cuts the daily contact, so it alerts at once."""
    findings = [Finding(r.id, r.level, r.reason) for r in rules.blocked]
    return _assessment(findings, crisis=False, ind=None)


def evaluate_no_show(rules: RiskRules) -> Assessment:
    """Assess a recorded no-show: the rules file's [[no_show]] level, or nothing."""
    findings = [Finding(r.id, r.level, r.reason) for r in rules.no_show]
    return _assessment(findings, crisis=False, ind=None)


def check_overrides(rules: RiskRules, overrides: Mapping[str, int]) -> list[str]:
    """Problems with a client's threshold overrides, for the clinician setting them."""
    problems = []
    for rule_id, value in overrides.items():
        try:
            rule = rules.rule(rule_id)
        except KeyError:
            problems.append(f"override {rule_id!r}: no such rule")
            continue
        if not _overridable(rule):
            problems.append(f"override {rule_id!r}: this rule has no threshold")
        elif not isinstance(value, int) or isinstance(value, bool) or value < _lowest(rule):
            problems.append(f"override {rule_id!r}: must be a whole number from {_lowest(rule)}")
    return problems


def threshold_of(rule: Rule) -> int | None:
    """The number a clinician may override for one client, or None for a rule without one
    (a yes/no answer such as self-harm is never tuned away)."""
    if not _overridable(rule):
        return None
    if isinstance(rule, DailyRule):
        return cast(int, rule.test.value)  # at_least / at_most compare with a number
    if isinstance(rule, TrendRule):
        return rule.by_at_least if rule.direction == "falling" else rule.days
    assert isinstance(rule, MissedRule)
    return rule.in_a_row


# --- evaluation internals ---------------------------------------------------------------


def _assessment(findings: list[Finding], crisis: bool, ind: Indicators | None) -> Assessment:
    # Most serious first, so an alert names what matters most; file order otherwise.
    ordered = sorted(findings, key=lambda finding: -level_rank(finding.level))
    level = highest([finding.level for finding in findings])
    return Assessment(level, tuple(ordered), crisis or level == "critical", ind)


def _overridable(rule: Rule) -> bool:
    if isinstance(rule, DailyRule):
        return rule.test.comparison in ("at_least", "at_most")
    return isinstance(rule, TrendRule | MissedRule)


def _lowest(rule: Rule) -> int:
    # Zero days in a row, or a fall of zero points, would fire every day.
    if isinstance(rule, MissedRule | TrendRule):
        return 1
    return 0


def _with_overrides(rules: RiskRules, overrides: Mapping[str, int] | None) -> RiskRules:
    if not overrides:
        return rules
    valid = {
        key: value for key, value in overrides.items() if not check_overrides(rules, {key: value})
    }

    def daily(rule: DailyRule) -> DailyRule:
        if rule.id not in valid:
            return rule
        return replace(rule, test=replace(rule.test, value=valid[rule.id]))

    def trend(rule: TrendRule) -> TrendRule:
        if rule.id not in valid:
            return rule
        if rule.direction == "falling":
            return replace(rule, by_at_least=valid[rule.id])
        return replace(rule, days=valid[rule.id])

    def missed(rule: MissedRule) -> MissedRule:
        return replace(rule, in_a_row=valid[rule.id]) if rule.id in valid else rule

    return replace(
        rules,
        daily=tuple(daily(rule) for rule in rules.daily),
        trends=tuple(trend(rule) for rule in rules.trends),
        missed=tuple(missed(rule) for rule in rules.missed),
    )


def _day_value(
    trend: TrendRule, q: Questionnaire, day: DaySnapshot, ind: Indicators | None = None
) -> int | None:
    if day.answers is None:
        return None
    if trend.source == "indicator":
        ind = ind or day.indicators or indicators(q, day.answers)
        return ind.value(trend.name)
    value = day.answers.get(trend.name)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return None


def _trend_fires(
    trend: TrendRule,
    q: Questionnaire,
    today: DaySnapshot,
    today_indicators: Indicators,
    by_date: Mapping[date, DaySnapshot],
) -> bool:
    now = _day_value(trend, q, today, today_indicators)
    if now is None:
        return False

    def value_on(days_ago: int) -> int | None:
        day = by_date.get(today.local_date - timedelta(days=days_ago))
        return None if day is None else _day_value(trend, q, day)

    if trend.direction == "falling":
        # Calendar days, not list positions, so a gap of a week never compares old values.
        earlier = [v for ago in range(1, trend.days) if (v := value_on(ago)) is not None]
        return bool(earlier) and max(earlier) - now >= trend.by_at_least
    values = [now, *(value_on(ago) for ago in range(1, trend.days + 1))]
    if any(v is None for v in values):
        return False  # a missed day breaks a run; missed days have their own rule
    newest_first = cast(list[int], values)
    return all(newest_first[i] > newest_first[i + 1] for i in range(trend.days))
