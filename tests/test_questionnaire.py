"""The questionnaire file: the default check-in loads, and a broken file is named in full."""

from __future__ import annotations

from pathlib import Path

import pytest

from journal.checkin.questionnaire import (
    SKIPPED,
    Questionnaire,
    options_for,
    plan_option_key,
    score_item,
)
from journal.checkin.questionnaire_file import QuestionnaireError, load_questionnaire

DEFAULT_IDS = [
    "victim_access",
    "anger",
    "sexual_thoughts",
    "offending_thoughts",
    "supervision",
    "coping",
    "self_harm",
    "social_support",
    "substances",
    "high_risk",
    "high_risk_detail",
    "suds",
    "suds_other",
    "lapse",
    "blown_it",
    "coping_steps",
    "coping_effect",
    "confidence",
    "good_life",
    "journal_note",
]

HEADER = """
id = "test"
version = 3
languages = ["en", "es"]
title = { en = "Check-in", es = "Registro" }

[phrases]
yes = { en = "Yes", es = "Sí" }
no = { en = "No", es = "No" }
skipped = { en = "Skipped", es = "Omitida" }
none_selected = { en = "None", es = "Ninguna" }
removed_step = { en = "Removed", es = "Quitado" }
"""


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "checkin.toml"
    path.write_text(HEADER + body, encoding="utf-8")
    return path


def problems_of(tmp_path: Path, body: str) -> list[str]:
    with pytest.raises(QuestionnaireError) as caught:
        load_questionnaire(write(tmp_path, body))
    return caught.value.problems


@pytest.fixture(scope="module")
def default() -> Questionnaire:
    return load_questionnaire()


def test_the_default_check_in_loads_with_its_id_version_and_items(default: Questionnaire) -> None:
    assert default.id == "steadfast-daily"
    assert default.version == 1
    assert default.languages == ("en", "es")
    assert [item.id for item in default.items] == DEFAULT_IDS


def test_every_text_of_the_default_exists_in_english_and_spanish(default: Questionnaire) -> None:
    for item in default.items:
        texts = [item.text, item.short, *(option.label for option in item.options)]
        texts += list(item.labels.values())
        for text in texts:
            assert text.texts["en"].strip() and text.texts["es"].strip(), item.id
    assert default.item("self_harm").text.get("es").startswith("¿")


def test_the_default_covers_every_acute_domain_as_indicators(default: Questionnaire) -> None:
    acute_2007 = {"access_to_victims", "hostility", "sexual_preoccupation",
                  "rejection_of_supervision", "emotional_collapse",
                  "collapse_of_social_supports", "substance_abuse"}
    assert set(default.domains) == acute_2007
    assert {item.domain for item in default.items if item.indicators} == acute_2007
    for item in default.items:
        assert "acute" not in " ".join(item.text.texts.values()).lower()


def test_self_harm_is_asked_every_day_and_flags_a_crisis(default: Questionnaire) -> None:
    self_harm = default.item("self_harm")
    assert self_harm.when is None
    assert self_harm.crisis
    assert not self_harm.skippable


def test_follow_up_questions_hang_on_the_right_answers(default: Questionnaire) -> None:
    assert default.item("offending_thoughts").when.one_of == ("some", "a_lot")  # type: ignore[union-attr]
    assert default.item("high_risk_detail").when.equals is True  # type: ignore[union-attr]
    assert default.item("blown_it").when.equals is True  # type: ignore[union-attr]
    assert default.item("coping_effect").when.not_empty  # type: ignore[union-attr]
    assert default.item("suds_other").when.one_of == ("other",)  # type: ignore[union-attr]
    assert default.item("coping_steps").options_from == "plan.coping"


def test_items_score_as_clinical_md_says(default: Questionnaire) -> None:
    anger, coping = default.item("anger"), default.item("coping")
    assert [score_item(anger, v) for v in (0, 3, 4, 6, 7, 10)] == [0, 0, 1, 1, 2, 2]
    assert [score_item(coping, v) for v in (0, 3, 4, 6, 7, 10)] == [2, 2, 1, 1, 0, 0]
    assert score_item(default.item("victim_access"), "stayed") == 2
    assert score_item(default.item("offending_thoughts"), True) == 2
    assert score_item(default.item("offending_thoughts"), False) == 0
    assert score_item(default.item("anger"), SKIPPED) is None
    assert score_item(default.item("confidence"), 2) is None  # asked, not scored
    assert score_item(default.item("good_life"), ("work",)) is None  # strengths, not scored


def test_plan_step_keys_follow_the_text_not_the_order(default: Questionnaire) -> None:
    item = default.item("coping_steps")
    first = options_for(item, ["Call my sponsor", "Go for a walk"])
    reordered = options_for(item, ["Go for a walk", "Call  my sponsor"])
    assert {o.key: o.label.get("es") for o in first} == {
        o.key: o.label.get("es") for o in reordered
    }
    assert first[-1].key == "other"  # the fixed option comes after the plan's steps
    assert plan_option_key("Call my sponsor") != plan_option_key("Go for a walk")
    assert len(plan_option_key("x" * 500)) <= 16


