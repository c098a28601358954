"""The self-management plan's parts, read from the program's data file
(journal/plan_default.toml): their order, titles, item fields, the offence cycle's default
stages and the limits, validated with every problem listed."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

from journal.checkin.questionnaire_file import file_version, is_whole_number, read_data_file
from journal.errors import DataFileError

DEFAULT_FILE: Final = "plan_default.toml"
PART_ID: Final = re.compile(r"[a-z0-9_]{1,40}")
# Parts the program's own code reads by name: the check-in's options, help now, review.
REQUIRED_PARTS: Final = ("cycle", "situations", "coping", "controls", "support", "at_risk",
                         "first_call")
STAGE_FIELD: Final = "stage"


class PlanPartsError(DataFileError):
    """The plan parts file is not valid."""


@dataclass(frozen=True, slots=True)
class PlanParts:
    version: int
    parts: tuple[str, ...]
    stages: tuple[str, ...]  # earliest first
    titles: Mapping[str, str]  # part -> msgid
    stage_names: Mapping[str, str]  # stage -> msgid
    fields_of: Mapping[str, tuple[str, ...]]  # part -> fields besides its text
    field_labels: Mapping[str, str]  # field -> msgid
    max_items: int
    max_length: int
    max_stage_name: int
    items_in: Mapping[str, int]

    def limit(self, part: str) -> int:
        return self.items_in.get(part, self.max_items)

    def fields(self, part: str) -> tuple[str, ...]:
        return self.fields_of.get(part, ())

    def stage_rank(self, stage: str) -> int:
        """0 for the earliest stage, -1 for a sign placed in no stage."""
        return self.stages.index(stage) if stage in self.stages else -1


def load_plan_parts(path: Path | None = None) -> PlanParts:
    """Read and validate a plan parts file (None: the packaged default)."""
    return parse_plan_parts(read_data_file(path, DEFAULT_FILE, PlanPartsError, "plan parts"))


@cache
def default_parts() -> PlanParts:
    """The packaged parts, read once (validated at start by the composition)."""
    return load_plan_parts()


def _names(value: object, what: str, problems: list[str]) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        problems.append(f"{what} must be a non-empty list of ids")
        return ()
    bad = [v for v in value if not PART_ID.fullmatch(v)]
    if bad:
        problems.append(f"{what}: ids must be lowercase letters, digits and _: {bad!r}")
    if len(set(value)) != len(value):
        problems.append(f"{what}: an id is listed twice")
    return tuple(value)


def _msgids(data: Mapping[str, Any], table: str, ids: tuple[str, ...],
            problems: list[str]) -> dict[str, str]:
    raw = data.get(table, {})
    if not isinstance(raw, dict):
        problems.append(f"[{table}] must be a table of English texts")
        return {}
    found = {k: v for k, v in raw.items() if isinstance(v, str) and v.strip()}
    for key in sorted(set(raw) - set(found)):
        problems.append(f"[{table}] {key}: must be a non-empty text")
    for key in ids:
        if key not in raw:
            problems.append(f"[{table}] has no text for {key!r}")
    for key in sorted(set(raw) - set(ids)):
        problems.append(f"[{table}] {key}: not one of {list(ids)}")
    return found


def _whole(value: object, what: str, low: int, high: int, problems: list[str]) -> int:
    if not is_whole_number(value) or not low <= value <= high:
        problems.append(f"{what} must be a whole number from {low} to {high}")
        return low
    return value


def parse_plan_parts(data: Mapping[str, Any]) -> PlanParts:
    """Validate plan parts data (as read from TOML); raises with every problem found."""
    problems: list[str] = []
    known = {"version", "parts", "stages", "limits", "fields_of", "titles", "stage_names",
             "field_labels"}
    for key in sorted(set(data) - known):
        problems.append(f"unknown top-level key {key!r}")
    version = file_version(data, problems)
    parts = _names(data.get("parts"), "parts", problems)
    for needed in REQUIRED_PARTS:
        if parts and needed not in parts:
            problems.append(f"parts must include {needed!r} (the program reads it)")
    stages = _names(data.get("stages"), "stages", problems)
    limits = data.get("limits", {})
    if not isinstance(limits, dict):
        problems.append("[limits] must be a table")
        limits = {}
    max_items = _whole(limits.get("items"), "limits.items", 1, 50, problems)
    max_length = _whole(limits.get("length"), "limits.length", 20, 1000, problems)
    max_stage = _whole(limits.get("stage_name"), "limits.stage_name", 5, 100, problems)
    items_in: dict[str, int] = {}
    raw_in = limits.get("items_in", {})
    if not isinstance(raw_in, dict):
        problems.append("[limits.items_in] must be a table")
        raw_in = {}
    for part, value in raw_in.items():
        if part not in parts:
            problems.append(f"limits.items_in.{part}: not a part")
        items_in[part] = _whole(value, f"limits.items_in.{part}", 1, max_items, problems)
    fields_of: dict[str, tuple[str, ...]] = {}
    raw_fields = data.get("fields_of", {})
    if not isinstance(raw_fields, dict):
        problems.append("[fields_of] must be a table")
        raw_fields = {}
    for part, fields in raw_fields.items():
        if part not in parts:
            problems.append(f"fields_of.{part}: not a part")
        fields_of[part] = _names(fields, f"fields_of.{part}", problems)
    if STAGE_FIELD not in fields_of.get("cycle", ()):
        problems.append("fields_of.cycle must include 'stage' (a sign's cycle stage)")
    for part, fields in fields_of.items():
        if STAGE_FIELD in fields and part != "cycle":
            problems.append(f"fields_of.{part}: only the cycle's signs have a stage")
    all_fields = tuple(dict.fromkeys(f for fields in fields_of.values() for f in fields))
    titles = _msgids(data, "titles", parts, problems)
    stage_names = _msgids(data, "stage_names", stages, problems)
    labels = _msgids(data, "field_labels", all_fields, problems)
    if problems:
        raise PlanPartsError(problems)
    return PlanParts(
        version=version, parts=parts, stages=stages, titles=MappingProxyType(titles),
        stage_names=MappingProxyType(stage_names), fields_of=MappingProxyType(fields_of),
        field_labels=MappingProxyType(labels), max_items=max_items, max_length=max_length,
        max_stage_name=max_stage, items_in=MappingProxyType(items_in))


__all__ = ["DEFAULT_FILE", "PlanParts", "PlanPartsError", "default_parts", "load_plan_parts",
           "parse_plan_parts"]
