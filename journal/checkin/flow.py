"""The daily check-in as a pure state machine (which item is asked, answers, back, summary)
and the format a check-in row stores it in.

A stored check-in state is {"v": n, "mode": ..., "flow": CheckInState.to_data()}: `v`
grows with every change, and every button carries the `v` it was drawn for, so a button
pressed twice, or pressed on an old copy of the message, changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final, Literal

from journal.checkin.questionnaire import (
    SKIPPED,
    Answer,
    Item,
    Questionnaire,
    Skipped,
    options_for,
    plan_option_key,
)
from journal.errors import DomainError

__all__ = [
    "SKIPPED",
    "Answer",
    "CannotGoBack",
    "CheckInError",
    "CheckInState",
    "InvalidAnswer",
    "OutOfOrder",
    "QuestionnaireChanged",
    "Stored",
    "answer",
    "answers_of",
    "check_questionnaire",
    "back",
    "button_answer",
    "confirm",
    "go_to",
    "is_complete",
    "normalize_answer",
    "plan_option_key",
    "progress",
    "render_answer",
    "skip",
    "start",
    "summary",
    "toggle",
    "visible_items",
]


class CheckInError(Exception):
    """A check-in step that cannot be taken; the state it was given is left as it was."""


class InvalidAnswer(CheckInError):
    """The value is not an answer to the item. Carries a reason code, never the value."""

    def __init__(self, item_id: str, reason: str) -> None:
        self.item_id = item_id
        self.reason = reason
        super().__init__(f"item {item_id!r}: invalid answer ({reason})")


class OutOfOrder(CheckInError):
    """The item is not the one being asked (a stale or repeated button press)."""

    def __init__(self, item_id: str, current: str | None) -> None:
        self.item_id = item_id
        self.current = current
        super().__init__(f"item {item_id!r} is not being asked (current: {current!r})")


class CannotGoBack(CheckInError):
    """Back was pressed on the first item."""


class QuestionnaireChanged(CheckInError, DomainError):
    """The state was started under another questionnaire id or version: the program
    changed the questions while this check-in was open. The one error for that event,
    raised by the flow and by the service before it touches a stored state."""

    key = "checkin.changed"


# Reason codes of InvalidAnswer.
WRONG_TYPE: Final = "wrong_type"
UNKNOWN_OPTION: Final = "unknown_option"
DUPLICATE_OPTION: Final = "duplicate_option"
OUT_OF_RANGE: Final = "out_of_range"
EMPTY_TEXT: Final = "empty_text"
TOO_LONG: Final = "too_long"
NOT_SKIPPABLE: Final = "not_skippable"
NOT_MULTI: Final = "not_multi"


@dataclass(frozen=True)
class CheckInState:
    """Everything the bot stores between two button presses.

    Invariants kept by every function here: answers hold only visible items and valid
    values; every visible item before `current` is answered; `current` is None only when
    every visible item is answered (the summary is shown).
    """

    questionnaire: str
    version: int
    answers: Mapping[str, Answer]
    current: str | None
    # Options ticked so far on the current multi item, before the client presses Done.
    selection: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # A read-only copy, so a caller's dict cannot change a stored state behind its back.
        object.__setattr__(self, "answers", MappingProxyType(dict(self.answers)))

    def to_data(self) -> dict[str, Any]:
        """Plain JSON-ready values for storage; SKIPPED becomes {"skipped": true}."""
        return {
            "questionnaire": self.questionnaire,
            "version": self.version,
            "answers": {key: _dump(value) for key, value in self.answers.items()},
            "current": self.current,
            "selection": list(self.selection),
        }

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> CheckInState:
        """The state back from `to_data`'s values."""
        return cls(
            questionnaire=str(data["questionnaire"]),
            version=int(data["version"]),
            answers={key: _load(value) for key, value in data["answers"].items()},
            current=data["current"],
            selection=tuple(data.get("selection", ())),
        )


def _dump(value: Answer) -> Any:
    if value is SKIPPED:
        return {"skipped": True}
    if isinstance(value, tuple):
        return list(value)
    return value


