"""The codebook: every column of every table, written from the questionnaire and the risk
rules (never by hand), so a program's own check-in exports with its own codebook.

An item's answer is written as a code the codebook explains, in every language of the
questionnaire: a choice as its option key, yes/no as 1/0, a scale as its number, a multi
as its option keys joined by ";" (steps taken from the client's own plan are counted in a
column of their own, never named: their words are the client's). A free-text item has a
column only in an export with free text. Missing values: empty (not asked that day, or
no answers that day), -1 (the client skipped it), -2 (a multi answered with none)."""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Final

from journal.alerts.rules import RiskRules
from journal.checkin.questionnaire import SKIPPED, Answer, Item, Questionnaire
from journal.export.files import Column
from journal.i18n import N_, gettext_for

SKIPPED_CODE: Final = "-1"
NONE_CHOSEN: Final = "-2"
PLAN_STEPS_SUFFIX: Final = "__plan_steps"

MISSING: Final = N_("Empty: not asked or no answers that day; -1: skipped by the client; "
                    "-2: none chosen.")

Encoder = Callable[[Answer | None], str]


def _labels(q: Questionnaire, pairs: Sequence[tuple[str, object]]) -> dict[str, dict[str, str]]:
    """{language: {code: label}} for labels given as Localized values."""
    out: dict[str, dict[str, str]] = {}
    for lang in q.languages:
        out[lang] = {code: label.get(lang) for code, label in pairs}  # type: ignore[attr-defined]
    return out


def item_columns(q: Questionnaire, *, free_text: bool
                 ) -> list[tuple[Column, Encoder]]:
    """The check-in table's item columns, each with how an answer is written in it."""
    columns: list[tuple[Column, Encoder]] = []
    for item in q.items:
        if item.kind == "text":
            if free_text:
                columns.append((Column(item.id, "text", MISSING, item.id), _text))
            continue
        if item.kind == "choice":
            values = _labels(q, [(o.key, o.label) for o in item.options])
            columns.append((Column(item.id, "code", MISSING, item.id, values), _choice))
        elif item.kind == "yesno":
            values = {lang: {"1": q.phrases.get("yes", lang), "0": q.phrases.get("no", lang)}
                      for lang in q.languages}
            columns.append((Column(item.id, "code", MISSING, item.id, values), _yesno))
        elif item.kind == "scale":
            values = {lang: {str(point): label.get(lang)
                             for point, label in sorted(item.labels.items())}
                      for lang in q.languages}
            for lang in q.languages:
                values[lang].setdefault(str(item.min), str(item.min))
                values[lang].setdefault(str(item.max), str(item.max))
                values[lang] = dict(sorted(values[lang].items(), key=lambda kv: int(kv[0])))
            columns.append((Column(item.id, "integer", MISSING, item.id, values), _scale))
        elif item.kind == "multi":
            fixed = frozenset(o.key for o in item.options)
            values = _labels(q, [(o.key, o.label) for o in item.options])
            columns.append((Column(item.id, "codes", MISSING, item.id, values),
                            _multi(fixed)))
            if item.options_from is not None:
                columns.append((Column(
                    item.id + PLAN_STEPS_SUFFIX, "integer",
                    N_("How many steps of the client's own plan were chosen (the steps "
                       "themselves are not exported)."), item.id), _plan_steps(fixed)))
    return columns


def _text(value: Answer | None) -> str:
    if value is None:
        return ""
    if value is SKIPPED:
        return SKIPPED_CODE
    return str(value)


def _choice(value: Answer | None) -> str:
    if value is None:
        return ""
    return SKIPPED_CODE if value is SKIPPED else str(value)


def _yesno(value: Answer | None) -> str:
    if value is None:
        return ""
    if value is SKIPPED:
        return SKIPPED_CODE
    return "1" if value is True else "0"


def _scale(value: Answer | None) -> str:
    if value is None:
        return ""
    if value is SKIPPED:
        return SKIPPED_CODE
    return str(int(value)) if isinstance(value, int) else ""


def _multi(fixed: frozenset[str]) -> Encoder:
    def encode(value: Answer | None) -> str:
        if value is None:
            return ""
        if value is SKIPPED:
            return SKIPPED_CODE
        if not isinstance(value, tuple):
            return ""
        chosen = [key for key in value if key in fixed]
        if not value:
            return NONE_CHOSEN
        return ";".join(chosen)
    return encode


def _plan_steps(fixed: frozenset[str]) -> Encoder:
    def encode(value: Answer | None) -> str:
        if value is None:
            return ""
        if value is SKIPPED:
            return SKIPPED_CODE
        if not isinstance(value, tuple):
            return ""
        return str(sum(1 for key in value if key not in fixed))
    return encode


def item_texts(q: Questionnaire, item_id: str | None) -> dict[str, str]:
    if item_id is None:
        return {}
    item: Item = q.item(item_id)
    return {lang: item.text.get(lang) for lang in q.languages}


def reason_values(rules: RiskRules, languages: Sequence[str]) -> dict[str, dict[str, str]]:
    """The alert reasons' codes and their labels in each language, from the rules file."""
    return {lang: {code: gettext_for(lang, label) for code, label in rules.reasons.items()}
            for lang in languages}


def write_codebook(path: Path, q: Questionnaire, tables: Sequence[tuple[str, Sequence[Column]]],
                   *, language: str) -> int:
    """codebook.csv: one row per column of every table; descriptions in `language`, item
    texts and value labels in each of the questionnaire's languages. Its row count."""
    rows = 0
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        header = ["table", "column", "type", "description", "item"]
        for lang in q.languages:
            header += [f"text_{lang}", f"values_{lang}"]
        writer.writerow(header)
        for table, columns in tables:
            for column in columns:
                texts = item_texts(q, column.item)
                line = [table, column.name, column.type,
                        gettext_for(language, column.description) if column.description
                        else "", column.item or ""]
                for lang in q.languages:
                    values = column.values.get(lang, {})
                    line += [texts.get(lang, ""),
                             " | ".join(f"{code}={label}" for code, label in values.items())]
                writer.writerow(line)
                rows += 1
    return rows


__all__ = ["MISSING", "NONE_CHOSEN", "SKIPPED_CODE", "item_columns", "reason_values",
           "write_codebook"]
