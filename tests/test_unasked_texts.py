"""Every message a client receives without asking opens with a line a locked phone may show
to anyone: it names neither the treatment nor the offence, in English or Spanish."""

from __future__ import annotations

import re

import pytest

from journal.i18n import LANGUAGES, gettext_for
from journal.unasked import UNASKED_TEXTS, first_line

# Words that would tell a bystander what the chat is about, as stems (case-insensitive).
TELLING = {
    "en": ("therap", "treatment", "relapse", "offenc", "offens", "offend", "sexual", "clinic",
           "risk", "probation", "parole", "plan", "counsel", "victim", "crime", "prison",
           "abuse", "lapse"),
    "es": ("terap", "tratamiento", "recaída", "recaida", "delito", "delinc", "ofens",
           "sexual", "clínic", "clinic", "riesgo", "libertad condicional", "probatori",
           "plan", "víctima", "victima", "desliz", "abuso", "prisión", "cárcel"),
}


def test_the_word_list_itself_catches_the_old_plan_notice() -> None:
    old = "Your clinician updated your relapse prevention plan. Use /plan to read it."
    assert [w for w in TELLING["en"] if w in old.casefold()]


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_unasked_text_opens_with_a_line_that_tells_nothing(language: str) -> None:
    assert len(UNASKED_TEXTS) >= 7  # prompt, two reminders, plan, schedule, resume, discharge
    words = TELLING.get(language, ()) + TELLING["en"]
    for text in UNASKED_TEXTS:
        shown = gettext_for(language, text)
        if language != "en":
            assert shown != text, f"no {language} translation: {text[:50]}"
        line = first_line(shown).casefold()
        assert line, text
        found = [w for w in words if re.search(re.escape(w), line)]
        assert found == [], f"{language}: {first_line(shown)!r} names {found}"
