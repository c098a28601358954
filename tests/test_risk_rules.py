"""Risk rules: each default rule fires when it should, and stays quiet when it should not."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from journal import i18n_tools
from journal.alerts.rules import (
    Assessment,
    CheckInStatus,
    DaySnapshot,
    check_overrides,
    evaluate,
    evaluate_blocked,
    evaluate_missed,
    evaluate_no_show,
    indicators,
    snapshot,
)
from journal.alerts.rules_file import RiskRulesError, load_rules, parse_rules
from journal.alerts.service import AlertService
from journal.checkin.questionnaire import SKIPPED, Answer
from journal.checkin.questionnaire_file import load_questionnaire
from journal.clock import FakeClock
from journal.i18n import gettext_for

Q = load_questionnaire()
RULES = load_rules(questionnaire=Q)
TODAY = date(2026, 3, 29)  # the day clocks go forward in Europe: dates, not hours, count

CALM: dict[str, Answer] = {
    "victim_access": "no",
    "anger": 2,
    "sexual_thoughts": "none",
    "supervision": "no",
    "coping": 8,
    "self_harm": False,
    "social_support": "no",
    "substances": "none",
    "high_risk": False,
    "suds": (),
    "lapse": False,
    "coping_steps": (),
    "confidence": 8,
    "good_life": ("work",),
    "journal_note": SKIPPED,
}


def day(**changes: Answer) -> dict[str, Answer]:
    return {**CALM, **changes}


# Days whose general indicator is exactly n (and that fire no other rule).
GENERAL = {
    1: day(social_support="some"),
    2: day(social_support="serious"),
    3: day(social_support="serious", substances="within"),
    4: day(social_support="serious", substances="against"),
}


def history(*days: Mapping[str, Answer] | None) -> list[DaySnapshot]:
    """The days before today, oldest first, ending yesterday; None is a missed day."""
    first = TODAY - timedelta(days=len(days))
    return [snapshot(Q, first + timedelta(days=i), answers) for i, answers in enumerate(days)]


def assess(
    today: Mapping[str, Answer],
    before: Sequence[DaySnapshot] = (),
    overrides: Mapping[str, int] | None = None,
) -> Assessment:
    return evaluate(RULES, Q, DaySnapshot(TODAY, today), before, overrides=overrides)


def fired(
    today: Mapping[str, Answer],
    before: Sequence[DaySnapshot] = (),
    overrides: Mapping[str, int] | None = None,
) -> set[str]:
    return {finding.rule_id for finding in assess(today, before, overrides).findings}


# rule id → (a day it fires on, the nearest day it stays quiet on), each with its history.
Scenario = tuple[Mapping[str, Answer], Sequence[DaySnapshot]]
DAILY_CASES: dict[str, tuple[Scenario, Scenario]] = {
    "victim_access": ((day(victim_access="stayed"), ()), (day(victim_access="left"), ())),
    "offending_thoughts": (
        (day(sexual_thoughts="some", offending_thoughts=True), ()),
        (day(sexual_thoughts="some", offending_thoughts=False), ()),
    ),
    "self_harm": ((day(self_harm=True), ()), (day(self_harm=False), ())),
    "lapse": ((day(lapse=True, blown_it=0), ()), (day(lapse=False), ())),
    "abstinence_violation": (
        (day(lapse=True, blown_it=7), ()),
        (day(lapse=True, blown_it=6), ()),
    ),
    "high_risk_situation": (
        (day(high_risk=True, high_risk_detail="At the bus stop"), ()),
        (day(high_risk=False), ()),
    ),
    "sexual_violent_elevated": (  # 3 vs 2
        (day(anger=4, sexual_thoughts="some", offending_thoughts=False, supervision="wanted"), ()),
        (day(anger=4, sexual_thoughts="some", offending_thoughts=False), ()),
    ),
    "sexual_violent_high": (  # 5 vs 4
        (day(anger=7, sexual_thoughts="a_lot", offending_thoughts=False, supervision="wanted"), ()),
        (day(anger=7, sexual_thoughts="a_lot", offending_thoughts=False), ()),
    ),
    "general_elevated": (  # 6 vs 5
        (day(anger=7, coping=2, social_support="serious"), ()),
        (day(anger=7, coping=2, social_support="some"), ()),
    ),
    "general_high": (  # 9 vs 8
        (
            day(
                anger=7,
                coping=2,
                social_support="serious",
                substances="within",
                sexual_thoughts="some",
                offending_thoughts=False,
                supervision="wanted",
            ),
            (),
        ),
        (
            day(
                anger=7,
                coping=2,
                social_support="serious",
                sexual_thoughts="some",
                offending_thoughts=False,
                supervision="wanted",
            ),
            (),
        ),
    ),
    "coping_ineffective_in_hrs": (
        (day(high_risk=True, high_risk_detail="x", coping_steps=("other",), coping_effect=3), ()),
        (day(high_risk=True, high_risk_detail="x", coping_steps=("other",), coping_effect=4), ()),
    ),
    "substance_with_victim_access": (
        (day(victim_access="left", substances="against"), ()),
        (day(victim_access="left", substances="within"), ()),
    ),
    "confidence_falling": (  # a drop of 3 vs 2 within three days
        (day(confidence=5), history(day(confidence=8), day(confidence=7))),
        (day(confidence=6), history(day(confidence=8), day(confidence=7))),
    ),
    "general_rising": (  # rose on 3 days in a row vs 2
        (GENERAL[4], history(CALM, GENERAL[1], GENERAL[2], GENERAL[3])),
        (GENERAL[4], history(GENERAL[3], GENERAL[2], GENERAL[3])),
    ),
}


@pytest.mark.parametrize("rule_id", sorted(DAILY_CASES))
def test_each_default_rule_fires_when_it_should_and_not_before(rule_id: str) -> None:
    (fire_today, fire_before), (quiet_today, quiet_before) = DAILY_CASES[rule_id]
    assert rule_id in fired(fire_today, fire_before)
    assert rule_id not in fired(quiet_today, quiet_before)


def test_every_default_rule_has_a_story() -> None:
    tested = set(DAILY_CASES) | {"missed_checkins", "bot_blocked", "no_show"}
    assert tested == {rule.id for rule in RULES.all_rules}


def test_a_no_show_alerts_at_the_level_of_the_rules_file_and_not_without_the_rule() -> None:
    found = evaluate_no_show(RULES)
    assert found.level == "elevated" and [f.reason_code for f in found.findings] == ["NO_SHOW"]
    raised = parse_rules({"id": "r", "version": 1, "no_show": [
        {"id": "no_show", "level": "high", "reason": "NO_SHOW"}]})
    assert evaluate_no_show(raised).level == "high"
    assert not evaluate_no_show(parse_rules({"id": "r", "version": 1})).findings


def test_a_calm_day_is_low_with_nothing_found() -> None:
    result = assess(CALM, history(CALM, CALM, CALM))
    assert result.level == "low"
    assert result.findings == ()
    assert not result.crisis
    assert result.indicators is not None
    assert (result.indicators.value("sexual_violent"), result.indicators.value("general")) == (0, 0)


def test_a_single_dangerous_answer_fires_only_its_own_rule() -> None:
    assert fired(day(victim_access="stayed")) == {"victim_access"}
    assert fired(day(self_harm=True)) == {"self_harm"}
    assert fired(day(lapse=True, blown_it=9)) == {"lapse", "abstinence_violation"}


def test_indicators_count_each_domain_once_at_its_highest_item() -> None:
    both = indicators(Q, day(sexual_thoughts="a_lot", offending_thoughts=True))
    assert both.value("sexual_violent") == 2  # not 4: one domain, as a rater would score it
    assert both.domain_scores["sexual_preoccupation"] == 2
    assert both.item_scores["sexual_thoughts"] == 2 and both.item_scores["offending_thoughts"] == 2
    worst = day(
        victim_access="stayed",
        anger=10,
        sexual_thoughts="a_lot",
        offending_thoughts=True,
        supervision="did",
        coping=0,
        social_support="serious",
        substances="against",
    )
    assert (indicators(Q, worst).value("sexual_violent"), indicators(Q, worst).value("general")) == (8, 14)
    for answers in GENERAL.values():
        assert fired(answers) == set()
    assert [indicators(Q, GENERAL[n]).value("general") for n in (1, 2, 3, 4)] == [1, 2, 3, 4]


def test_confidence_is_compared_over_calendar_days_not_list_positions() -> None:
    # Nine points a week ago is outside the three-day window.
    week_ago = [snapshot(Q, TODAY - timedelta(days=7), day(confidence=9))]
    assert "confidence_falling" not in fired(day(confidence=6), week_ago)
    # A missed day inside the window leaves the other day to compare with.
    assert "confidence_falling" in fired(day(confidence=5), history(day(confidence=8), None))
    # Skipping today's question cannot fall.
    assert "confidence_falling" not in fired(day(confidence=SKIPPED), history(day(confidence=9)))


def test_a_missed_day_breaks_a_rising_run() -> None:
    run = history(CALM, GENERAL[1], None, GENERAL[3])
    assert "general_rising" not in fired(GENERAL[4], run)
    flat = history(CALM, GENERAL[1], GENERAL[1], GENERAL[3])
    assert "general_rising" not in fired(GENERAL[4], flat)


def test_two_missed_check_ins_in_a_row_alert_and_one_does_not() -> None:
    assert evaluate_missed(RULES, ["completed", "missed"]).findings == ()
    two = evaluate_missed(RULES, ["completed", "missed", "missed"])
    assert two.level == "elevated"
    assert [f.reason_code for f in two.findings] == ["MISSED_CHECKINS"]
    assert evaluate_missed(RULES, ["missed", "missed", "completed"]).level == "low"
    assert evaluate_missed(RULES, []).level == "low"
    with pytest.raises(ValueError, match="unknown check-in status"):
        evaluate_missed(RULES, ["skipped"])  # type: ignore[list-item]


def test_a_client_blocking_the_bot_alerts_at_once() -> None:
    blocked = evaluate_blocked(RULES)
    assert blocked.level == "high"
    assert [f.reason_code for f in blocked.findings] == ["BOT_BLOCKED"]
    assert not blocked.crisis


def test_the_level_is_the_most_serious_finding_and_listed_first() -> None:
    lapse = assess(day(lapse=True, blown_it=8))
    assert lapse.level == "high"
    assert [f.level for f in lapse.findings] == ["high", "elevated"]
    worse = assess(
        day(lapse=True, blown_it=8, self_harm=True, high_risk=True, high_risk_detail="x")
    )
    assert worse.level == "critical"
    assert worse.findings[0].reason_code == "SELF_HARM"
    assert worse.crisis


def test_a_self_harm_yes_is_a_crisis_even_if_a_program_drops_the_rule() -> None:
    data = _default_rules_data()
    data["daily"] = [rule for rule in data["daily"] if rule["id"] != "self_harm"]
    rules = parse_rules(data, questionnaire=Q)
    result = evaluate(rules, Q, DaySnapshot(TODAY, day(self_harm=True)), [])
    assert result.crisis
    assert result.level == "low"
    assert not assess(day(lapse=True)).crisis  # high is not a crisis


def test_a_clinician_override_changes_one_clients_threshold_only() -> None:
    left = day(victim_access="left")
    assert "victim_access" in fired(left, overrides={"victim_access": 1})
    assert "victim_access" not in fired(left)  # another client, default threshold
    falling = (day(confidence=6), history(day(confidence=8)))
    assert "confidence_falling" in fired(*falling, overrides={"confidence_falling": 2})
    assert "confidence_falling" not in fired(*falling)
    rising = (GENERAL[4], history(GENERAL[2], GENERAL[3]))
    assert "general_rising" in fired(*rising, overrides={"general_rising": 2})
    assert "general_rising" not in fired(*rising)
    statuses: list[CheckInStatus] = ["missed", "missed"]
    assert evaluate_missed(RULES, statuses, overrides={"missed_checkins": 3}).level == "low"
    assert evaluate_missed(RULES, statuses).level == "elevated"


def test_an_override_that_fits_no_threshold_is_reported_and_never_silences() -> None:
    overrides = {"self_harm": 5, "no_such_rule": 1, "missed_checkins": 0}
    assert check_overrides(RULES, overrides) == [
        "override 'self_harm': this rule has no threshold",
        "override 'no_such_rule': no such rule",
        "override 'missed_checkins': must be a whole number from 1",
    ]
    assert "self_harm" in fired(day(self_harm=True), overrides=overrides)
    assert evaluate_missed(RULES, ["missed", "missed"], overrides=overrides).level == "elevated"
    assert check_overrides(RULES, {"general_elevated": 7}) == []


def test_today_must_be_a_check_in_with_answers() -> None:
    with pytest.raises(ValueError, match="evaluate_missed"):
        evaluate(RULES, Q, DaySnapshot(TODAY, None), [])


def _default_rules_data() -> dict[str, Any]:
    path = Path(__file__).parents[1] / "journal" / "risk_rules.toml"
    return tomllib.loads(path.read_text(encoding="utf-8"))


def test_a_rules_file_with_several_mistakes_is_rejected_with_all_of_them(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(
        """
