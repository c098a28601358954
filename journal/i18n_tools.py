"""Keep the Spanish catalogue in step with the code: `python -m journal.i18n_tools`.

Extracts every _() and N_() msgid from bot/, journal/ and scheduler/, the t() and
ngettext() texts of the workspace's templates (web/templates), and the English
labels of the packaged data files' msgid tables (the N_ of TOML: DATA_MSGIDS), merges them
into journal/locales/es/LC_MESSAGES/steadfast.po keeping existing translations, and prints
what still lacks a Spanish text.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from journal.i18n import DOMAIN, LOCALES

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bot", "journal", "scheduler")
KEYWORDS = {"_": None, "N_": None, "gettext_for": (2,), "ngettext": (1, 2),
            "ngettext_for": (2, 3)}
TEMPLATES = "web/templates"
TEMPLATE_KEYWORDS = {"t": None, "ngettext": (1, 2)}
# Data file -> its tables whose every value is an English msgid, translated where shown
# (the alert reasons of the risk rules: RiskRules.reason_label(); the plan's parts; the
# appointment kinds; the homework library).
DATA_MSGIDS = {"journal/risk_rules.toml": ("reasons",),
               "journal/plan_default.toml": ("titles", "stage_names", "field_labels"),
               "journal/appointments.toml": ("kinds",),
               "journal/homework.toml": ("titles", "prompts")}


def extract() -> Catalog:
    catalog = Catalog(domain=DOMAIN)
    for package in PACKAGES:
        for filename, lineno, message, comments, context in extract_from_dir(
                ROOT / package, method_map=[("**.py", "python")], keywords=KEYWORDS):
            catalog.add(message, locations=[(f"{package}/{filename}", lineno)],
                        auto_comments=comments, context=context)
    # The workspace's templates: t("...") and ngettext("...", "...", n) calls.
    for filename, lineno, message, comments, context in extract_from_dir(
            ROOT / TEMPLATES, method_map=[("**.html", "jinja2.ext:babel_extract")],
            keywords=TEMPLATE_KEYWORDS):
        catalog.add(message, locations=[(f"{TEMPLATES}/{filename}", lineno)],
                    auto_comments=comments, context=context)
    for name, tables in DATA_MSGIDS.items():
        text = (ROOT / name).read_text(encoding="utf-8")
        data = tomllib.loads(text)
        lines = text.splitlines()
        for table in tables:
            for key, message in data.get(table, {}).items():
                lineno = next((n for n, line in enumerate(lines, 1)
                               if line.partition("=")[0].strip() == key), 0)
                catalog.add(message, locations=[(name, lineno)])
    return catalog


def catalogue_path(language: str) -> Path:
    return LOCALES / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def load(language: str) -> Catalog:
    path = catalogue_path(language)
    if not path.exists():
        return Catalog(locale=language, domain=DOMAIN)
    with path.open("rb") as handle:
        return read_po(handle, locale=language)


def missing(language: str = "es") -> list[str]:
    existing = load(language)
    gaps = []
    for message in extract():
        if not message.id:
            continue
        found = existing.get(message.id)
        # A counted text needs every plural form; babel keeps them as a tuple.
        forms = found.string if found is not None and isinstance(found.string, tuple) else ()
        if found is None or not found.string or found.fuzzy or (forms and not all(forms)):
            gaps.append(message.id if isinstance(message.id, str) else message.id[0])
    return gaps


def update(language: str = "es") -> list[str]:
    template = extract()
    catalog = load(language)
    catalog.update(template, no_fuzzy_matching=True)
    catalog.fuzzy = False
    catalog.project, catalog.version = "Steadfast", "1"
    path = catalogue_path(language)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        write_po(handle, catalog, width=100, omit_header=False, ignore_obsolete=True)
    return missing(language)


if __name__ == "__main__":
    gaps = update()
    for gap in gaps:
        print("missing es:", gap.replace("\n", "\\n")[:100])
    print(f"{len(gaps)} message(s) without a Spanish translation")
    sys.exit(1 if gaps else 0)
