"""The questionnaire file: a program's versioned TOML, read and validated with every problem
listed (the model it yields is journal.checkin.questionnaire)."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import replace
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, TypeGuard, cast

from journal.checkin.questionnaire import (
    FLAGS,
    ITEM_ID,
    KINDS,
    MAX_SCORE,
    MAX_TEXT_LENGTH,
    OPTION_KEY,
    OPTION_SOURCES,
    PHRASES,
    PLAN_KEY,
    QUESTIONNAIRE_ID,
    REVIEW_PARTS,
    Condition,
    Item,
    Localized,
    Option,
    Phrases,
    Questionnaire,
    ReviewItems,
    RollUp,
    Scale,
    ScoreRange,
)
from journal.errors import DataFileError

DEFAULT_FILE: Final = "checkin_default.toml"
DOMAIN_ID: Final = re.compile(r"[a-z0-9_]{1,40}")
# A check-in's stored scores keep each roll-up under its id beside these.
STORED_BESIDE: Final = frozenset({"items", "domains"})


class QuestionnaireError(DataFileError):
    """The questionnaire file is not valid."""


def read_data_file(path: Path | None, default: str, error: type[DataFileError],
                   what: str) -> dict[str, Any]:
    """The TOML of a program's data file, or of the packaged default when path is None."""
    try:
        if path is None:
            raw = resources.files("journal").joinpath(default).read_text(encoding="utf-8")
        else:
            raw = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise error([f"cannot read {what}: {exc.strerror}"]) from None
    try:
        return tomllib.loads(raw)
    except tomllib.TOMLDecodeError as exc:
        raise error([f"{what} is not valid TOML: {exc}"]) from None


def load_questionnaire(path: Path | None = None) -> Questionnaire:
    """Read and validate a questionnaire file; None reads the packaged default check-in."""
    return parse_questionnaire(
        read_data_file(path, DEFAULT_FILE, QuestionnaireError, "questionnaire"))


def parse_questionnaire(data: Mapping[str, Any]) -> Questionnaire:
    """Validate questionnaire data (as read from TOML); raises with every problem found."""
    return _Parser().questionnaire(data)


# --- validation -------------------------------------------------------------------------

_TOP_KEYS: Final = frozenset({"id", "version", "languages", "title", "phrases", "roll_ups",
                              "domains", "review", "items"})
_ITEM_KEYS: Final = frozenset(
    {
        "id", "kind", "text", "short", "skippable", "when", "options", "options_from",
        "min", "max", "labels", "max_length", "score", "indicators", "domain", "flags",
    }
)  # fmt: skip
_KIND_KEYS: Final[Mapping[str, frozenset[str]]] = {
    "choice": frozenset({"options", "score"}),
    "scale": frozenset({"min", "max", "labels", "score"}),
    "yesno": frozenset({"score"}),
    "multi": frozenset({"options", "options_from"}),
    "text": frozenset({"max_length"}),
}
_KIND_ONLY_KEYS: Final = frozenset().union(*_KIND_KEYS.values())


def is_whole_number(value: object) -> TypeGuard[int]:
    """A TOML integer (a bool is an int to Python, never to a data file)."""
    return isinstance(value, int) and not isinstance(value, bool)


def file_version(data: Mapping[str, Any], problems: list[str]) -> int:
    """The `version` every program data file carries: a whole number from 1 (0 if not)."""
    version = data.get("version")
    if not is_whole_number(version) or version < 1:
        problems.append("version must be a whole number from 1")
        return 0
    return version


