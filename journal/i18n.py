"""Translations through gettext: English msgids in the code, catalogues in journal/locales.

The .po catalogues are compiled in memory at start-up (babel), so the repository holds
only text files and a program can edit a translation without a build step.
"""

from __future__ import annotations

import gettext
import io
from contextvars import ContextVar
from functools import cache
from pathlib import Path

LOCALES = Path(__file__).with_name("locales")
DOMAIN = "steadfast"
# The languages the catalogues hold, each named in itself: the one list of them.
LANGUAGE_NAMES = {"en": "English", "es": "Español"}
LANGUAGES = tuple(LANGUAGE_NAMES)

current_language: ContextVar[str] = ContextVar("current_language", default="en")


@cache
def translations(language: str) -> gettext.NullTranslations:
    po = LOCALES / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    if language == "en" or not po.exists():
        return gettext.NullTranslations()
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with po.open("rb") as handle:
        catalog = read_po(handle, locale=language)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def gettext_for(language: str, message: str) -> str:
    return translations(language if language in LANGUAGES else "en").gettext(message)


def _(message: str) -> str:
    """Translate into the language of the person being answered (a context variable)."""
    return gettext_for(current_language.get(), message)


def N_(message: str) -> str:
    """Mark a text for translation where it is defined; translate it where it is shown."""
    return message


def ngettext(singular: str, plural: str, n: int) -> str:
    """The form of a counted text that fits `n`, in the language of the person answered."""
    return ngettext_for(current_language.get(), singular, plural, n)


def ngettext_for(language: str, singular: str, plural: str, n: int) -> str:
    return translations(language if language in LANGUAGES else "en").ngettext(singular,
                                                                              plural, n)
