"""The Spanish catalogue keeps up with the code, and no translation can crash a message.

When a test here fails after a text was added or changed in the code, run
`python -m journal.i18n_tools`, fill in the new entries of
journal/locales/es/LC_MESSAGES/steadfast.po, and run the tests again.
"""

from __future__ import annotations

import string

import pytest
from babel.messages.catalog import Message

from journal.checkin.questionnaire import Localized, Questionnaire
from journal.checkin.questionnaire_file import load_questionnaire
from journal.i18n import LANGUAGES, gettext_for, translations
from journal.i18n_tools import extract, load, missing

FORMATTER = string.Formatter()


def _fields(text: str) -> set[str]:
    """The names of the {placeholders} in a text; ValueError for a broken brace."""
    return {name for _, name, _, _ in FORMATTER.parse(text) if name is not None}


def _translated() -> list[Message]:
    return [message for message in load("es") if message.id and message.string]


def _forms(message: Message) -> list[str]:
    string = message.string
    return [string] if isinstance(string, str) else list(string or ())


def _label(message: Message) -> str:
    text = message.id if isinstance(message.id, str) else message.id[0]
    return text.replace("\n", "\\n")[:60]


# --- (a) every text in the code has Spanish ---------------------------------------------


def test_every_message_in_the_code_has_a_spanish_translation() -> None:
    gaps = missing("es")
    assert gaps == [], (
        f"{len(gaps)} message(s) lack Spanish; run `python -m journal.i18n_tools` and "
        "translate them in journal/locales/es/LC_MESSAGES/steadfast.po:\n"
        + "\n".join(gap.replace("\n", "\\n")[:100] for gap in gaps))


def test_the_catalogue_has_spanish_plural_forms_and_every_form_filled() -> None:
    catalog = load("es")
    assert catalog.num_plurals == 2
    assert "nplurals=2; plural=(n != 1);" in catalog.plural_forms
    plurals = [m for m in catalog if m.id and isinstance(m.id, tuple) and m.string]
    assert plurals, "the code uses ngettext, so the catalogue has plural entries"
    for message in plurals:
        forms = _forms(message)
        assert len(forms) == 2 and all(form.strip() for form in forms), _label(message)


def test_spanish_plurals_choose_the_right_form() -> None:
    es = translations("es")
    one = es.ngettext("{day} ({n} day ago)", "{day} ({n} days ago)", 1)
    many = es.ngettext("{day} ({n} day ago)", "{day} ({n} days ago)", 5)
    zero = es.ngettext("{day} ({n} day ago)", "{day} ({n} days ago)", 0)
    assert "día)" in one and "días)" in many and "días)" in zero


# --- (b) placeholders survive translation -----------------------------------------------


@pytest.mark.parametrize("message", _translated(), ids=_label)
def test_a_translation_has_exactly_the_placeholders_of_its_english_text(message: Message
                                                                       ) -> None:
    if isinstance(message.id, tuple):
        singular, plural = message.id
        pairs = [(singular if index == 0 else plural, form)
                 for index, form in enumerate(_forms(message))]
    else:
        pairs = [(str(message.id), form) for form in _forms(message)]
    for english, spanish in pairs:
        expected = _fields(english)
        assert _fields(spanish) == expected, (english, spanish)
        # And it formats: a stray brace or a misspelt name would raise here, not in a chat.
        spanish.format(**{name: "x" for name in expected})


def test_every_extracted_message_is_rendered_in_spanish_by_gettext() -> None:
    """The catalogue compiles, and what the bot looks up is what the .po holds."""
    for message in extract():
        if not isinstance(message.id, str) or not message.id:
            continue
        rendered = gettext_for("es", message.id)
        assert rendered.strip(), message.id
        # Text that is the same in both languages (numbers, "Plan") is fine; anything
        # longer than a few words coming back in English means the lookup failed.
        if len(message.id.split()) > 3:
            assert rendered != message.id, message.id


def test_texts_the_enrolment_and_consent_rely_on() -> None:
    assert "cifrad" in gettext_for("es", _consent())
    assert gettext_for("es", "I agree") == "Acepto"


def _consent() -> str:
    from bot.handlers.enrol import CONSENT

    return CONSENT


# --- (c) the questionnaire is complete in Spanish ---------------------------------------


def _localized_texts(questionnaire: Questionnaire) -> list[tuple[str, Localized]]:
    texts: list[tuple[str, Localized]] = [("title", questionnaire.title)]
    texts += [(f"phrase {name}", text) for name, text in questionnaire.phrases.texts.items()]
    for item in questionnaire.items:
        texts += [(f"{item.id} text", item.text), (f"{item.id} short", item.short)]
        texts += [(f"{item.id} option {o.key}", o.label) for o in item.options]
        texts += [(f"{item.id} label {point}", label) for point, label in item.labels.items()]
    return texts


def test_the_default_questionnaire_is_in_english_and_spanish() -> None:
    questionnaire = load_questionnaire()  # validates: every text in every listed language
    assert list(questionnaire.languages) == ["en", "es"]
    assert set(LANGUAGES) <= set(questionnaire.languages)


def test_every_question_and_option_of_the_default_questionnaire_has_spanish() -> None:
    questionnaire = load_questionnaire()
    texts = _localized_texts(questionnaire)
    assert len(texts) > 50
    for where, localized in texts:
        for language in ("en", "es"):
            assert localized.texts.get(language, "").strip(), f"{where}: no {language!r} text"
    # The Spanish really is Spanish for the questions themselves (labels like "No" may match).
    for item in questionnaire.items:
        assert item.text.get("es") != item.text.get("en"), item.id


def test_each_catalogue_reads_cleanly_and_defines_each_text_once() -> None:
    """A catalogue merged from two lines of work can hold a text twice or a stray line; the
    first silently hides a translation, the second may drop one. Both fail here."""
    from babel.messages.pofile import read_po

    from journal.i18n import LOCALES

    for po in sorted(LOCALES.glob("*/LC_MESSAGES/*.po")):
        with po.open("rb") as handle:
            read_po(handle, abort_invalid=True)
        seen: dict[str, int] = {}
        twice = []
        lines = po.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines, 1):
            if line.startswith("msgid ") and line != 'msgid ""':
                context = lines[number - 2] if number > 1 else ""
                key = (context if context.startswith("msgctxt") else "") + line
                if key in seen:
                    twice.append(f"{po.name}:{number} (first at {seen[key]}): {line[:60]}")
                seen.setdefault(key, number)
            before = lines[number - 2] if number > 1 else ""
            if line.startswith("msgstr") and (
                    before.startswith('msgstr "') or (before.startswith("msgstr[")
                                                     and not line.startswith("msgstr["))):
                twice.append(f"{po.name}:{number}: a msgstr with no msgid of its own")
        assert twice == [], "\n".join(twice)