def _load(value: Any) -> Answer:
    if isinstance(value, dict) and value.get("skipped") is True:
        return SKIPPED
    if isinstance(value, list):
        return tuple(str(key) for key in value)
    if isinstance(value, str | int | bool):
        return value
    raise ValueError("stored answer has an unknown form")


@dataclass(frozen=True)
class Stored:
    """What is sealed in a check-in row's state: the flow, its version and the screen."""

    version: int
    state: CheckInState
    mode: Literal["flow", "change"] = "flow"

    def to_data(self) -> dict[str, Any]:
        return {"v": self.version, "mode": self.mode, "flow": self.state.to_data()}

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Stored:
        state = CheckInState.from_data(data["flow"])
        if data.get("mode") == "change":
            return cls(int(data["v"]), state, "change")
        return cls(int(data["v"]), state)

    def next(self, state: CheckInState, mode: Literal["flow", "change"] = "flow") -> Stored:
        return Stored(self.version + 1, state, mode)


def answers_of(stored: Mapping[str, Any]) -> Mapping[str, Answer]:
    """The answers in a stored check-in state (alerts and reviews read history through this)."""
    return CheckInState.from_data(stored["flow"]).answers


def start(q: Questionnaire) -> CheckInState:
    """A fresh check-in at its first visible item."""
    return _arrive(q, {}, _first_unanswered(q, {}))


def visible_items(q: Questionnaire, answers: Mapping[str, Answer]) -> tuple[Item, ...]:
    """The items asked, given the answers so far; an item under a hidden item is hidden."""
    shown: list[Item] = []
    shown_ids: set[str] = set()
    for item in q.items:
        condition = item.when
        if condition is None or (
            condition.item in shown_ids and condition.holds(answers.get(condition.item))
        ):
            shown.append(item)
            shown_ids.add(item.id)
    return tuple(shown)


def normalize_answer(item: Item, value: object, *, plan_options: Sequence[str] = ()) -> Answer:
    """The stored form of a valid answer; raises InvalidAnswer (with a reason code) if not."""
    if value is SKIPPED:
        if not item.skippable:
            raise InvalidAnswer(item.id, NOT_SKIPPABLE)
        return SKIPPED
    if item.kind == "choice":
        if not isinstance(value, str):
            raise InvalidAnswer(item.id, WRONG_TYPE)
        if item.option(value) is None:
            raise InvalidAnswer(item.id, UNKNOWN_OPTION)
        return value
    if item.kind == "yesno":
        if not isinstance(value, bool):
            raise InvalidAnswer(item.id, WRONG_TYPE)
        return value
    if item.kind == "scale":
        if not isinstance(value, int) or isinstance(value, bool):
            raise InvalidAnswer(item.id, WRONG_TYPE)
        if not item.min <= value <= item.max:
            raise InvalidAnswer(item.id, OUT_OF_RANGE)
        return value
    if item.kind == "multi":
        if not isinstance(value, list | tuple) or not all(isinstance(k, str) for k in value):
            raise InvalidAnswer(item.id, WRONG_TYPE)
        if len(set(value)) != len(value):
            raise InvalidAnswer(item.id, DUPLICATE_OPTION)
        order = [option.key for option in options_for(item, plan_options)]
        if not set(value) <= set(order):
            raise InvalidAnswer(item.id, UNKNOWN_OPTION)
        # Option order, so the same choice is stored the same way whatever the tap order.
        return tuple(key for key in order if key in value)
    # text
    if not isinstance(value, str):
        raise InvalidAnswer(item.id, WRONG_TYPE)
    text = value.strip()
    if not text:
        raise InvalidAnswer(item.id, EMPTY_TEXT)
    if len(text) > item.max_length:
        raise InvalidAnswer(item.id, TOO_LONG)
    return text


