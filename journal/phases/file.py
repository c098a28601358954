"""The phases file (journal/phases_default.toml or a program's own): reading and validation,
every problem listed in one message."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, cast

from journal.alerts.levels import RULE_LEVELS, RuleLevel
from journal.alerts.rules import RiskRules, check_overrides
from journal.checkin.questionnaire import Localized, Questionnaire
from journal.checkin.questionnaire_file import file_version, is_whole_number, read_data_file
from journal.errors import DataFileError, InvalidInput
from journal.i18n import LANGUAGES
from journal.phases.model import DAY_SETS, Phase, Phases, StepDown, StepTo, StepUp

DEFAULT_FILE: Final = "phases_default.toml"
PHASE_ID: Final = re.compile(r"[a-z0-9_]{1,40}")
_TOP_KEYS: Final = frozenset({"id", "version", "step_up", "phases"})
_PHASE_KEYS: Final = frozenset({"id", "name", "days", "reminder", "thresholds", "sections",
                                "officer_report_days", "step_down"})
_STEP_UP_KEYS: Final = frozenset({"alert_at_or_above", "alert_reasons", "to"})
_DAY_KEYS: Final = ("min_days", "no_alert_days", "plan_reviewed_days")


class PhasesError(DataFileError):
    """The phases file is not valid."""


def load_phases(path: Path | None = None, *, questionnaire: Questionnaire | None = None,
                rules: RiskRules | None = None) -> Phases:
    """Read and validate a phases file (None: the packaged default); with the questionnaire
    and the rules, the domains, rule ids and reasons it names are checked against them."""
    data = read_data_file(path, DEFAULT_FILE, PhasesError, "phases")
    if path is None and rules is not None:
        # The packaged default beside a program's own rules: it steps up on the reasons
        # those rules have (a program's own phases file must name only those).
        step_up = dict(data.get("step_up", {}))
        step_up["alert_reasons"] = [r for r in step_up.get("alert_reasons", [])
                                    if r in rules.reasons]
        data = {**data, "step_up": step_up}
    return parse_phases(data, questionnaire=questionnaire, rules=rules)


def parse_phases(data: Mapping[str, Any], *, questionnaire: Questionnaire | None = None,
                 rules: RiskRules | None = None) -> Phases:
    return _Parser(questionnaire, rules).phases(data)


def phase_days(spec: str) -> str:
    """A phase's `days` as weekday digits: a named set, or days as /schedule takes them."""
    if spec in DAY_SETS:
        return DAY_SETS[spec]
    from journal.checkin.schedule import parse_days

    return parse_days(spec)


