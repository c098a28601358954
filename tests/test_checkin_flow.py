"""The check-in flow, told as what a client does on their phone, button by button."""

from __future__ import annotations

import dataclasses
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from journal.checkin.flow import (
    SKIPPED,
    CannotGoBack,
    CheckInError,
    CheckInState,
    InvalidAnswer,
    OutOfOrder,
    QuestionnaireChanged,
    answer,
    back,
    confirm,
    go_to,
    is_complete,
    normalize_answer,
    progress,
    render_answer,
    skip,
    start,
    summary,
    toggle,
    visible_items,
)
from journal.checkin.questionnaire import Item, Questionnaire, options_for, plan_option_key
from journal.checkin.questionnaire_file import load_questionnaire

Q = load_questionnaire()
PLAN = ("Call my sponsor", "Leave the place", "Breathe and count to ten")
CALL = plan_option_key(PLAN[0])


def reach(state: CheckInState, *steps: tuple[str, object]) -> CheckInState:
    """Answer the items in order, each of which must be the one being asked."""
    for item_id, value in steps:
        assert state.current == item_id
        state = answer(Q, state, item_id, value, plan_options=PLAN)
    return state


CALM_START: tuple[tuple[str, object], ...] = (
    ("victim_access", "no"),
    ("anger", 2),
    ("sexual_thoughts", "none"),
    ("supervision", "no"),
    ("coping", 8),
    ("self_harm", False),
    ("social_support", "no"),
    ("substances", "none"),
)
CALM_REST: tuple[tuple[str, object], ...] = (
    ("high_risk", False),
    ("suds", []),
    ("lapse", False),
    ("coping_steps", []),
    ("confidence", 9),
    ("good_life", ["work"]),
    ("journal_note", "A quiet day."),
)


def calm_day() -> CheckInState:
    return reach(start(Q), *CALM_START, *CALM_REST)


def test_a_client_walks_through_every_kind_of_item_and_follow_ups_appear_when_due() -> None:
    state = start(Q)
    assert state.current == "victim_access"
    assert progress(Q, state) == (1, 15)  # fifteen parts; the five follow-ups sit inside them

    state = reach(state, ("victim_access", "left"), ("anger", 4), ("sexual_thoughts", "some"))
    assert state.current == "offending_thoughts"  # "some" opens the follow-up
    assert progress(Q, state) == (3, 15)  # a follow-up shows its part: the end stays put
    state = reach(
        state,
        ("offending_thoughts", False),
        ("supervision", "wanted"),
        ("coping", 5),
        ("self_harm", False),
        ("social_support", "some"),
        ("substances", "within"),
        ("high_risk", True),
    )
    assert state.current == "high_risk_detail"
    state = reach(state, ("high_risk_detail", "  Walked past the park; I phoned Sam.  "))
    assert state.answers["high_risk_detail"] == "Walked past the park; I phoned Sam."

    # Multi-select: tick, untick, tick, then Done.
    assert state.current == "suds"
    state = toggle(Q, state, "suds", "other")
    state = toggle(Q, state, "suds", "online_late")
    state = toggle(Q, state, "suds", "route")
    state = toggle(Q, state, "suds", "online_late")
    assert state.selection == ("other", "route")
    state = confirm(Q, state, "suds")
    assert state.answers["suds"] == ("route", "other")  # option order, not tap order
    assert state.current == "suds_other"
    state = reach(state, ("suds_other", "Skipped my group"), ("lapse", False))
    assert state.current == "coping_steps"  # no lapse: "I've blown it" is not asked

    state = toggle(Q, state, "coping_steps", CALL, plan_options=PLAN)
    state = confirm(Q, state, "coping_steps", plan_options=PLAN)
    assert state.current == "coping_effect"
    state = reach(state, ("coping_effect", 7), ("confidence", 8), ("good_life", ["play", "work"]))
    assert state.current == "journal_note"
    state = skip(Q, state, "journal_note")

    assert state.current is None
    assert is_complete(Q, state)
    assert progress(Q, state) == (15, 15)
    assert "blown_it" not in state.answers and state.answers["journal_note"] is SKIPPED
    assert summary(Q, state, "es", plan_options=PLAN)[-4:] == [
        ("Cuánto ayudaron", "7/10"),
        ("Confianza para mañana", "8/10"),
        ("Por una buena vida", "Trabajo, Ocio o descanso"),
        ("Nota del diario", "Omitida"),
    ]
    rendered = dict(summary(Q, state, "en", plan_options=PLAN))
    assert rendered["Coping steps used"] == "Call my sponsor"
    assert rendered["Thoughts about offending"] == "No"
    assert rendered["People or places to avoid"] == "Briefly, not planned, and I left"


