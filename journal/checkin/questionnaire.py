"""The check-in questionnaire as a model: items, options, conditions, scores (read from a
program's file by journal.checkin.questionnaire_file)."""

from __future__ import annotations

import enum
import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final, Literal, TypeAlias, get_args

ItemKind: TypeAlias = Literal["choice", "scale", "yesno", "multi", "text"]
KINDS: Final[tuple[str, ...]] = get_args(ItemKind)

# Where a multi item may take run-time options from.
OPTION_SOURCES: Final = frozenset({"plan.coping"})
FLAGS: Final = frozenset({"crisis"})
PHRASES: Final = ("yes", "no", "skipped", "none_selected", "removed_step")

ITEM_ID: Final = re.compile(r"[a-z0-9_]{1,24}")
# Option keys travel in Telegram callback data (64 bytes at most), so they stay short.
OPTION_KEY: Final = re.compile(r"[a-z0-9_]{1,16}")
QUESTIONNAIRE_ID: Final = re.compile(r"[a-z0-9_-]{1,40}")
# Keys of options built from the client's plan; fixed options must not look like them.
PLAN_KEY: Final = re.compile(r"p[0-9a-f]{8}")
MAX_SCORE: Final = 2  # an indicator scores each item 0, 1 or 2, like each ACUTE-2007 domain
MAX_TEXT_LENGTH: Final = 4000  # one Telegram message holds 4096 characters


class Skipped(enum.Enum):
    """The client chose to skip an item (only where the item allows it)."""

    SKIPPED = "skipped"

    def __repr__(self) -> str:
        return "SKIPPED"


SKIPPED: Final = Skipped.SKIPPED

# One answer: choice → option key, scale → int, yesno → bool, multi → option keys in
# option order, text → str.
Answer: TypeAlias = str | int | bool | tuple[str, ...] | Skipped


@dataclass(frozen=True)
class Localized:
    """One text in every language of the questionnaire."""

    texts: Mapping[str, str]

    def get(self, lang: str) -> str:
        # Falls back to the questionnaire's first language rather than failing a client
        # whose language the program has not translated yet.
        if lang in self.texts:
            return self.texts[lang]
        return next(iter(self.texts.values()))


@dataclass(frozen=True)
class Option:
    key: str
    label: Localized


@dataclass(frozen=True)
class ScoreRange:
    """Scale values up to and including `max` score `value` (ranges are checked in order)."""

    max: int
    value: int


@dataclass(frozen=True)
class Condition:
    """Show an item only when an earlier answer matches (exactly one test is set)."""

    item: str
    equals: bool | int | str | None = None
    one_of: tuple[str, ...] = ()
    not_empty: bool = False

    def holds(self, answer: Answer | None) -> bool:
        if answer is None or answer is SKIPPED:
            return False
        if self.not_empty:
            return bool(answer)
        if self.one_of:
            if isinstance(answer, tuple):
                return any(key in self.one_of for key in answer)
            return isinstance(answer, str) and answer in self.one_of
        # bool is an int in Python; compare kinds too so `equals = 1` never matches `True`.
        return type(answer) is type(self.equals) and answer == self.equals


@dataclass(frozen=True)
class Phrases:
    """Small words for rendering answers: yes, no, skipped, none selected, removed step."""

    texts: Mapping[str, Localized]

    def get(self, name: str, lang: str) -> str:
        return self.texts[name].get(lang)


@dataclass(frozen=True)
class Item:
    id: str
    kind: ItemKind
    text: Localized
    short: Localized  # the question in a few words, for the summary and reports
    skippable: bool = False
    when: Condition | None = None
    options: tuple[Option, ...] = ()  # choice and multi; for multi, fixed options
    options_from: str | None = None  # multi only: "plan.coping"
    min: int = 0  # scale only
    max: int = 10
    labels: Mapping[int, Localized] = field(default_factory=dict)  # scale points
    max_length: int = 0  # text only
    option_scores: Mapping[str, int] = field(default_factory=dict)  # choice; yesno "yes"/"no"
    range_scores: tuple[ScoreRange, ...] = ()  # scale
    indicators: tuple[str, ...] = ()
    domain: str | None = None
    flags: frozenset[str] = frozenset()
    # Shared by every item of a questionnaire, so an item renders its answers on its own.
    phrases: Phrases = field(default_factory=lambda: Phrases({}), compare=False, repr=False)

    @property
    def crisis(self) -> bool:
        """A yes means crisis resources are shown to the client at once."""
        return "crisis" in self.flags

    @property
    def scored(self) -> bool:
        return bool(self.option_scores or self.range_scores)

    def option(self, key: str) -> Option | None:
        return next((option for option in self.options if option.key == key), None)