class _Parser:
    def __init__(self, q: Questionnaire | None, rules: RiskRules | None) -> None:
        self.q, self.rules = q, rules
        self.problems: list[str] = []

    def phases(self, data: Mapping[str, Any]) -> Phases:
        for key in sorted(set(data) - _TOP_KEYS):
            self.problems.append(f"unknown top-level key {key!r}")
        phases_id = data.get("id")
        if not isinstance(phases_id, str) or not phases_id:
            self.problems.append("phases id must be a non-empty string")
            phases_id = ""
        version = file_version(data, self.problems)
        entries = data.get("phases")
        parsed: list[Phase] = []
        if not isinstance(entries, list) or not entries \
                or not all(isinstance(e, dict) for e in entries):
            self.problems.append("[[phases]] must be a list of at least one table")
        else:
            seen: set[str] = set()
            for index, entry in enumerate(entries):
                phase = self.phase(index, entry, last=index == len(entries) - 1)
                if phase is None:
                    continue
                if phase.id in seen:
                    self.problems.append(f"phase {phase.id!r}: duplicate id")
                    continue
                seen.add(phase.id)
                parsed.append(phase)
        step_up = self.step_up(data.get("step_up", {}))
        if self.problems:
            raise PhasesError(self.problems)
        return Phases(id=phases_id, version=version, phases=tuple(parsed), step_up=step_up)

    def phase(self, index: int, entry: Mapping[str, Any], *, last: bool) -> Phase | None:
        raw_id = entry.get("id")
        if not isinstance(raw_id, str) or not PHASE_ID.fullmatch(raw_id):
            self.problems.append(f"phase {index + 1}: id must be 1-40 of a-z, 0-9, _")
            return None
        where = f"phase {raw_id!r}"
        for key in sorted(set(entry) - _PHASE_KEYS):
            self.problems.append(f"{where}: unknown key {key!r}")
        name = self.name(entry.get("name"), where)
        days = ""
        raw_days = entry.get("days")
        if not isinstance(raw_days, str):
            self.problems.append(f"{where}: days must be every_day, weekdays, three_days, "
                                 "one_day or days such as \"mon,thu\"")
        else:
            try:
                days = phase_days(raw_days)
            except InvalidInput:
                days = ""
            if not days:
                self.problems.append(f"{where}: days {raw_days!r} names no weekday")
        reminder = entry.get("reminder", True)
        if not isinstance(reminder, bool):
            self.problems.append(f"{where}: reminder must be true or false")
            reminder = True
        thresholds = self.thresholds(entry.get("thresholds", {}), where)
        sections = self.sections(entry.get("sections", "all"), where)
        officer = entry.get("officer_report_days", 0)
        if not is_whole_number(officer) or not 0 <= officer <= 365:
            self.problems.append(f"{where}: officer_report_days must be a whole number 0-365")
            officer = 0
        step_down = None
        if "step_down" in entry:
            if last:
                self.problems.append(f"{where}: the last phase has no step_down")
            else:
                step_down = self.step_down(entry["step_down"], where)
        elif not last:
            self.problems.append(f"{where}: [phases.step_down] is missing (only the last "
                                 "phase has none)")
        return Phase(id=raw_id, name=name, days=days, reminder=reminder,
                     thresholds=MappingProxyType(thresholds), sections=sections,
                     officer_report_days=cast(int, officer), step_down=step_down)

    def name(self, raw: object, where: str) -> Localized:
        if not isinstance(raw, dict):
            self.problems.append(f"{where}: name must be a table of languages "
                                 f"({', '.join(LANGUAGES)})")
            return Localized({lang: "" for lang in LANGUAGES})
        for lang in LANGUAGES:
            if not isinstance(raw.get(lang), str) or not raw[lang].strip():
                self.problems.append(f"{where}: name has no {lang!r} text")
        for lang in sorted(set(raw) - set(LANGUAGES)):
            self.problems.append(f"{where}: name has an unknown language {lang!r}")
        return Localized({lang: str(raw.get(lang) or "") for lang in LANGUAGES})

    def thresholds(self, raw: object, where: str) -> dict[str, int]:
        if not isinstance(raw, dict):
            self.problems.append(f"{where}: thresholds must be a table of rule id = number")
            return {}
        values = {}
        for rule_id, value in raw.items():
            if not is_whole_number(value):
                self.problems.append(f"{where}: threshold {rule_id!r} must be a whole number")
                continue
            values[rule_id] = value
        if self.rules is not None:
            self.problems += [f"{where}: {p}" for p in check_overrides(self.rules, values)]
        return values

    def sections(self, raw: object, where: str) -> tuple[str, ...] | None:
        if raw == "all":
            return None
        if not isinstance(raw, list) or not raw or not all(isinstance(s, str) for s in raw):
            self.problems.append(f"{where}: sections must be \"all\" or a list of domain ids")
            return None
        if self.q is not None:
            for section in raw:
                if section not in self.q.domains:
                    self.problems.append(f"{where}: section {section!r} is not a domain of "
                                         f"the questionnaire")
        return tuple(raw)

    def step_down(self, raw: object, where: str) -> StepDown | None:
        where = f"{where} step_down"
        if not isinstance(raw, dict):
            self.problems.append(f"{where}: must be a table")
            return None
        known = {f for f in StepDown.__dataclass_fields__}
        for key in sorted(set(raw) - known):
            self.problems.append(f"{where}: unknown key {key!r}")
        values: dict[str, Any] = {}
        for key in _DAY_KEYS:
            if key in raw:
                if not is_whole_number(raw[key]) or not 0 < raw[key] <= 3650:
                    self.problems.append(f"{where}: {key} must be a whole number 1-3650")
                else:
                    values[key] = raw[key]
        if "min_adherence" in raw:
            value = raw["min_adherence"]
            if isinstance(value, bool) or not isinstance(value, int | float) \
                    or not 0 <= value <= 1:
                self.problems.append(f"{where}: min_adherence must be a number from 0 to 1")
            else:
                values["min_adherence"] = float(value)
        if "no_alert_at_or_above" in raw:
            values["no_alert_at_or_above"] = self.level(raw["no_alert_at_or_above"], where,
                                                        "no_alert_at_or_above")
        if ("no_alert_at_or_above" in raw) != ("no_alert_days" in raw):
            self.problems.append(f"{where}: no_alert_at_or_above and no_alert_days go together")
        if "rating_at_most" in raw:
            if not is_whole_number(raw["rating_at_most"]) or raw["rating_at_most"] not in (0, 1, 2):
                self.problems.append(f"{where}: rating_at_most must be 0, 1 or 2")
            else:
                values["rating_at_most"] = raw["rating_at_most"]
        return StepDown(**values)

    def level(self, raw: object, where: str, key: str) -> RuleLevel | None:
        if raw not in RULE_LEVELS:
            self.problems.append(f"{where}: {key} must be one of {', '.join(RULE_LEVELS)}")
            return None
        return cast(RuleLevel, raw)

    def step_up(self, raw: object) -> StepUp:
        if not isinstance(raw, dict):
            self.problems.append("[step_up] must be a table")
            return StepUp(None, frozenset())
        for key in sorted(set(raw) - _STEP_UP_KEYS):
            self.problems.append(f"[step_up]: unknown key {key!r}")
        level = (self.level(raw["alert_at_or_above"], "[step_up]", "alert_at_or_above")
                 if "alert_at_or_above" in raw else None)
        reasons = raw.get("alert_reasons", [])
        if not isinstance(reasons, list) or not all(isinstance(r, str) for r in reasons):
            self.problems.append("[step_up]: alert_reasons must be a list of reason codes")
            reasons = []
        elif self.rules is not None:
            for reason in reasons:
                if reason not in self.rules.reasons:
                    self.problems.append(f"[step_up]: reason {reason!r} is not in the risk "
                                         "rules' [reasons]")
        to = raw.get("to", "previous")
        if to not in ("previous", "first"):
            self.problems.append("[step_up]: to must be \"previous\" or \"first\"")
            to = "previous"
        return StepUp(level, frozenset(reasons), cast(StepTo, to))


__all__ = ["DEFAULT_FILE", "PhasesError", "load_phases", "parse_phases", "phase_days"]