def test_a_file_with_several_mistakes_is_rejected_with_all_of_them(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[[items]]
id = "anger"
kind = "scael"
text = { en = "Anger?", es = "¿Enojo?" }

[[items]]
id = "lapse"
kind = "yesno"
text = { en = "Lapse?" }

[[items]]
id = "blown_it"
kind = "scale"
when = { item = "lapse_typo", equals = true }
text = { en = "Blown it?", es = "¿Echado a perder?" }

[[items]]
id = "lapse"
kind = "yesno"
text = { en = "Again?", es = "¿Otra vez?" }
""",
    )
    with pytest.raises(QuestionnaireError) as caught:
        load_questionnaire(path)
    problems = caught.value.problems
    assert (
        "item 'anger': unknown kind 'scael' (known: choice, scale, yesno, multi, text)" in problems
    )
    assert "item 'lapse': missing 'es' text" in problems
    assert "item 'blown_it': when refers to unknown or later item 'lapse_typo'" in problems
    assert "item 'lapse': duplicate id" in problems
    assert len(problems) == 4
    message = str(caught.value)
    assert message.startswith("4 problems:")
    assert all(problem in message for problem in problems)


def test_scale_bounds_scores_and_ranges_are_checked(tmp_path: Path) -> None:
    problems = problems_of(
        tmp_path,
        """
[[items]]
id = "anger"
kind = "scale"
min = 0
max = 0
text = { en = "Anger?", es = "¿Enojo?" }

[[items]]
id = "coping"
kind = "scale"
text = { en = "Coping?", es = "¿Afrontas?" }
score = [{ max = 3, value = 2 }, { max = 6, value = 1 }]

[[items]]
id = "supervision"
kind = "choice"
text = { en = "Hide?", es = "¿Ocultar?" }
options = [
    { key = "no", label = { en = "No", es = "No" } },
    { key = "Did-It", label = { en = "Did", es = "Sí" } },
    { key = "wanted", label = { en = "Wanted", es = "Quise" } },
]
score = { no = 0, wanted = 1, did = 2 }
""",
    )
    assert problems == [
        "item 'anger': scale min 0 must be below max 0",
        "item 'coping': score ranges must cover the scale 0-10",
        "item 'supervision': option key 'Did-It' must match [a-z0-9_]{1,16}",
        "item 'supervision': score keys ['did', 'no', 'wanted'] do not match options ['no', 'wanted']",
    ]


def test_ids_conditions_and_flags_are_checked(tmp_path: Path) -> None:
    problems = problems_of(
        tmp_path,
        """
[[items]]
id = "Victim Access"
kind = "yesno"
text = { en = "Q?", es = "¿P?" }

[[items]]
id = "note"
kind = "text"
when = { item = "later", equals = true }
flags = { crisis = true }
text = { en = "Note?", es = "¿Nota?", fr = "Note ?" }

[[items]]
id = "later"
kind = "yesno"
skipable = true
text = { en = "Later?", es = "¿Luego?" }

[[items]]
id = "follow"
kind = "yesno"
when = { item = "later", equals = "yes" }
text = { en = "Follow?", es = "¿Sigue?" }
""",
    )
    assert problems == [
        "item #1: id 'Victim Access' must match [a-z0-9_]{1,24}",
        "item 'note': text in 'fr', which is not in languages",
        "item 'note': the crisis flag needs a yesno item",
        "item 'note': when refers to unknown or later item 'later'",
        "item 'later': unknown key 'skipable'",
        "item 'follow': when equals 'yes' is not an answer of yesno item 'later'",
    ]


def test_a_file_that_is_not_toml_is_a_questionnaire_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("id = \n", encoding="utf-8")
    with pytest.raises(QuestionnaireError, match="not valid TOML"):
        load_questionnaire(path)
    with pytest.raises(QuestionnaireError, match="cannot read"):
        load_questionnaire(tmp_path / "missing.toml")


def test_a_language_the_program_has_not_translated_falls_back(default: Questionnaire) -> None:
    assert default.item("lapse").short.get("fr") == default.item("lapse").short.get("en")
    with pytest.raises(KeyError, match="no item 'nope'"):
        default.item("nope")


def test_roll_ups_domains_and_review_parts_are_checked_with_every_problem_listed(
        tmp_path: Path) -> None:
    problems = problems_of(
        tmp_path,
        """
[[roll_ups]]
id = "strain"
label = { en = "Strain" }

[[roll_ups]]
id = "items"
label = { en = "Items", es = "Ítems" }

[domains]
mood = { en = "Mood", es = "Ánimo" }

[review]
scales = [{ item = "moment" }]
situation = "mood"
note = "missing"
lapse_feel = "mood"

[[items]]
id = "mood"
kind = "choice"
domain = "hostility"
indicators = ["strain", "general"]
text = { en = "Mood?", es = "¿Ánimo?" }
options = [
    { key = "ok", label = { en = "OK", es = "Bien" } },
    { key = "low", label = { en = "Low", es = "Bajo" } },
]
score = { ok = 0, low = 1 }

[[items]]
id = "moment"
kind = "yesno"
text = { en = "A risky moment?", es = "¿Un momento de riesgo?" }
""",
    )
    assert problems == [
        "roll-up 'strain' label: missing 'es' text",
        "roll-up 'items': id is reserved",
        "item 'mood': unknown domain 'hostility' (known: mood)",
        "item 'mood': unknown indicator 'general' (known: strain)",
        "item 'mood': an item counted in an indicator needs a domain",
        "review: unknown key 'lapse_feel' (known: scales, situation, situation_detail, "
        "coping_used, coping_effect, lapse, lapse_feeling, self_harm, small_decisions, "
        "small_decisions_other, good_life, note)",
        "review situation: item 'mood' is a choice item, not yesno",
        "review note: 'missing' is not an item of this questionnaire",
        "review scale #1: item 'moment' is a yesno item, not scale",
    ]


def test_the_default_declares_what_the_review_reads(default: Questionnaire) -> None:
    assert default.roll_up_ids == ("sexual_violent", "general")
    assert default.roll_ups[1].label.get("es") == "Indicador general"
    assert [s.item for s in default.review.scales] == ["confidence", "coping", "coping_effect"]
    assert default.review.item("situation") == "high_risk"
    assert default.review.item("note") == "journal_note"
    for item_id in default.review.parts.values():
        assert default.has_item(item_id)