def answer(
    q: Questionnaire,
    state: CheckInState,
    item_id: str,
    value: object,
    *,
    plan_options: Sequence[str] = (),
) -> CheckInState:
    """Record the answer to the current item and move to the next unanswered one.

    Changing an answer may hide later items (yes → no on a high-risk situation); their
    answers are dropped, so the journal never keeps an answer to a question not asked.
    """
    item = _current_item(q, state, item_id)
    stored = normalize_answer(item, value, plan_options=plan_options)
    answers = _prune(q, {**state.answers, item_id: stored})
    return _arrive(q, answers, _first_unanswered(q, answers))


def button_answer(item: Item, value: int) -> object:
    """The answer a button's number stands for: a choice by option position, a scale point,
    yes (1) or no (0); a number that fits nothing yields a value `answer` refuses."""
    if item.kind == "choice":
        return item.options[value].key if 0 <= value < len(item.options) else ""
    if item.kind == "yesno":
        return {1: True, 0: False}.get(value, "")
    if item.kind == "scale":
        return value
    raise InvalidAnswer(item.id, WRONG_TYPE)


def skip(q: Questionnaire, state: CheckInState, item_id: str) -> CheckInState:
    """Skip the current item, where the questionnaire allows it."""
    item = _current_item(q, state, item_id)
    if not item.skippable:
        raise InvalidAnswer(item_id, NOT_SKIPPABLE)
    return answer(q, state, item_id, SKIPPED)


def toggle(
    q: Questionnaire,
    state: CheckInState,
    item_id: str,
    key: str,
    *,
    plan_options: Sequence[str] = (),
) -> CheckInState:
    """Tick or untick one option of the current multi item; Done is `confirm`."""
    item = _current_item(q, state, item_id)
    if item.kind != "multi":
        raise InvalidAnswer(item_id, NOT_MULTI)
    if key in state.selection:
        # Unticking always works, even for a step since removed from the plan.
        chosen = tuple(k for k in state.selection if k != key)
    else:
        if key not in {option.key for option in options_for(item, plan_options)}:
            raise InvalidAnswer(item_id, UNKNOWN_OPTION)
        chosen = (*state.selection, key)
    return CheckInState(state.questionnaire, state.version, state.answers, state.current, chosen)


def confirm(
    q: Questionnaire,
    state: CheckInState,
    item_id: str,
    *,
    plan_options: Sequence[str] = (),
) -> CheckInState:
    """Done on a multi item: the ticked options are the answer (none ticked is an answer)."""
    item = _current_item(q, state, item_id)
    if item.kind != "multi":
        raise InvalidAnswer(item_id, NOT_MULTI)
    # A step ticked earlier but since removed from the plan cannot be chosen now; dropping
    # it here keeps the client from being stuck on an answer they cannot confirm.
    offered = {option.key for option in options_for(item, plan_options)}
    chosen = [key for key in state.selection if key in offered]
    return answer(q, state, item_id, chosen, plan_options=plan_options)


def back(q: Questionnaire, state: CheckInState, *, from_item: str | None = None) -> CheckInState:
    """Show the previous visible item again, with its answer kept for changing.

    Pass `from_item` (the item whose Back button was pressed) so a double press goes back
    once, not twice.
    """
    check_questionnaire(q, state)
    if from_item is not None and from_item != state.current:
        raise OutOfOrder(from_item, state.current)
    shown = [item.id for item in visible_items(q, state.answers)]
    if state.current is None:
        target = shown[-1]
    else:
        index = shown.index(state.current)
        if index == 0:
            raise CannotGoBack(f"item {state.current!r} is the first item")
        target = shown[index - 1]
    return _arrive(q, state.answers, target)


def go_to(q: Questionnaire, state: CheckInState, item_id: str) -> CheckInState:
    """Show an answered item again ("Change an answer" on the summary).

    After the change the flow goes to the next unanswered item, which is the summary
    unless the new answer opened a follow-up question.
    """
    check_questionnaire(q, state)
    shown = [item.id for item in visible_items(q, state.answers)]
    first_open = _first_unanswered(q, state.answers)
    # Only items up to the first unanswered one: the flow never leaves a gap behind.
    reachable = shown if first_open is None else shown[: shown.index(first_open) + 1]
    if item_id not in reachable:
        raise OutOfOrder(item_id, state.current)
    return _arrive(q, state.answers, item_id)


