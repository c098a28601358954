"""The program's treatment phases: the packaged default, a file with errors, the start."""

from __future__ import annotations

from pathlib import Path

import pytest

from journal.alerts.rules_file import load_rules
from journal.checkin.questionnaire_file import load_questionnaire
from journal.phases.file import PhasesError, load_phases, parse_phases
from tests.test_audit_and_cli import cli

Q = load_questionnaire()
RULES = load_rules(questionnaire=Q)


def test_the_default_has_four_phases_from_daily_to_one_day_each_named_in_both_languages() -> None:
    phases = load_phases(questionnaire=Q, rules=RULES)
    assert [p.id for p in phases.phases] == ["intensive", "structured", "consolidation",
                                             "maintenance"]
    assert [p.days for p in phases.phases] == ["0123456", "01234", "024", "2"]
    assert all(p.name.texts["en"] and p.name.texts["es"] for p in phases.phases)
    assert phases.phases[-1].step_down is None and phases.phases[-1].reminder is False
    first = phases.first.step_down
    assert first is not None and first.min_days == 60 and first.min_adherence == 0.85
    assert phases.of(None) is phases.first and phases.of("renamed") is phases.first
    assert phases.step_up_from("consolidation") is phases.of("structured")
    assert phases.step_up_from("intensive") is None
    assert phases.steps_up_on("critical", []) and phases.steps_up_on("high", ["LAPSE"])
    assert not phases.steps_up_on("high", ["HIGH_RISK_SITUATION"])


BAD = '''
id = ""
version = 0
colour = "blue"

[step_up]
alert_at_or_above = "severe"
alert_reasons = ["NO_SUCH_REASON"]
to = "sideways"

[[phases]]
id = "Daily"
name = { en = "Daily" }

[[phases]]
id = "busy"
name = { en = "Busy" }
days = "someday"
reminder = "yes"
thresholds = { no_such_rule = 3 }
sections = ["no_such_domain"]
officer_report_days = -1
[phases.step_down]
min_adherence = 1.5
no_alert_at_or_above = "high"
rating_at_most = 3
speed = 1

[[phases]]
id = "last"
name = { en = "Last", es = "Última" }
days = "one_day"
[phases.step_down]
min_days = 10
'''


def test_a_phases_file_with_errors_names_every_one_of_them_at_once(tmp_path: Path) -> None:
    bad = tmp_path / "phases.toml"
    bad.write_text(BAD, encoding="utf-8")
    with pytest.raises(PhasesError) as caught:
        load_phases(bad, questionnaire=Q, rules=RULES)
    problems = caught.value.problems
    expected = ["unknown top-level key 'colour'", "phases id must be", "version must be",
                "phase 1: id must be", "phase 'busy': name has no 'es' text",
                "days 'someday'", "reminder must be true or false", "'no_such_rule': no such rule",
                "section 'no_such_domain'", "officer_report_days", "min_adherence must be",
                "no_alert_at_or_above and no_alert_days go together", "rating_at_most must be",
                "unknown key 'speed'", "phase 'last': the last phase has no step_down",
                "alert_at_or_above must be", "'NO_SUCH_REASON' is not in the risk rules",
                "to must be"]
    for words in expected:
        assert any(words in p for p in problems), (words, problems)
    assert str(caught.value).startswith(f"{len(problems)} problems:")


def test_a_phase_that_is_not_last_must_say_what_stepping_down_asks() -> None:
    with pytest.raises(PhasesError) as caught:
        parse_phases({"id": "p", "version": 1, "phases": [
            {"id": "a", "name": {"en": "A", "es": "A"}, "days": "every_day"},
            {"id": "b", "name": {"en": "B", "es": "B"}, "days": "mon,thu"}]})
    assert caught.value.problems == ["phase 'a': [phases.step_down] is missing (only the last "
                                     "phase has none)"]
    two = parse_phases({"id": "p", "version": 1, "phases": [
        {"id": "a", "name": {"en": "A", "es": "A"}, "days": "every_day",
         "step_down": {"min_days": 3}},
        {"id": "b", "name": {"en": "B", "es": "B"}, "days": "mon,thu"}]})
    assert two.phases[1].days == "03"


def test_the_bot_does_not_start_with_a_phases_file_with_errors(tmp_path: Path) -> None:
    bad = tmp_path / "phases.toml"
    bad.write_text(BAD, encoding="utf-8")
    result = cli(["run"], {"STEADFAST_PHASES": str(bad), "STEADFAST_BOT_TOKEN": "123:abc"},
                 tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "problems:" in result.stderr
    assert "'busy'" in result.stderr and "NO_SUCH_REASON" in result.stderr
    assert "'no_such_rule'" in result.stderr and "sideways" not in result.stdout
