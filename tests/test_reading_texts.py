"""What people read in the chat: a finish line that stays put, one instruction per item,
true words about the clinician, every time with its zone, and counts that agree.

Each story runs in English and in Spanish: a client reads the bot in their own language."""

from __future__ import annotations

import itertools
import re
import string
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest

from bot.texts import crisis_message
from bot.views.checkin import render
from journal.alerts.levels import LABELS, LEVELS
from journal.alerts.rules_file import load_rules
from journal.alerts.service import AlertService
from journal.checkin.flow import CheckInState, Stored, answer, start
from journal.checkin.questionnaire import Answer, Item, options_for
from journal.checkin.questionnaire_file import load_questionnaire
from journal.checkin.view import view_of
from journal.clock import FakeClock
from journal.i18n import LANGUAGES, current_language, gettext_for, translations
from journal.i18n_tools import extract
from journal.times import shown_time
from storage.records import Alert
from tests.reading import times_without_zone

Q = load_questionnaire()
PLAN = ("Call my sponsor", "Go for a walk")
DAY = date(2026, 3, 2)
PROGRESS = {"en": re.compile(r"· (\d+) of (\d+)$"), "es": re.compile(r"· (\d+) de (\d+)$")}


def _shown(state: CheckInState, lang: str) -> str:
    token = current_language.set(lang)
    try:
        text, _markup = render(view_of(Q, lang, DAY, Stored(1, state), PLAN))
    finally:
        current_language.reset(token)
    return text


# --- a finish line that stays put --------------------------------------------------------


def _opens_follow_ups(item: Item) -> bool:
    return any(other.when is not None and other.when.item == item.id for other in Q.items)


def _answers_to_try(item: Item) -> list[Answer]:
    """Every answer that can change which follow-ups open, for an item that opens some;
    one plain answer for any other item."""
    options = [option.key for option in options_for(item, PLAN)]
    if item.kind == "choice":
        return list(options) if _opens_follow_ups(item) else [options[0]]
    if item.kind == "yesno":
        return [True, False] if _opens_follow_ups(item) else [False]
    if item.kind == "multi":
        return [(), *((key,) for key in options)] if _opens_follow_ups(item) else [()]
    if item.kind == "scale":
        return [item.min, item.max] if _opens_follow_ups(item) else [item.min]
    return ["A few words."]


def _walks(state: CheckInState, path: tuple[str, ...] = ()) -> Iterator[list[CheckInState]]:
    """Every way forward through the questionnaire, generated from its items."""
    if state.current is None:
        yield [state]
        return
    item = Q.item(state.current)
    for value in _answers_to_try(item):
        given = list(value) if isinstance(value, tuple) else value
        after = answer(Q, state, item.id, given, plan_options=PLAN)
        for rest in _walks(after, (*path, f"{item.id}={value}")):
            yield [state, *rest]


WALKS = list(_walks(start(Q)))


def test_the_walks_cover_every_follow_up_of_the_default_check_in() -> None:
    asked = {s.current for walk in WALKS for s in walk if s.current is not None}
    assert asked == {item.id for item in Q.items}
    assert len(WALKS) >= 2 ** sum(1 for item in Q.items if _opens_follow_ups(item))


@pytest.mark.parametrize("lang", LANGUAGES)
def test_on_every_branch_the_shown_progress_never_grows_its_total_nor_goes_back(
        lang: str) -> None:
    totals = set()
    for walk in WALKS:
        seen: list[tuple[int, int]] = []
        for state in walk[:-1]:  # the last is the summary, which shows no count
            first_line = _shown(state, lang).splitlines()[0]
            found = PROGRESS[lang].search(first_line)
            assert found, first_line
            seen.append((int(found.group(1)), int(found.group(2))))
        route = " → ".join(s.current or "summary" for s in walk)
        assert len({total for _n, total in seen}) == 1, f"the total moved on {route}: {seen}"
        assert [n for n, _t in seen] == sorted(n for n, _t in seen), f"back on {route}: {seen}"
        assert seen[0][0] == 1 and seen[-1][0] == seen[-1][1], route
        totals.add(seen[0][1])
    assert len(totals) == 1  # every branch is walked towards the same end


# --- one instruction per item ------------------------------------------------------------

# The words that tell a client what to do with an item, in each language.
INSTRUCTIONS = {"en": ("choose", "press", "type", "send"),
                "es": ("elige", "pulsa", "escribe", "envía")}


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("item_id", [item.id for item in Q.items])
def test_every_item_of_the_default_check_in_gives_one_instruction(lang: str,
                                                                  item_id: str) -> None:
    state = start(Q)
    for walk in WALKS:  # the first state at which the item is asked
        found = next((s for s in walk if s.current == item_id), None)
        if found is not None:
            state = found
            break
    text = _shown(state, lang).lower()
    for word in INSTRUCTIONS[lang]:
        assert len(re.findall(rf"\b{word}\b", text)) <= 1, (word, text)


# --- true words about the clinician ------------------------------------------------------


@pytest.mark.parametrize(("lang", "now", "before"), [
    ("en", "Your clinician is being told now", "has been told"),
    ("es", "Estamos avisando ahora a tu clínico", "Ya se avisó"),
])
def test_crisis_resources_say_the_clinician_is_being_told_not_that_they_were(
        lang: str, now: str, before: str) -> None:
    token = current_language.set(lang)
    try:
        text = crisis_message(phone="024", text_line="", office="", clinician_contact="",
                              clinician_told=True)
    finally:
        current_language.reset(token)
    assert now in text and before not in text