def test_a_lapse_brings_the_abstinence_violation_question() -> None:
    state = reach(start(Q), *CALM_START, ("high_risk", False), ("suds", []), ("lapse", True))
    assert state.current == "blown_it"
    state = reach(state, ("blown_it", 8))
    assert state.current == "coping_steps"


def test_a_client_goes_back_and_changes_an_earlier_answer() -> None:
    state = reach(start(Q), ("victim_access", "no"), ("anger", 3))
    state = back(Q, state, from_item="sexual_thoughts")
    assert state.current == "anger"
    assert state.answers["anger"] == 3  # kept, so the bot can show it
    state = back(Q, state)
    assert state.current == "victim_access"
    with pytest.raises(CannotGoBack):
        back(Q, state)
    state = answer(Q, state, "victim_access", "stayed")
    assert state.current == "sexual_thoughts"  # anger is still answered, so it moves on
    assert dict(state.answers) == {"victim_access": "stayed", "anger": 3}


def test_a_double_press_on_back_goes_back_once() -> None:
    state = reach(start(Q), ("victim_access", "no"), ("anger", 3))
    once = back(Q, state, from_item="sexual_thoughts")
    with pytest.raises(OutOfOrder):
        back(Q, once, from_item="sexual_thoughts")


def test_back_on_a_multi_item_shows_what_was_ticked() -> None:
    state = reach(start(Q), *CALM_START, ("high_risk", False), ("suds", ["alone"]))
    state = back(Q, state, from_item="lapse")
    assert state.current == "suds"
    assert state.selection == ("alone",)


def test_only_optional_questions_can_be_skipped() -> None:
    state = start(Q)
    with pytest.raises(InvalidAnswer) as caught:
        skip(Q, state, "victim_access")
    assert caught.value.reason == "not_skippable"
    with pytest.raises(InvalidAnswer):
        answer(Q, state, "victim_access", SKIPPED)
    state = reach(start(Q), *CALM_START, ("high_risk", True))
    state = skip(Q, state, "high_risk_detail")
    assert state.answers["high_risk_detail"] is SKIPPED
    assert state.current == "suds"


def test_a_stale_or_repeated_press_is_refused_and_changes_nothing() -> None:
    state = reach(start(Q), ("victim_access", "no"))
    before = state.to_data()
    with pytest.raises(OutOfOrder):
        answer(Q, state, "victim_access", "stayed")  # the same button pressed twice
    with pytest.raises(OutOfOrder):
        answer(Q, state, "confidence", 5)  # a button from another message
    with pytest.raises(OutOfOrder):
        toggle(Q, state, "suds", "route")
    with pytest.raises(OutOfOrder):
        skip(Q, state, "journal_note")
    with pytest.raises(OutOfOrder):
        go_to(Q, state, "confidence")  # not reached yet
    assert state.to_data() == before
    finished = calm_day()
    with pytest.raises(OutOfOrder):
        answer(Q, finished, "journal_note", "late press")


