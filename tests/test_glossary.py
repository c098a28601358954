"""The words a clinician reads are one word each, in every language: the page, the chat and
the PDF translate from one catalogue, and this test holds each of its texts to the
language's glossary (journal/glossary.py)."""

from __future__ import annotations

import re

import pytest

from journal.glossary import GLOSSARY, term
from journal.i18n import gettext_for, ngettext_for
from journal.i18n_tools import extract, load


def _texts(language: str) -> list[tuple[str, str]]:
    """(English, translation) of every text the code and templates use today."""
    catalogue = load(language)
    pairs = []
    for message in extract():
        if not message.id:
            continue
        found = catalogue.get(message.id)
        if found is None or not found.string:
            continue
        english = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = found.string if isinstance(found.string, tuple) else (found.string,)
        pairs.append((" ".join(english), " ".join(s or "" for s in strings)))
    return pairs


@pytest.mark.parametrize("language", sorted(GLOSSARY))
def test_every_text_uses_the_glossarys_word_and_never_another(language: str) -> None:
    texts = _texts(language)
    assert len(texts) > 300
    drift = []
    for english, translated in texts:
        low = translated.casefold()
        for key, entry in GLOSSARY[language].items():
            if re.search(entry.english, english, flags=re.I) and entry.word not in low:
                drift.append(f"{key}: no '{entry.word}' in {translated[:70]!r}")
            excused = entry.unless and re.search(entry.unless, english, flags=re.I)
            for other in entry.not_words:
                if other in low and not excused:
                    drift.append(f"{key}: '{other}' in {translated[:70]!r}")
    assert drift == [], "\n".join(drift)


def test_the_test_catches_the_drift_the_reader_met() -> None:
    entry = GLOSSARY["es"]["client"]
    assert "participante" in entry.not_words and term("es", "client") == "client"
    assert "reconoc" in GLOSSARY["es"]["acknowledge"].not_words
    assert term("en", "client") == "client"


def test_page_chat_and_pdf_say_the_same_words_in_spanish() -> None:
    # The page's heading, the chat's alert and the PDF's header, as each is rendered.
    page = gettext_for("es", "Client {code}").format(code="ABC-12")
    chat = gettext_for("es", "{level} alert for client {code}").format(level="Alta",
                                                                       code="ABC-12")
    pdf = gettext_for("es", "Session report: client {code}").format(code="ABC-12")
    clinician = (gettext_for("es", "Clinician"), gettext_for("es", "Clinician: {name}"))
    for text in (page, chat, pdf):
        assert "cliente abc-12" in text.casefold(), text
    assert all(c.startswith("Clínico") for c in clinician), clinician
    acknowledged = {gettext_for("es", "Acknowledge"), gettext_for("es", "Acknowledged."),
                    ngettext_for("es", "Acknowledged in the last {n} day",
                                 "Acknowledged in the last {n} days", 2)}
    assert all("confirm" in word.casefold() for word in acknowledged), acknowledged
