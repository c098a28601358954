"""One word for each thing a clinician reads, a glossary per language.

The workspace page, the chat and the PDF all speak of the same people and acts; a
translation that calls the client "participante" in the PDF and "cliente" on the page, or
has three words for acknowledging an alert, makes a reader wonder whether two things are
meant. Each entry gives the English word (as a pattern of the English text), the stem every
translation of a text holding it must use, and the words it must not use instead.
tests/test_glossary.py holds every catalogue to it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class Term:
    english: str  # a regular expression over the English text (case-insensitive)
    word: str  # the stem the translation uses (case-insensitive)
    not_words: tuple[str, ...] = ()  # drift: stems the translation must never use
    # ...unless the English itself names another thing (a research export's "participant"
    # is a research participant, not a second word for the client)
    unless: str | None = None


GLOSSARY: Final[dict[str, dict[str, Term]]] = {
    "es": {
        "client": Term(r"\bclients?\b", "client", ("participante",),
                       unless=r"\bparticipants?\b"),
        # (a command such as "steadfast clinician add" is a command, not the word)
        "clinician": Term(r"(?<!steadfast )\bclinicians?\b", "clínic", ("terapeuta",)),
        "acknowledge": Term(r"\backnowledg", "confirm", ("reconoc", "enterad")),
        "alert": Term(r"\balerts?\b", "alerta"),
        "check-in": Term(r"\bcheck-ins?\b", "registro"),
        "supervisor": Term(r"\bsupervisors?\b", "supervis"),
    },
}


def term(language: str, key: str) -> str:
    """The word a language uses for `key` (English when the language has no glossary)."""
    found = GLOSSARY.get(language, {}).get(key)
    return found.word if found is not None else key


__all__ = ["GLOSSARY", "Term", "term"]