class _Parser:
    """Collects every problem instead of stopping at the first, so one edit fixes them all."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.languages: tuple[str, ...] = ()
        self.roll_ups: tuple[RollUp, ...] = ()
        self.domains: Mapping[str, Localized] = MappingProxyType({})

    def questionnaire(self, data: Mapping[str, Any]) -> Questionnaire:
        for key in sorted(set(data) - _TOP_KEYS):
            self.problems.append(f"unknown top-level key {key!r}")
        qid = data.get("id")
        if not isinstance(qid, str) or not QUESTIONNAIRE_ID.fullmatch(qid):
            self.problems.append("questionnaire id must match [a-z0-9_-]{1,40}")
            qid = ""
        version = file_version(data, self.problems)
        languages = data.get("languages")
        if (
            not isinstance(languages, list)
            or not languages
            or not all(isinstance(lang, str) and lang for lang in languages)
            or len(set(languages)) != len(languages)
        ):
            self.problems.append("languages must be a non-empty list of distinct language codes")
            languages = ["en"]
        self.languages = tuple(languages)
        title = self.localized(data.get("title"), "questionnaire title")
        phrases = self.phrases(data.get("phrases"))
        self.roll_ups = self.roll_up_list(data.get("roll_ups", []))
        self.domains = self.domain_table(data.get("domains", {}))

        raw_items = data.get("items")
        items: list[Item] = []
        if not isinstance(raw_items, list) or not raw_items:
            self.problems.append("items must be a non-empty list of [[items]] tables")
            raw_items = []
        seen: dict[str, Item] = {}
        for index, raw in enumerate(raw_items):
            item = self.item(raw, index, seen, phrases)
            if item is None:
                continue
            if item.id in seen:
                self.problems.append(f"item {item.id!r}: duplicate id")
                continue
            seen[item.id] = item
            items.append(item)
        review = self.review(data.get("review", {}), seen)
        if self.problems:
            raise QuestionnaireError(self.problems)
        return Questionnaire(
            id=cast(str, qid),
            version=cast(int, version),
            languages=self.languages,
            items=tuple(items),
            title=title,
            phrases=phrases,
            roll_ups=self.roll_ups,
            domains=self.domains,
            review=review,
        )

    def roll_up_list(self, raw: object) -> tuple[RollUp, ...]:
        if not isinstance(raw, list) or not all(isinstance(r, dict) for r in raw):
            self.problems.append("roll_ups must be a list of [[roll_ups]] tables")
            return ()
        found: list[RollUp] = []
        for index, table in enumerate(raw):
            roll_up_id = table.get("id")
            if not isinstance(roll_up_id, str) or not ITEM_ID.fullmatch(roll_up_id):
                self.problems.append(
                    f"roll-up #{index + 1}: id {roll_up_id!r} must match [a-z0-9_]{{1,24}}")
                continue
            name = f"roll-up {roll_up_id!r}"
            if roll_up_id in STORED_BESIDE:
                self.problems.append(f"{name}: id is reserved")
                continue
            for key in sorted(set(table) - {"id", "label", "short"}):
                self.problems.append(f"{name}: unknown key {key!r}")
            if any(r.id == roll_up_id for r in found):
                self.problems.append(f"{name}: duplicate id")
                continue
            label = self.localized(table.get("label"), f"{name} label")
            short = (self.localized(table["short"], f"{name} short") if "short" in table
                     else label)
            found.append(RollUp(roll_up_id, label, short))
        return tuple(found)

    def domain_table(self, raw: object) -> Mapping[str, Localized]:
        if not isinstance(raw, dict):
            self.problems.append("[domains] must be a table of domain ids and their names")
            return MappingProxyType({})
        found: dict[str, Localized] = {}
        for domain, label in raw.items():
            if not DOMAIN_ID.fullmatch(domain):
                self.problems.append(f"domain {domain!r}: id must match [a-z0-9_]{{1,40}}")
                continue
            found[domain] = self.localized(label, f"domain {domain!r}")
        return MappingProxyType(found)

    def review(self, raw: object, items: Mapping[str, Item]) -> ReviewItems:
        if not isinstance(raw, dict):
            self.problems.append("[review] must be a table")
            return ReviewItems()
        for key in sorted(set(raw) - set(REVIEW_PARTS) - {"scales"}):
            self.problems.append(
                f"review: unknown key {key!r} (known: scales, {', '.join(REVIEW_PARTS)})")
        parts: dict[str, str] = {}
        for part, kind in REVIEW_PARTS.items():
            if part not in raw:
                continue
            item = self.review_item(raw[part], f"review {part}", items)
            if item is None:
                continue
            if item.kind != kind:
                self.problems.append(
                    f"review {part}: item {item.id!r} is a {item.kind} item, not {kind}")
                continue
            parts[part] = item.id
        scales: list[Scale] = []
        raw_scales = raw.get("scales", [])
        if not isinstance(raw_scales, list) or not all(isinstance(s, dict) for s in raw_scales):
            self.problems.append("review scales must be a list like [{ item = ..., label = ... }]")
            raw_scales = []
        for index, table in enumerate(raw_scales):
            where = f"review scale #{index + 1}"
            for key in sorted(set(table) - {"item", "label"}):
                self.problems.append(f"{where}: unknown key {key!r}")
            item = self.review_item(table.get("item"), where, items)
            if item is None:
                continue
            if item.kind != "scale":
                self.problems.append(f"{where}: item {item.id!r} is a {item.kind} item, not scale")
                continue
            label = (self.localized(table["label"], f"{where} label") if "label" in table
                     else item.short)
            scales.append(Scale(item.id, label))
        return ReviewItems(scales=tuple(scales), parts=MappingProxyType(parts))

    def review_item(self, item_id: object, where: str, items: Mapping[str, Item]
                    ) -> Item | None:
        if not isinstance(item_id, str) or item_id not in items:
            self.problems.append(f"{where}: {item_id!r} is not an item of this questionnaire")
            return None
        return items[item_id]

    def localized(self, raw: object, where: str) -> Localized:
        if isinstance(raw, str):
            raw = {self.languages[0]: raw} if self.languages else {}
        if not isinstance(raw, dict):
            self.problems.append(f"{where}: text must be a table of languages, e.g. {{ en = ... }}")
            return Localized({lang: "" for lang in self.languages})
        for lang in self.languages:
            text = raw.get(lang)
            if not isinstance(text, str) or not text.strip():
                self.problems.append(f"{where}: missing {lang!r} text")
        for lang in sorted(set(raw) - set(self.languages)):
            self.problems.append(f"{where}: text in {lang!r}, which is not in languages")
        # Keep the questionnaire's language order so Localized.get falls back to the first.
        return Localized(
            MappingProxyType({lang: str(raw.get(lang, "")) for lang in self.languages})
        )

    def phrases(self, raw: object) -> Phrases:
        if not isinstance(raw, dict):
            self.problems.append(f"[phrases] table missing; it needs {', '.join(PHRASES)}")
            return Phrases(MappingProxyType({}))
        for name in sorted(set(raw) - set(PHRASES)):
            self.problems.append(f"phrase {name!r}: unknown (known: {', '.join(PHRASES)})")
        texts = {}
        for name in PHRASES:
            if name in raw:
                texts[name] = self.localized(raw[name], f"phrase {name!r}")
            else:
                self.problems.append(f"phrase {name!r}: missing")
        return Phrases(MappingProxyType(texts))

    def item(
        self, raw: object, index: int, earlier: Mapping[str, Item], phrases: Phrases
    ) -> Item | None:
        if not isinstance(raw, dict):
            self.problems.append(f"item #{index + 1}: must be a table")
            return None
        item_id = raw.get("id")
        if not isinstance(item_id, str) or not ITEM_ID.fullmatch(item_id):
            self.problems.append(f"item #{index + 1}: id {item_id!r} must match [a-z0-9_]{{1,24}}")
            item_id = f"#{index + 1}"
        name = f"item {item_id!r}"
        for key in sorted(set(raw) - _ITEM_KEYS):
            self.problems.append(f"{name}: unknown key {key!r}")
        text = self.localized(raw.get("text"), name)
        short = self.localized(raw["short"], f"{name} short") if "short" in raw else text
        skippable = raw.get("skippable", False)
        if not isinstance(skippable, bool):
            self.problems.append(f"{name}: skippable must be true or false")
            skippable = False

        kind = raw.get("kind")
        if kind not in KINDS:
            self.problems.append(f"{name}: unknown kind {kind!r} (known: {', '.join(KINDS)})")
            return None
        for key in sorted((set(raw) & _KIND_ONLY_KEYS) - _KIND_KEYS[kind]):
            self.problems.append(f"{name}: {key!r} does not apply to a {kind} item")

        item = Item(
            id=item_id,
            kind=kind,
            text=text,
            short=short,
            skippable=skippable,
            phrases=phrases,
            domain=self.domain(raw, name),
            flags=self.flags(raw, name, kind),
        )
        if kind in ("choice", "multi"):
            item = self.with_options(item, raw, name)
        if kind == "scale":
            item = self.with_scale(item, raw, name)
        if kind == "text":
            item = self.with_max_length(item, raw, name)
        if "score" in raw and kind in ("choice", "yesno", "scale"):
            item = self.with_score(item, raw["score"], name)
        item = self.with_indicators(item, raw, name)
        if "when" in raw:
            item = self.with_condition(item, raw["when"], name, earlier)
        return item

    def domain(self, raw: Mapping[str, Any], name: str) -> str | None:
        domain = raw.get("domain")
        if domain is not None and domain not in self.domains:
            known = ", ".join(self.domains) or "none: declare them in [domains]"
            self.problems.append(f"{name}: unknown domain {domain!r} (known: {known})")
            return None
        return cast("str | None", domain)

    def flags(self, raw: Mapping[str, Any], name: str, kind: str) -> frozenset[str]:
        flags = raw.get("flags", {})
        if not isinstance(flags, dict):
            self.problems.append(f"{name}: flags must be a table, e.g. {{ crisis = true }}")
            return frozenset()
        for flag in sorted(set(flags) - FLAGS):
            self.problems.append(f"{name}: unknown flag {flag!r}")
        on = frozenset(flag for flag, value in flags.items() if flag in FLAGS and value is True)
        if "crisis" in on and kind != "yesno":
            self.problems.append(f"{name}: the crisis flag needs a yesno item")
        return on

    def with_options(self, item: Item, raw: Mapping[str, Any], name: str) -> Item:
        options: list[Option] = []
        raw_options = raw.get("options", [])
        if not isinstance(raw_options, list):
            self.problems.append(f"{name}: options must be a list")
            raw_options = []
        for raw_option in raw_options:
            key = raw_option.get("key") if isinstance(raw_option, dict) else None
            if not isinstance(key, str) or not OPTION_KEY.fullmatch(key):
                self.problems.append(f"{name}: option key {key!r} must match [a-z0-9_]{{1,16}}")
                continue
            if any(option.key == key for option in options):
                self.problems.append(f"{name}: duplicate option key {key!r}")
                continue
            if PLAN_KEY.fullmatch(key):
                self.problems.append(f"{name}: option key {key!r} looks like a plan step key")
            assert isinstance(raw_option, dict)
            for extra in sorted(set(raw_option) - {"key", "label"}):
                self.problems.append(f"{name}: option {key!r} has unknown key {extra!r}")
            options.append(Option(key, self.localized(raw_option.get("label"), f"{name} {key!r}")))
        options_from = raw.get("options_from")
        if options_from is not None and options_from not in OPTION_SOURCES:
            self.problems.append(f"{name}: unknown options_from {options_from!r}")
            options_from = None
        if not options and options_from is None:
            self.problems.append(f"{name}: a {item.kind} item needs options")
        if item.kind == "choice" and len(options) == 1:
            self.problems.append(f"{name}: a choice item needs at least two options")
        return _replace(item, options=tuple(options), options_from=options_from)

    def with_scale(self, item: Item, raw: Mapping[str, Any], name: str) -> Item:
        low, high = raw.get("min", 0), raw.get("max", 10)
        if not is_whole_number(low) or not is_whole_number(high):
            self.problems.append(f"{name}: scale min and max must be whole numbers")
            return item
        if low >= high:
            self.problems.append(f"{name}: scale min {low} must be below max {high}")
            return item
        labels: dict[int, Localized] = {}
        raw_labels = raw.get("labels", {})
        if not isinstance(raw_labels, dict):
            self.problems.append(f"{name}: labels must be a table of points, e.g. {{ 0 = ... }}")
            raw_labels = {}
        for point, label in raw_labels.items():
            if not re.fullmatch(r"-?[0-9]+", point) or not low <= int(point) <= high:
                self.problems.append(f"{name}: label point {point!r} is not on the scale")
                continue
            labels[int(point)] = self.localized(label, f"{name} label {point}")
        return _replace(
            item, min=low, max=high, labels=MappingProxyType(dict(sorted(labels.items())))
        )

    def with_max_length(self, item: Item, raw: Mapping[str, Any], name: str) -> Item:
        max_length = raw.get("max_length", 1000)
        if not is_whole_number(max_length) or not 1 <= max_length <= MAX_TEXT_LENGTH:
            self.problems.append(f"{name}: max_length must be 1 to {MAX_TEXT_LENGTH}")
            max_length = 1000
        return _replace(item, max_length=max_length)

    def with_score(self, item: Item, score: object, name: str) -> Item:
        if item.kind == "scale":
            return self.with_range_scores(item, score, name)
        expected = {"yes", "no"} if item.kind == "yesno" else {o.key for o in item.options}
        if not isinstance(score, dict):
            self.problems.append(f"{name}: score must be a table of option keys")
            return item
        if set(score) != expected:
            self.problems.append(
                f"{name}: score keys {sorted(score)} do not match options {sorted(expected)}"
            )
        self.check_score_values(score.values(), name)
        return _replace(item, option_scores=MappingProxyType(dict(score)))

    def with_range_scores(self, item: Item, score: object, name: str) -> Item:
        if not isinstance(score, list) or not all(isinstance(r, dict) for r in score):
            self.problems.append(f"{name}: scale score must be a list like [{{max=3, value=0}}]")
            return item
        ranges: list[ScoreRange] = []
        for raw_range in score:
            top, value = raw_range.get("max"), raw_range.get("value")
            if set(raw_range) != {"max", "value"} or not is_whole_number(top):
                self.problems.append(f"{name}: each score range needs whole-number max and value")
                return item
            if ranges and top <= ranges[-1].max:
                self.problems.append(
                    f"{name}: score ranges must rise (max {top} after {ranges[-1].max})"
                )
                return item
            ranges.append(ScoreRange(top, value))
        self.check_score_values([r.value for r in ranges], name)
        if not ranges or ranges[0].max < item.min or ranges[-1].max != item.max:
            self.problems.append(f"{name}: score ranges must cover the scale {item.min}-{item.max}")
        return _replace(item, range_scores=tuple(ranges))

    def check_score_values(self, values: Iterable[object], name: str) -> None:
        if not all(is_whole_number(v) and 0 <= cast(int, v) <= MAX_SCORE for v in values):
            self.problems.append(f"{name}: scores must be whole numbers 0 to {MAX_SCORE}")

    def with_indicators(self, item: Item, raw: Mapping[str, Any], name: str) -> Item:
        indicators = raw.get("indicators", [])
        if not isinstance(indicators, list) or not all(isinstance(i, str) for i in indicators):
            self.problems.append(f"{name}: indicators must be a list of names")
            return item
        known = [roll_up.id for roll_up in self.roll_ups]
        for indicator in indicators:
            if indicator not in known:
                listed = ", ".join(known) or "none: declare them as [[roll_ups]]"
                self.problems.append(f"{name}: unknown indicator {indicator!r} (known: {listed})")
        if indicators and not item.scored:
            self.problems.append(f"{name}: an item counted in an indicator needs a score")
        if indicators and item.domain is None:
            # Roll-ups count each domain once (its highest item), so the domain is needed.
            self.problems.append(f"{name}: an item counted in an indicator needs a domain")
        return _replace(item, indicators=tuple(indicators))

    def with_condition(
        self, item: Item, raw: object, name: str, earlier: Mapping[str, Item]
    ) -> Item:
        if not isinstance(raw, dict) or not isinstance(raw.get("item"), str):
            self.problems.append(
                f"{name}: when must be a table like {{ item = ..., equals = ... }}"
            )
            return item
        target_id = raw["item"]
        tests = set(raw) & {"equals", "in", "not_empty"}
        for key in sorted(set(raw) - {"item", "equals", "in", "not_empty"}):
            self.problems.append(f"{name}: when has unknown key {key!r}")
        if len(tests) != 1:
            self.problems.append(f"{name}: when needs exactly one of equals, in, not_empty")
            return item
        if target_id not in earlier:
            where = "itself" if target_id == item.id else f"unknown or later item {target_id!r}"
            # Conditions only look back, so the flow never waits on an answer not yet given.
            self.problems.append(f"{name}: when refers to {where}")
            return item
        target = earlier[target_id]
        test = tests.pop()
        condition = Condition(target_id)
        if test == "equals":
            value = raw["equals"]
            if not value_fits(target, value):
                self.problems.append(
                    f"{name}: when equals {value!r} is not an answer of {target.kind} "
                    f"item {target_id!r}"
                )
            condition = Condition(target_id, equals=value)
        elif test == "in":
            keys = raw["in"]
            known = {o.key for o in target.options}
            if target.kind not in ("choice", "multi") or not isinstance(keys, list) or not keys:
                self.problems.append(f"{name}: when in needs a choice or multi item and keys")
            elif not set(keys) <= known:
                self.problems.append(
                    f"{name}: when in {sorted(set(keys) - known)} not options of {target_id!r}"
                )
            else:
                condition = Condition(target_id, one_of=tuple(keys))
        else:
            if raw["not_empty"] is not True or target.kind not in ("multi", "text"):
                self.problems.append(f"{name}: when not_empty = true needs a multi or text item")
            condition = Condition(target_id, not_empty=True)
        return _replace(item, when=condition)


def value_fits(item: Item, value: object) -> bool:
    """Whether a data file's value is an answer the item can give (a condition's or a
    rule's equals-test)."""
    if item.kind == "yesno":
        return isinstance(value, bool)
    if item.kind == "choice":
        return isinstance(value, str) and item.option(value) is not None
    if item.kind == "scale":
        return is_whole_number(value) and item.min <= cast(int, value) <= item.max
    return False


def _replace(item: Item, **changes: Any) -> Item:
    return replace(item, **changes)
