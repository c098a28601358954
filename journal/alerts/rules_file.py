"""The risk rules file (journal/risk_rules.toml or a program's own): reading and validation."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, Literal, cast

from journal.alerts.levels import RULE_LEVELS, RuleLevel
from journal.alerts.rules import (
    COMPARISONS,
    SOURCES,
    BlockedRule,
    Comparison,
    Criterion,
    DailyRule,
    MissedRule,
    RiskRules,
    Rule,
    Source,
    TrendRule,
)
from journal.checkin.questionnaire import Item, Questionnaire
from journal.checkin.questionnaire_file import (
    DataFileError,
    file_version,
    is_whole_number,
    read_data_file,
    value_fits,
)

DEFAULT_FILE: Final = "risk_rules.toml"
RULE_ID: Final = re.compile(r"[a-z0-9_]{1,40}")
REASON_CODE: Final = re.compile(r"[A-Z][A-Z0-9_]{1,39}")


class RiskRulesError(DataFileError):
    """The risk rules file is not valid."""



def load_rules(
    path: Path | None = None, *, questionnaire: Questionnaire | None = None
) -> RiskRules:
    """Read and validate a rules file (None: the packaged default).

    With `questionnaire`, every item the rules name is checked against it as well.
    """
    data = read_data_file(path, DEFAULT_FILE, RiskRulesError, "risk rules")
    return parse_rules(data, questionnaire=questionnaire)


def parse_rules(
    data: Mapping[str, Any], *, questionnaire: Questionnaire | None = None
) -> RiskRules:
    """Validate rules data (as read from TOML); raises with every problem found."""
    return _RulesParser(questionnaire).rules(data)


_SECTIONS: Final = ("daily", "trend", "missed", "blocked", "no_show")
_COMMON_KEYS: Final = frozenset({"id", "level", "reason"})
_TEST_KEYS: Final = frozenset(SOURCES) | frozenset(COMPARISONS)


class _RulesParser:
    def __init__(self, q: Questionnaire | None) -> None:
        self.q = q
        self.problems: list[str] = []

    def rules(self, data: Mapping[str, Any]) -> RiskRules:
        for key in sorted(set(data) - {"id", "version", "questionnaire", "reasons", "help_now",
                                       *_SECTIONS}):
            self.problems.append(f"unknown top-level key {key!r}")
        rules_id = data.get("id")
        if not isinstance(rules_id, str) or not rules_id:
            self.problems.append("rules id must be a non-empty string")
            rules_id = ""
        version = file_version(data, self.problems)
        for_questionnaire = data.get("questionnaire")
        if for_questionnaire is not None and not isinstance(for_questionnaire, str):
            self.problems.append("questionnaire must be a questionnaire id")
            for_questionnaire = None
        if self.q is not None and for_questionnaire not in (None, self.q.id):
            self.problems.append(
                f"rules are written for questionnaire {for_questionnaire!r}, not {self.q.id!r}"
            )

        seen: set[str] = set()
        parsed: dict[str, list[Any]] = {section: [] for section in _SECTIONS}
        for section in _SECTIONS:
            entries = data.get(section, [])
            if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
                self.problems.append(f"[[{section}]] must be a list of tables")
                continue
            for index, entry in enumerate(entries):
                rule = self.rule(section, index, entry)
                if rule is None:
                    continue
                if rule.id in seen:
                    self.problems.append(f"rule {rule.id!r}: duplicate id")
                    continue
                seen.add(rule.id)
                parsed[section].append(rule)
        reasons = self.reasons(data.get("reasons", {}))
        help_now = self.help_now(data.get("help_now", {}))
        if self.problems:
            raise RiskRulesError(self.problems)
        return RiskRules(
            id=rules_id,
            version=version,
            questionnaire=for_questionnaire,
            daily=tuple(parsed["daily"]),
            trends=tuple(parsed["trend"]),
            missed=tuple(parsed["missed"]),
            blocked=tuple(parsed["blocked"]),
            no_show=tuple(parsed["no_show"]),
            reasons=MappingProxyType(reasons),
            help_now=help_now,
        )

    def help_now(self, raw: object) -> tuple[RuleLevel, str]:
        """[help_now]: the level and reason of the alert a client at risk asks for."""
        if not isinstance(raw, dict):
            self.problems.append("[help_now] must be a table with level and reason")
            return ("high", "HELP_NOW")
        for key in sorted(set(raw) - {"level", "reason"}):
            self.problems.append(f"[help_now] unknown key {key!r}")
        level = raw.get("level", "high")
        if level not in RULE_LEVELS:
            self.problems.append("[help_now] level must be elevated, high or critical")
        reason = raw.get("reason", "HELP_NOW")
        if not isinstance(reason, str) or not REASON_CODE.fullmatch(reason):
            self.problems.append("[help_now] reason must be a code like HELP_NOW")
        return (cast(RuleLevel, level), str(reason))

    def reasons(self, raw: object) -> dict[str, str]:
        """[reasons]: code = "English label" (a gettext msgid; i18n_tools extracts it)."""
        if not isinstance(raw, dict):
            self.problems.append("[reasons] must be a table of CODE = \"label\"")
            return {}
        labels = {}
        for code, text in raw.items():
            if not REASON_CODE.fullmatch(code):
                self.problems.append(f"reason {code!r}: must be a code like VICTIM_ACCESS")
            elif not isinstance(text, str) or not text.strip():
                self.problems.append(f"reason {code!r}: its label must be a non-empty text")
            else:
                labels[code] = text
        return labels

    def rule(self, section: str, index: int, raw: Mapping[str, Any]) -> Rule | None:
        rule_id = raw.get("id")
        if not isinstance(rule_id, str) or not RULE_ID.fullmatch(rule_id):
            self.problems.append(f"{section} rule #{index + 1}: id must match [a-z0-9_]{{1,40}}")
            return None
        name = f"rule {rule_id!r}"
        level = raw.get("level")
        if level not in RULE_LEVELS:
            self.problems.append(f"{name}: level must be elevated, high or critical")
        reason = raw.get("reason")
        if not isinstance(reason, str) or not REASON_CODE.fullmatch(reason):
            self.problems.append(f"{name}: reason must be a code like VICTIM_ACCESS")
        if isinstance(reason, str) and "ACUTE" in reason:
            # Self-report answers are indicators, never an ACUTE-2007 score.
            self.problems.append(f"{name}: reason must not present indicators as ACUTE scores")
        level, reason = cast(RuleLevel, level), cast(str, reason)

        if section == "daily":
            self.unknown_keys(raw, name, _COMMON_KEYS | _TEST_KEYS | {"also"})
            test = self.test(raw, name)
            also: list[Criterion] = []
            raw_also = raw.get("also", [])
            if not isinstance(raw_also, list) or not all(isinstance(t, dict) for t in raw_also):
                self.problems.append(f"{name}: also must be a list of tests")
                raw_also = []
            for raw_test in raw_also:
                self.unknown_keys(raw_test, f"{name} also", _TEST_KEYS)
                extra = self.test(raw_test, f"{name} also")
                if extra is not None:
                    also.append(extra)
            if test is None:
                return None
            return DailyRule(rule_id, level, reason, test, tuple(also))
        if section == "trend":
            return self.trend(raw, name, rule_id, level, reason)
        if section == "missed":
            self.unknown_keys(raw, name, _COMMON_KEYS | {"in_a_row"})
            in_a_row = raw.get("in_a_row")
            if not is_whole_number(in_a_row) or in_a_row < 1:
                self.problems.append(f"{name}: in_a_row must be a whole number from 1")
                return None
            return MissedRule(rule_id, level, reason, in_a_row)
        self.unknown_keys(raw, name, _COMMON_KEYS)
        return BlockedRule(rule_id, level, reason)

    def unknown_keys(self, raw: Mapping[str, Any], name: str, known: frozenset[str]) -> None:
        for key in sorted(set(raw) - known):
            self.problems.append(f"{name}: unknown key {key!r}")

    def test(self, raw: Mapping[str, Any], name: str) -> Criterion | None:
        sources = [key for key in SOURCES if key in raw]
        comparisons = [key for key in COMPARISONS if key in raw]
        if len(sources) != 1 or len(comparisons) != 1:
            self.problems.append(
                f"{name}: a test needs one of item, score, indicator and one of "
                "equals, in, at_least, at_most"
            )
            return None
        source, comparison = cast(Source, sources[0]), cast(Comparison, comparisons[0])
        target, value = raw[source], raw[comparison]
        if not isinstance(target, str):
            self.problems.append(f"{name}: {source} must name an item or indicator")
            return None
        if comparison == "in":
            if (
                not isinstance(value, list)
                or not value
                or not all(isinstance(v, str) for v in value)
            ):
                self.problems.append(f"{name}: in must be a non-empty list of option keys")
                return None
            value = tuple(value)
        elif comparison in ("at_least", "at_most") and not is_whole_number(value):
            self.problems.append(f"{name}: {comparison} must be a whole number")
            return None
        test = Criterion(source, target, comparison, value)
        self.check_test(test, name)
        return test

    def check_indicator(self, indicator: str, name: str) -> None:
        """A roll-up of the questionnaire (any name when the rules are read without one)."""
        if self.q is not None and indicator not in self.q.roll_up_ids:
            known = ", ".join(self.q.roll_up_ids) or "none"
            self.problems.append(f"{name}: unknown indicator {indicator!r} (known: {known})")

    def check_test(self, test: Criterion, name: str) -> None:
        if test.source == "indicator":
            self.check_indicator(test.name, name)
            if test.comparison not in ("at_least", "at_most"):
                self.problems.append(f"{name}: an indicator is compared with at_least or at_most")
            return
        item = self.item(test.name, name)
        if item is None:
            return
        if test.source == "score":
            if not item.scored:
                self.problems.append(f"{name}: item {item.id!r} has no score")
            if test.comparison == "in" or not is_whole_number(test.value):
                self.problems.append(f"{name}: a score is compared with a whole number")
            return
        if not _answer_test_fits(item, test):
            self.problems.append(
                f"{name}: {test.comparison} {test.value!r} does not fit {item.kind} item {item.id!r}"
            )

    def item(self, item_id: str, name: str) -> Item | None:
        if self.q is None:
            return None
        if not self.q.has_item(item_id):
            self.problems.append(f"{name}: unknown item {item_id!r}")
            return None
        return self.q.item(item_id)

    def trend(
        self, raw: Mapping[str, Any], name: str, rule_id: str, level: RuleLevel, reason: str
    ) -> TrendRule | None:
        self.unknown_keys(
            raw, name, _COMMON_KEYS | {"item", "indicator", "direction", "days", "by_at_least"}
        )
        sources = [key for key in ("item", "indicator") if key in raw]
        direction, days = raw.get("direction"), raw.get("days")
        if len(sources) != 1 or not isinstance(raw[sources[0]], str):
            self.problems.append(f"{name}: a trend follows one item or one indicator")
            return None
        source = cast(Literal["item", "indicator"], sources[0])
        target = cast(str, raw[source])
        if direction not in ("falling", "rising"):
            self.problems.append(f"{name}: direction must be falling or rising")
            return None
        if not is_whole_number(days) or days < (2 if direction == "falling" else 1):
            self.problems.append(f"{name}: days must be a whole number (falling: from 2)")
            return None
        by_at_least = raw.get("by_at_least", 0)
        if direction == "falling" and (not is_whole_number(by_at_least) or by_at_least < 1):
            self.problems.append(f"{name}: a falling trend needs by_at_least from 1")
        if direction == "rising" and "by_at_least" in raw:
            self.problems.append(f"{name}: by_at_least applies to falling trends only")
        if source == "indicator":
            self.check_indicator(target, name)
        if source == "item":
            item = self.item(target, name)
            if item is not None and item.kind != "scale":
                self.problems.append(f"{name}: a trend follows a scale item, not {item.kind}")
        return TrendRule(rule_id, level, reason, source, target, direction, days, by_at_least)


def _answer_test_fits(item: Item, test: Criterion) -> bool:
    value = test.value
    if test.comparison in ("at_least", "at_most"):
        return item.kind == "scale" and item.min <= cast(int, value) <= item.max
    if test.comparison == "in":
        keys = {option.key for option in item.options}
        return item.kind in ("choice", "multi") and set(cast(tuple, value)) <= keys
    return value_fits(item, value)
