"""What the check-in message shows, as plain values: the view model of each screen and the
outcome of one action. bot/views/checkin.py turns a view into text and buttons."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Final, Literal

from journal.checkin import flow
from journal.checkin.flow import Stored
from journal.checkin.questionnaire import (
    Answer,
    Item,
    Option,
    Questionnaire,
    options_for,
)
from journal.i18n import N_

# Short notices shown on the tapped button (answerCallbackQuery); gettext msgids.
CLOSED: Final = N_("This check-in is closed.")
ALREADY_SAVED: Final = N_("Already saved.")
ALREADY_DONE: Final = N_("You've already checked in today. Thank you, see you tomorrow.")
NOT_FINISHED: Final = N_("A few questions are still open.")

Screen = Literal["item", "summary", "change", "done"]


@dataclass(frozen=True)
class CheckInView:
    """What the check-in message shows, in plain values; bot/ turns it into text and buttons."""

    day: date
    version: int
    language: str
    screen: Screen
    title: str = ""
    item: Item | None = None
    options: tuple[Option, ...] = ()  # choice and multi items, plan steps included
    selection: tuple[str, ...] = ()  # ticked options of a multi item
    previous: Answer | None = None  # the answer given before, when coming back to an item
    position: tuple[int, int] = (0, 0)
    can_go_back: bool = False
    answers: tuple[tuple[str, str], ...] = ()  # summary: (question in short, answer)
    quiet: tuple[str, ...] = ()  # summary: questions answered no or none, folded in a line
    changeable: tuple[tuple[int, str], ...] = ()  # change list: (item position, short)
    streak: int = 0


@dataclass(frozen=True)
class Step:
    """The outcome of one action, for the bot to show.

    `notice` answers the tapped button; `view` is drawn by editing `edit` (or as a new
    message when `edit` is None); `retire` is an older copy of the check-in message to
    neutralise; `crisis` asks for the crisis resources first, as their own message."""

    checkin_id: str | None = None
    view: CheckInView | None = None
    notice: str | None = None
    edit: int | None = None
    retire: int | None = None
    crisis: bool = False
    clinician_contact: str = ""
    later_minutes: int = 0


def view_of(q: Questionnaire, lang: str, day: date, stored: Stored,
            plan: Sequence[str] = ()) -> CheckInView:
    """The screen a stored check-in is on, in the client's language."""
    state = stored.state
    base = CheckInView(day=day, version=stored.version, language=lang, screen="item",
                       title=q.title.get(lang))
    if stored.mode == "change":
        changeable = tuple((q.position(item.id), item.short.get(lang))
                           for item in flow.visible_items(q, state.answers)
                           if item.id in state.answers)
        return replace(base, screen="change", changeable=changeable)
    if state.current is None:
        # One phone screen: what the client reported, each on its line; the questions
        # answered "no" or "none" folded into one line of their short names.
        flow.check_questionnaire(q, state)
        answered = [item for item in flow.visible_items(q, state.answers)
                    if item.id in state.answers]
        quiet = tuple(item.short.get(lang) for item in answered
                      if reports_nothing(item, state.answers[item.id]))
        answers = tuple((question, _shorten(answer)) for (question, answer), item in zip(
            flow.summary(q, state, lang, plan_options=plan), answered, strict=True)
            if not reports_nothing(item, state.answers[item.id]))
        return replace(base, screen="summary", answers=answers, quiet=quiet,
                       can_go_back=True)
    item = q.item(state.current)
    position = flow.progress(q, state)
    return replace(base, item=item, options=options_for(item, plan),
                   selection=state.selection, previous=state.answers.get(item.id),
                   position=position, can_go_back=position[0] > 1)


def reports_nothing(item: Item, value: Answer) -> bool:
    """A "no" or "none": a yes/no answered no, a multi with nothing chosen, or a choice the
    questionnaire scores 0. Scales and texts always say something; a skip is shown as one."""
    if item.kind == "yesno":
        return value is False
    if item.kind == "multi":
        return isinstance(value, tuple) and not value
    if item.kind == "choice" and isinstance(value, str):
        return item.option_scores.get(value) == 0
    return False


def _shorten(text: str, limit: int = 80) -> str:
    # The summary sits in the chat until it is submitted; long journal text stays out of it.
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


__all__: Sequence[str] = ("ALREADY_DONE", "ALREADY_SAVED", "CLOSED", "NOT_FINISHED",
                          "CheckInView", "Step", "reports_nothing", "view_of")