def test_invalid_answers_give_a_reason_and_never_echo_the_value() -> None:
    state = start(Q)
    cases = [
        ("victim_access", "maybe", "unknown_option"),
        ("victim_access", 1, "wrong_type"),
    ]
    for item_id, value, reason in cases:
        with pytest.raises(InvalidAnswer) as caught:
            answer(Q, state, item_id, value)
        assert caught.value.reason == reason
        assert str(value) not in str(caught.value).replace(item_id, "")
    state = reach(state, ("victim_access", "no"))
    for value, reason in [(11, "out_of_range"), (-1, "out_of_range"), (True, "wrong_type")]:
        with pytest.raises(InvalidAnswer) as caught:
            answer(Q, state, "anger", value)
        assert caught.value.reason == reason
    state = reach(state, *CALM_START[1:], ("high_risk", True))
    for text, reason in [("   ", "empty_text"), ("x" * 1001, "too_long")]:
        with pytest.raises(InvalidAnswer) as caught:
            answer(Q, state, "high_risk_detail", text)
        assert caught.value.reason == reason
    state = reach(state, ("high_risk_detail", "ok"))
    for value, reason in [
        (["route", "route"], "duplicate_option"),
        (["p00000000"], "unknown_option"),
    ]:
        with pytest.raises(InvalidAnswer) as caught:
            answer(Q, state, "suds", value)
        assert caught.value.reason == reason


def test_changing_high_risk_to_no_drops_what_happened() -> None:
    state = reach(
        start(Q), *CALM_START, ("high_risk", True), ("high_risk_detail", "At the bus stop")
    )
    state = reach(state, *CALM_REST[1:])
    assert is_complete(Q, state)
    state = go_to(Q, state, "high_risk")  # "Change an answer" on the summary
    assert state.answers["high_risk"] is True
    state = answer(Q, state, "high_risk", False)
    assert "high_risk_detail" not in state.answers
    assert state.current is None  # nothing new to ask: back to the summary
    assert is_complete(Q, state)


def test_changing_an_answer_that_opens_a_follow_up_asks_it_before_the_summary() -> None:
    state = go_to(Q, calm_day(), "lapse")
    state = answer(Q, state, "lapse", True)
    assert state.current == "blown_it"
    assert not is_complete(Q, state)
    with pytest.raises(OutOfOrder):
        go_to(Q, state, "confidence")  # past the unanswered follow-up
    state = answer(Q, state, "blown_it", 3)
    assert state.current is None and is_complete(Q, state)


def test_progress_counts_only_the_questions_asked() -> None:
    state = start(Q)
    seen = []
    for item_id, value in (*CALM_START, *CALM_REST):
        seen.append(progress(Q, state))
        state = answer(Q, state, item_id, value)
    assert seen == [(n, 15) for n in range(1, 16)]
    assert progress(Q, state) == (15, 15)
    assert progress(Q, back(Q, state)) == (15, 15)  # back from the summary: the last item


def test_a_client_who_stops_halfway_resumes_after_a_restart() -> None:
    state = reach(start(Q), *CALM_START, ("high_risk", False))
    state = toggle(Q, state, "suds", "alone")  # ticked, Done not pressed yet
    resumed = CheckInState.from_data(json.loads(json.dumps(state.to_data())))
    assert resumed == state
    resumed = confirm(Q, resumed, "suds")
    assert resumed.answers["suds"] == ("alone",)

    at_note = reach(start(Q), *CALM_START, *CALM_REST[:-1])
    skipped = skip(Q, at_note, "journal_note")
    assert CheckInState.from_data(json.loads(json.dumps(skipped.to_data()))) == skipped


def test_a_check_in_started_under_another_questionnaire_version_is_refused() -> None:
    newer = dataclasses.replace(Q, version=Q.version + 1)
    with pytest.raises(QuestionnaireChanged):
        answer(newer, start(Q), "victim_access", "no")
    assert not is_complete(newer, calm_day())


def test_a_removed_plan_step_reads_as_such_in_the_journal() -> None:
    item = Q.item("coping_steps")
    assert render_answer(item, (CALL,), "en", PLAN) == "Call my sponsor"
    assert render_answer(item, (CALL,), "es", ()) == "Un paso que ya no está en tu plan"
    assert render_answer(item, (), "en", PLAN) == "None"
    assert render_answer(Q.item("blown_it"), 10, "en") == "10/10 (Completely)"
    assert render_answer(Q.item("lapse"), True, "es") == "Sí"