# --- one clock ----------------------------------------------------------------------------


def test_a_time_a_person_reads_is_in_their_zone_and_names_it() -> None:
    moment = datetime(2026, 3, 2, 7, 55, tzinfo=UTC)
    assert shown_time(moment, "Europe/Madrid") == "2026-03-02 08:55 CET"
    assert shown_time(moment, "UTC") == "2026-03-02 07:55 UTC"
    summer = datetime(2026, 7, 1, 7, 55, tzinfo=UTC)
    assert shown_time(summer, "Europe/Madrid") == "2026-07-01 09:55 CEST"
    assert shown_time(datetime(2026, 3, 2, 7, 55), "UTC") == "2026-03-02 07:55 UTC"


def test_the_zone_check_catches_a_bare_time_and_lets_a_named_one_pass() -> None:
    assert times_without_zone("Alerts\n2026-03-02 09:18  High (open)") == [
        "2026-03-02 09:18  High (open)"]
    assert times_without_zone("Generado: 2026-03-02 09:18") == ["Generado: 2026-03-02 09:18"]
    assert times_without_zone("Raised 2026-03-02 08:55 CET\nat 20:00 (Europe/Madrid)") == []


def _alert(level: str) -> Alert:
    return Alert(id="a1", client_id="c1", checkin_id=None, level=level, status="open",
                 detail={"reasons": []}, created_at=datetime(2026, 3, 2, 7, 55, tzinfo=UTC),
                 acknowledged_at=None, acknowledged_by=None, escalations=0,
                 next_escalation_at=None)


def _alerts(lang: str) -> AlertService:
    return AlertService(clock=FakeClock(datetime(2026, 3, 2, 8, tzinfo=UTC)), questionnaire=Q,
                        rules=load_rules(questionnaire=Q), staff_language=lang,
                        display_timezone="Europe/Madrid")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_an_alert_reads_its_time_in_the_programs_zone_and_its_level_one_way(lang: str) -> None:
    alerts = _alerts(lang)
    for level in LEVELS:
        text = alerts.alert_text(_alert(level), "K7Q-2M", escalated=True, handled_by="Dr Lane")
        assert "08:55 CET" in text and times_without_zone(text) == [], text
        assert gettext_for(lang, LABELS[level]) in text  # "Critical", "High": one form
        assert gettext_for(lang, LABELS[level]).upper() not in text.split()


# --- counts that agree --------------------------------------------------------------------

# Placeholders that stand for a number of things ("{n} minutes", "{days} days").
COUNTS = {"n", "count", "days", "minutes", "hours", "asked", "done"}
NOT_A_NOUN = {"of", "de", "/10"}


def _counted_words(msgid: str) -> list[str]:
    """The '{count} word' pairs of a text: a number of things written with its noun."""
    return [f"{{{name}}} {word}" for name, word in re.findall(r"\{(\w+)\} ?([a-zñáéíóú]+)",
                                                             msgid)
            if name in COUNTS and word not in NOT_A_NOUN]


def test_a_count_with_its_noun_is_always_a_plural_form() -> None:
    single = [m.id for m in extract() if isinstance(m.id, str) and _counted_words(m.id)]
    assert single == [], "use ngettext for: " + "; ".join(single)
    assert _counted_words("This message is deleted in {n} minutes.") == ["{n} minutes"]


def _plural_messages() -> list[tuple[str, str]]:
    return [m.id for m in extract() if isinstance(m.id, tuple)]


def _render(text: str, n: int) -> str:
    values: dict[str, Any] = {}
    for _lit, name, _spec, _conv in string.Formatter().parse(text):
        if name:
            values[name] = n if name in COUNTS else f"<{name}>"
    return text.format(**values)


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("pair", _plural_messages(), ids=lambda p: p[0][:40])
def test_every_counted_text_reads_right_for_one_and_for_two(lang: str,
                                                           pair: tuple[str, str]) -> None:
    catalogue = translations(lang)
    one, two = (_render(catalogue.ngettext(*pair, n), n) for n in (1, 2))
    assert one != two, one  # a different form for one thing than for two
    assert "1" in one and "2" in two
    if lang == "en":
        assert one == _render(pair[0], 1) and two == _render(pair[1], 2)


@pytest.mark.parametrize(("lang", "one", "two"), [
    ("en", "This message is deleted in 1 minute.", "This message is deleted in 2 minutes."),
    ("es", "Este mensaje se borra en 1 minuto.", "Este mensaje se borra en 2 minutos."),
])
def test_a_review_message_says_one_minute_and_two_minutes(lang: str, one: str,
                                                           two: str) -> None:
    from bot.views.review import deleted_in

    token = current_language.set(lang)
    try:
        assert (deleted_in(1), deleted_in(2)) == (one, two)
    finally:
        current_language.reset(token)


def test_every_combination_of_follow_ups_is_walked() -> None:
    openers = [item for item in Q.items if _opens_follow_ups(item)]
    combos = {tuple(s.answers.get(o.id) is not None and
                    any(f.when is not None and f.when.item == o.id and f.id in s.answers
                        for f in Q.items) for o in openers)
              for walk in WALKS for s in walk[-1:]}
    assert combos == set(itertools.product((False, True), repeat=len(openers)))
