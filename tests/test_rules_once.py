"""Rules stated once, beside their owner: a reader always meets the rule that is applied."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import pytest

from bot.texts import error_text
from bot.views.chat import TEXT_LIMIT, utf16_length
from bot.views.review import plan_view
from journal.i18n import current_language
from journal.review import plan as plans
from storage.records import Plan


def test_a_plan_of_emoji_fits_one_telegram_message_counted_as_telegram_counts() -> None:
    """Telegram counts UTF-16 units: an emoji is two, so a text cut at 4096 characters
    would be refused. A clinician's plan view stays within the limit as Telegram sees it."""
    steps = tuple(f"{n} " + "🙂" * 190 for n in range(20))
    plan = Plan.from_sections(client_id="c1", warning_signs=steps, coping_steps=steps, support_people=steps)
    client = SimpleNamespace(code="AB12CD")
    text = plan_view(client, plan, "en", 5, editable=True)  # type: ignore[arg-type]
    assert len(text) < TEXT_LIMIT < 2 * len(text)  # well over the limit before the cut
    assert utf16_length(text) <= TEXT_LIMIT and text.endswith("…")


@pytest.mark.parametrize(("language", "title"), [("en", "My offence cycle"),
                                                 ("es", "Mi ciclo de delito")])
def test_the_plan_format_help_states_the_limits_the_parser_applies(
        monkeypatch: pytest.MonkeyPatch, language: str, title: str) -> None:
    fewer = replace(plans.parts(), max_items=12, max_length=150)
    monkeypatch.setattr(plans, "parts", lambda: fewer)
    token = current_language.set(language)
    try:
        chat = error_text("plan.format")
    finally:
        current_language.reset(token)
    for text in (chat, plans.format_rules(language)):
        assert title in text and "12" in text and "150" in text
        assert "20" not in text and "200" not in text
    with pytest.raises(plans.PlanFormatError):
        plans.parse_plan("Coping steps:\n" + "\n".join(f"step {n}" for n in range(13)),
                         Plan(client_id="c1"))