# --- any sequence of presses keeps the state sound ----------------------------------------

ITEM_IDS = [item.id for item in Q.items] + ["nope"]
KEYS = sorted({o.key for item in Q.items for o in item.options} | {CALL, "p00000000"})
VALUES = st.one_of(
    st.integers(min_value=-2, max_value=12),
    st.booleans(),
    st.sampled_from(KEYS),
    st.sampled_from(["", "   ", "A few words.", "x" * 1500]),
    st.lists(st.sampled_from(KEYS), max_size=4),
    st.just(SKIPPED),
)
# Valid answers to the current item are drawn most often, so runs get deep into the check-in.
OPERATION_NAMES = ["answer_valid"] * 6 + [
    "answer",
    "answer_current",
    "toggle",
    "toggle_current",
    "confirm_current",
    "skip_current",
    "back",
    "go_to",
]


@st.composite
def operations(draw: st.DrawFn) -> tuple[str, str, object]:
    name = draw(st.sampled_from(OPERATION_NAMES))
    item_id = draw(st.sampled_from(ITEM_IDS))
    if name == "answer_valid":
        return name, item_id, draw(st.integers(0, 99))
    if name in ("toggle", "toggle_current"):
        return name, item_id, draw(st.sampled_from(KEYS))
    return name, item_id, draw(VALUES)


def valid_answers(item: Item) -> list[object]:
    """A few valid answers of every kind, so random runs get deep into the check-in."""
    if item.kind == "choice":
        return [option.key for option in item.options]
    if item.kind == "scale":
        return list(range(item.min, item.max + 1))
    if item.kind == "yesno":
        return [True, False]
    if item.kind == "multi":
        keys = [option.key for option in options_for(item, PLAN)]
        return [[], keys[:1], keys[-1:], keys]
    return ["A few words."]


def apply(state: CheckInState, operation: tuple[str, str, object]) -> CheckInState:
    name, item_id, value = operation
    current = state.current or "none"
    if name == "answer":
        return answer(Q, state, item_id, value, plan_options=PLAN)
    if name == "answer_current":
        return answer(Q, state, current, value, plan_options=PLAN)
    if name == "answer_valid":
        if state.current is None:
            return go_to(Q, state, item_id)  # on the summary: "Change an answer"
        choices = valid_answers(Q.item(state.current))
        return answer(Q, state, current, choices[int(str(value)) % len(choices)], plan_options=PLAN)
    if name in ("toggle", "toggle_current"):
        target = item_id if name == "toggle" else current
        return toggle(Q, state, target, str(value), plan_options=PLAN)
    if name == "confirm_current":
        return confirm(Q, state, current, plan_options=PLAN)
    if name == "skip_current":
        return skip(Q, state, current)
    if name == "back":
        return back(Q, state)
    return go_to(Q, state, item_id)


def assert_sound(q: Questionnaire, state: CheckInState) -> None:
    shown = [item.id for item in visible_items(q, state.answers)]
    assert set(state.answers) <= set(shown)
    for item_id, value in state.answers.items():
        assert normalize_answer(q.item(item_id), value, plan_options=PLAN) == value
    if state.current is None:
        assert is_complete(q, state)
    else:
        assert state.current in shown
        before = shown[: shown.index(state.current)]
        assert all(item_id in state.answers for item_id in before)
        if state.selection:
            assert q.item(state.current).kind == "multi"
    n, total = progress(q, state)
    assert 1 <= n <= total == sum(1 for item in q.items if item.when is None)


@settings(max_examples=300, deadline=None)
@given(st.lists(operations(), min_size=10, max_size=80))
def test_no_sequence_of_presses_leaves_a_hidden_or_invalid_answer(
    operations: list[tuple[str, str, object]],
) -> None:
    state = start(Q)
    for operation in operations:
        before = state.to_data()
        try:
            state = apply(state, operation)
        except CheckInError:
            assert state.to_data() == before
        assert_sound(Q, state)
