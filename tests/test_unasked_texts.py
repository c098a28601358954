"""Every message a client receives without asking opens with a line a locked phone may show
to anyone: it names neither the treatment nor the offence, in English or Spanish."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

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


@pytest.mark.parametrize("language", LANGUAGES)
async def test_what_the_services_queue_for_a_client_unasked_opens_discreetly(
        language: str, store: Any, clock: Any) -> None:
    """Not the list but the messages themselves: a prompt, both reminders, a plan changed,
    a schedule changed, a resume and a discharge, as the outbox holds them for the client."""
    from journal.alerts.rules_file import load_rules
    from journal.alerts.service import AlertService
    from journal.checkin.questionnaire_file import load_questionnaire
    from journal.checkin.schedule import ScheduleRequest, ScheduleService
    from journal.checkin.service import CheckInService
    from journal.discharge import DischargeService
    from journal.review.adherence import client_today
    from journal.review.service import ReviewService
    from tests.helpers import make_clinician
    from tests.stories import enrolled_client

    q = load_questionnaire()
    rules = load_rules(questionnaire=q)
    lane = await make_clinician(store, clock, telegram_id=7301)
    client = await enrolled_client(store, clock, lane, 8301, language=language)
    checkins = CheckInService(clock=clock, questionnaire=q, store=store,
                              alerts=AlertService(clock=clock, questionnaire=q, rules=rules))
    schedules = ScheduleService(clock=clock)
    day = client_today(client, clock.now())
    texts: list[str] = []

    async def sent() -> None:
        """Everything queued for the client's chat, as the sender takes it (one a pass)."""
        while True:
            async with store.transaction() as uow:
                claimed = await uow.outbox.claim_due(clock.now(), limit=50,
                                                     lease=timedelta(minutes=1))
                for message in claimed:
                    await uow.outbox.mark_sent(message.id, now=clock.now(),
                                               sent_message_id=None)
            texts.extend(m.payload["params"]["text"] for m in claimed
                         if m.chat_id == 8301 and "text" in m.payload["params"])
            if not claimed:
                return

    async with store.transaction() as uow:
        assert await checkins.prompt(uow, client, day=day)
    await sent()
    async with store.transaction() as uow:
        assert await checkins.remind(uow, client, day)
    await sent()
    async with store.transaction() as uow:
        await ReviewService(clock=clock, questionnaire=q, rules=rules).edit_plan(
            uow, lane, client.code, "Coping steps:\n- Call Ana")
        await schedules.set_schedule(uow, lane, ScheduleRequest(client.code, "19:00"))
        await schedules.pause(uow, lane, client.code, "other")
    await sent()
    async with store.transaction() as uow:
        await schedules.resume(uow, lane, client.code)
    await sent()
    async with store.transaction() as uow:
        await DischargeService(clock=clock, retention=timedelta(days=365)).discharge(
            uow, lane, client.code)
    await sent()
    assert len(texts) == 6, texts  # prompt, reminder, plan, schedule, resume, discharge
    words = TELLING.get(language, ()) + TELLING["en"]
    for text in texts:
        line = first_line(text).casefold()
        assert [w for w in words if w in line] == [], text
    assert "Call Ana" not in " ".join(texts)