def progress(q: Questionnaire, state: CheckInState) -> tuple[int, int]:
    """(the part the client is on, the questionnaire's parts), e.g. (3, 15).

    A part is an item asked every day together with the follow-ups it may open, so the
    total is fixed and a follow-up shows its part's number: walking forward, the shown
    progress never goes back and its end never moves away."""
    parts = [item.id for item in q.items if item.when is None]
    if state.current is None:
        return len(parts), len(parts)
    order = [item.id for item in q.items]
    at = order.index(state.current)
    part = sum(1 for item in q.items[: at + 1] if item.when is None)
    return max(part, 1), len(parts)


def is_complete(q: Questionnaire, state: CheckInState) -> bool:
    """Every visible item is answered and the client has reached the summary."""
    if (state.questionnaire, state.version) != (q.id, q.version) or state.current is not None:
        return False
    return all(item.id in state.answers for item in visible_items(q, state.answers))


def summary(
    q: Questionnaire,
    state: CheckInState,
    lang: str,
    *,
    plan_options: Sequence[str] = (),
) -> list[tuple[str, str]]:
    """(question in a few words, answer) for every answered item, in questionnaire order."""
    check_questionnaire(q, state)
    return [
        (item.short.get(lang), render_answer(item, state.answers[item.id], lang, plan_options))
        for item in visible_items(q, state.answers)
        if item.id in state.answers
    ]


def render_answer(item: Item, value: Answer, lang: str, plan_options: Sequence[str] = ()) -> str:
    """An answer as the client reads it in their language."""
    phrases = item.phrases
    if isinstance(value, Skipped):
        return phrases.get("skipped", lang)
    if item.kind == "yesno":
        return phrases.get("yes" if value else "no", lang)
    if item.kind == "scale" and isinstance(value, int):
        label = item.labels.get(value)
        return f"{value}/{item.max}" + (f" ({label.get(lang)})" if label else "")
    if item.kind in ("choice", "multi"):
        keys = value if isinstance(value, tuple) else (str(value),)
        if not keys:
            return phrases.get("none_selected", lang)
        labels = {option.key: option.label.get(lang) for option in options_for(item, plan_options)}
        # A plan step removed since the answer was given is named as such, not as a key.
        return ", ".join(labels.get(key, phrases.get("removed_step", lang)) for key in keys)
    return str(value)


# --- internals --------------------------------------------------------------------------


def check_questionnaire(q: Questionnaire, state: CheckInState) -> None:
    if (state.questionnaire, state.version) != (q.id, q.version):
        raise QuestionnaireChanged(
            f"check-in started under {state.questionnaire!r} v{state.version}, "
            f"not {q.id!r} v{q.version}"
        )


def _current_item(q: Questionnaire, state: CheckInState, item_id: str) -> Item:
    check_questionnaire(q, state)
    if state.current is None or item_id != state.current:
        raise OutOfOrder(item_id, state.current)
    return q.item(item_id)


def _prune(q: Questionnaire, answers: Mapping[str, Answer]) -> dict[str, Answer]:
    shown = {item.id for item in visible_items(q, answers)}
    return {key: value for key, value in answers.items() if key in shown}


def _first_unanswered(q: Questionnaire, answers: Mapping[str, Answer]) -> str | None:
    return next((i.id for i in visible_items(q, answers) if i.id not in answers), None)


def _arrive(q: Questionnaire, answers: Mapping[str, Answer], current: str | None) -> CheckInState:
    # Arriving at a multi item starts the ticks from its stored answer, so Back and
    # "Change an answer" show what was chosen before.
    selection: tuple[str, ...] = ()
    if current is not None and q.item(current).kind == "multi":
        stored = answers.get(current)
        selection = stored if isinstance(stored, tuple) else ()
    return CheckInState(q.id, q.version, answers, current, selection)