id = "clinic-rules"
version = 2
questionnaire = "other-checkin"

[[daily]]
id = "lapse"
level = "severe"
reason = "LAPSE"
item = "lapse"
equals = "yes"

[[daily]]
id = "lapse"
level = "high"
reason = "ACUTE_SCORE"
item = "lapses"
equals = true

[[daily]]
id = "anger_high"
level = "high"
reason = "ANGER"
score = "anger"
at_least = 2
also = [{ item = "coping", at_most = 12 }]

[[trend]]
id = "note_falling"
level = "elevated"
reason = "NOTE_FALLING"
item = "journal_note"
direction = "falling"
days = 3
by_at_least = 3

[[missed]]
id = "missed"
level = "elevated"
reason = "MISSED"
in_a_row = 0
""",
        encoding="utf-8",
    )
    with pytest.raises(RiskRulesError) as caught:
        load_rules(path, questionnaire=Q)
    assert caught.value.problems == [
        "rules are written for questionnaire 'other-checkin', not 'steadfast-daily'",
        "rule 'lapse': level must be elevated, high or critical",
        "rule 'lapse': equals 'yes' does not fit yesno item 'lapse'",
        "rule 'lapse': reason must not present indicators as ACUTE scores",
        "rule 'lapse': unknown item 'lapses'",
        "rule 'lapse': duplicate id",
        "rule 'anger_high' also: at_most 12 does not fit scale item 'coping'",
        "rule 'note_falling': a trend follows a scale item, not text",
        "rule 'missed': in_a_row must be a whole number from 1",
    ]
    assert str(caught.value).startswith("9 problems:")


def test_the_default_rules_load_with_their_version() -> None:
    assert (RULES.id, RULES.version, RULES.questionnaire) == (
        "steadfast-default-rules",
        1,
        "steadfast-daily",
    )
    assert load_rules().all_rules == RULES.all_rules  # without a questionnaire: structure only


def test_every_reason_of_the_default_rules_has_a_label_in_english_and_spanish() -> None:
    used = {rule.reason for rule in RULES.all_rules}
    assert used <= set(RULES.reasons)
    spanish = i18n_tools.load("es")
    for code in used:
        found = spanish.get(RULES.reason_label(code))
        assert found is not None and found.string, code
    assert gettext_for("es", RULES.reason_label("LAPSE")) == "Informó de un desliz"


def test_a_program_adds_a_rule_and_its_label_without_code() -> None:
    data = _default_rules_data()
    data["daily"].append({"id": "anger_high", "level": "elevated", "reason": "ANGER_HIGH",
                          "item": "anger", "at_least": 8})
    data["reasons"]["ANGER_HIGH"] = "Strong anger today"
    rules = parse_rules(data, questionnaire=Q)
    assert rules.reason_label("ANGER_HIGH") == "Strong anger today"
    assert rules.reason_label("NO_LABEL") == "NO_LABEL"  # an old alert's code, shown as it is
    alerts = AlertService(clock=FakeClock(datetime(2026, 3, 2, 9, tzinfo=UTC)), questionnaire=Q, rules=rules)
    assert alerts.reason_text("ANGER_HIGH") == "Strong anger today"


def test_a_reason_label_table_with_mistakes_is_rejected() -> None:
    data = _default_rules_data()
    data["reasons"] = {"lapse": "Reported a lapse", "LAPSE": ""}
    with pytest.raises(RiskRulesError) as caught:
        parse_rules(data, questionnaire=Q)
    assert caught.value.problems == [
        "reason 'lapse': must be a code like VICTIM_ACCESS",
        "reason 'LAPSE': its label must be a non-empty text",
    ]