@dataclass(frozen=True)
class RollUp:
    """A roll-up indicator: the sum, over the domains of the items that count in it, of
    each domain's highest item score."""

    id: str
    label: Localized  # its name in a chart, a table, the caseload: "General indicator"
    short: Localized  # its name beside a number: "general 5"


@dataclass(frozen=True)
class Scale:
    """A scale item the review charts as it is (0-10: confidence, coping...)."""

    item: str
    label: Localized


# What the review reads, by the part an item plays, and the kind of item each part needs.
REVIEW_PARTS: Final[Mapping[str, str]] = MappingProxyType({
    "situation": "yesno",  # a high-risk situation today
    "situation_detail": "text",  # what happened in it
    "coping_used": "multi",  # the coping steps used
    "coping_effect": "scale",  # how well they worked
    "lapse": "yesno",
    "lapse_feeling": "scale",  # "I've blown it anyway" after a lapse
    "self_harm": "yesno",
    "small_decisions": "multi",  # seemingly unimportant decisions
    "small_decisions_other": "text",  # the "other" one in words
    "good_life": "multi",  # steps toward a good life
    "note": "text",  # the day's journal note
})


@dataclass(frozen=True)
class ReviewItems:
    """Which item plays each part the review reads (REVIEW_PARTS; None: no such item), and
    the scales it charts. A program with its own check-in names its own items here."""

    scales: tuple[Scale, ...] = ()
    parts: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def item(self, part: str) -> str | None:
        """The id of the item playing `part`, or None."""
        assert part in REVIEW_PARTS, part
        return self.parts.get(part)

    def answer(self, answers: Mapping[str, Answer], part: str) -> Answer | None:
        """The answer to the item playing `part` (None: no such item, or not answered)."""
        item_id = self.item(part)
        return answers.get(item_id) if item_id is not None else None


@dataclass(frozen=True)
class Questionnaire:
    id: str
    version: int
    languages: tuple[str, ...]
    items: tuple[Item, ...]
    title: Localized
    phrases: Phrases
    # The roll-ups items count in, the domains they are grouped by (id -> name, in the
    # report's order) and the parts the review reads: all declared by the file.
    roll_ups: tuple[RollUp, ...] = ()
    domains: Mapping[str, Localized] = field(default_factory=lambda: MappingProxyType({}))
    review: ReviewItems = field(default_factory=ReviewItems)
    _by_id: Mapping[str, Item] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", MappingProxyType({i.id: i for i in self.items}))

    def item(self, item_id: str) -> Item:
        """The item with this id; KeyError if there is none."""
        try:
            return self._by_id[item_id]
        except KeyError:
            raise KeyError(f"questionnaire {self.id!r} has no item {item_id!r}") from None

    def has_item(self, item_id: str) -> bool:
        return item_id in self._by_id

    def position(self, item_id: str) -> int:
        return self.items.index(self.item(item_id))

    @property
    def roll_up_ids(self) -> tuple[str, ...]:
        return tuple(roll_up.id for roll_up in self.roll_ups)


def score_item(item: Item, value: Answer | None) -> int | None:
    """The item's indicator score (0-2) for an answer; None when unscored or not answered."""
    if value is None or value is SKIPPED:
        return None
    if item.kind == "choice" and isinstance(value, str):
        return item.option_scores.get(value)
    if item.kind == "yesno" and isinstance(value, bool):
        return item.option_scores.get("yes" if value else "no")
    if item.kind == "scale" and isinstance(value, int) and not isinstance(value, bool):
        for score_range in item.range_scores:
            if value <= score_range.max:
                return score_range.value
    return None


def plan_option_key(step: str) -> str:
    """A stable option key for one step of the client's plan.

    Derived from the step's text, not its position, so reordering the plan between two
    check-ins never turns yesterday's answer into a different step.
    """
    normalized = " ".join(step.split()).casefold()
    return "p" + hashlib.sha256(normalized.encode()).hexdigest()[:8]


def options_for(item: Item, plan_steps: Sequence[str] = ()) -> tuple[Option, ...]:
    """An item's options: for a plan item, the client's steps first, then fixed options."""
    if item.options_from is None:
        return item.options
    seen: set[str] = set()
    from_plan: list[Option] = []
    for step in plan_steps:
        key = plan_option_key(step)
        if key in seen or not step.strip():
            continue  # the same step written twice is one step
        seen.add(key)
        from_plan.append(Option(key, Localized({"*": " ".join(step.split())})))
    return (*from_plan, *item.options)
