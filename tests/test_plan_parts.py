"""The plan's parts file: the packaged one is valid and in both languages; a broken one is
refused with every problem listed; the chat format reads and writes every part's details;
a version's diff names what was reworded, removed, added and moved."""

from __future__ import annotations

import tomllib
from importlib import resources
from typing import Any

import pytest
from sqlalchemy import func, select

from journal.clock import FakeClock
from journal.i18n import gettext_for
from journal.plan_parts import PlanPartsError, load_plan_parts, parse_plan_parts
from journal.review.plan import (
    PlanFormatError,
    diff_plans,
    parse_plan,
    plan_as_text,
    plan_lines,
)
from storage.models import HelpMomentRow, PlanRow, PlanSuggestionRow, PlanVersionRow
from storage.records import Plan, PlanItem
from storage.uow import Store
from tests.helpers import make_clinician
from tests.stories import enrolled_client


def _data() -> dict[str, Any]:
    return tomllib.loads(resources.files("journal").joinpath("plan_default.toml")
                         .read_text(encoding="utf-8"))


def test_the_packaged_parts_are_valid_and_every_text_has_spanish() -> None:
    parts = load_plan_parts()
    assert parts.stages == ("build_up", "thinking_errors", "planning", "lapse")
    assert parts.limit("at_risk") == 3 and parts.limit("first_call") == 1
    assert parts.limit("coping") == 20
    for msgid in (*parts.titles.values(), *parts.stage_names.values(),
                  *parts.field_labels.values()):
        assert gettext_for("es", msgid) != msgid, msgid


def test_a_broken_parts_file_is_refused_with_every_problem_listed() -> None:
    data = _data()
    data["parts"] = [p for p in data["parts"] if p != "situations"] + ["Bad Id"]
    data["limits"]["items"] = 0
    data["fields_of"]["coping"] = ["stage"]
    del data["stage_names"]["lapse"]
    data["colour"] = "blue"
    with pytest.raises(PlanPartsError) as caught:
        parse_plan_parts(data)
    text = str(caught.value)
    for expected in ("unknown top-level key 'colour'", "parts must include 'situations'",
                     "ids must be lowercase", "limits.items must be a whole number",
                     "only the cycle's signs have a stage", "[stage_names] has no text for "
                     "'lapse'", "[titles] has no text for 'Bad Id'"):
        assert expected in text, text


def test_the_chat_format_carries_every_detail_both_ways() -> None:
    current = Plan.from_sections("c1", ("old sign",), ("old step",), ("Ana",))
    plan = parse_plan(
        "My offence cycle:\n- feeling low | stage: Build-up\n- 'nobody will know' | "
        "etapa: errores de pensamiento\n"
        "Situaciones de alto riesgo:\n- the park | avoid: other road | get out: leave\n"
        "Support people:\n- Ana | role: sister | reach: 600 000 000\n"
        "If I am at risk right now:\n- leave\n- breathe\n- call Ana\n", current)
    assert plan.items("cycle") == (PlanItem("feeling low", (("stage", "build_up"),)),
                                   PlanItem("'nobody will know'",
                                            (("stage", "thinking_errors"),)))
    assert plan.items("situations")[0].field("escape") == "leave"
    assert plan.items("support")[0].extra == (("role", "sister"), ("reach", "600 000 000"))
    assert plan.coping_steps == ("old step",)  # a part left out keeps what it had
    for language in ("en", "es"):
        assert parse_plan(plan_as_text(plan, language), current).parts == plan.parts
    lines = dict(plan_lines(plan, "es"))
    assert lines["Mi ciclo de delito"] == ["Acumulación: feeling low",
                                           "Errores de pensamiento: 'nobody will know'"]
    for wrong in ("Coping strategies:\n- x | stage: Build-up",  # no stage outside the cycle
                  "My offence cycle:\n- x | stage: nowhere",
                  "If I am at risk right now:\n- a\n- b\n- c\n- d",  # three at most
                  "Coping strategies:\n- " + "x" * 201):
        with pytest.raises(PlanFormatError):
            parse_plan(wrong, current)


def test_a_diff_names_a_reworded_a_removed_an_added_and_a_moved_item() -> None:
    old = Plan.with_parts("c1", coping=("Call my sponsor", "Go for a walk", "Drink water",
                                        "Leave the place"),
                          controls=("No contact with minors", "Home by 22:00"))
    new = Plan.with_parts("c1", coping=("Leave the place", "Drink water",
                                        "Call my sponsor at once", "Breathe slowly"),
                          controls=("No contact with minors",))
    changes = {(c.part, c.kind, c.before, c.after) for c in diff_plans(old, new)}
    assert ("controls", "removed", "Home by 22:00", "") in changes
    assert ("coping", "reworded", "Call my sponsor", "Call my sponsor at once") in changes
    assert ("coping", "moved", "Leave the place", "") in changes
    assert ("coping", "removed", "Go for a walk", "") in changes
    assert ("coping", "added", "", "Breathe slowly") in changes
    assert len(changes) == 5
    assert diff_plans(old, old) == []


async def test_erasing_a_client_leaves_no_plan_version_suggestion_or_moment(
        store: Store, clock: FakeClock) -> None:
    lane = await make_clinician(store, clock, telegram_id=7301)
    client = await enrolled_client(store, clock, lane, 8301)
    async with store.transaction() as uow:
        await uow.plans.put(Plan.with_parts(client.id, coping=("Ring Ana",)), by=lane.id,
                            now=clock.now(), reason="first")
        await uow.plans.suggest(client.id, "coping", "Walk", now=clock.now())
        await uow.plans.add_moment(client.id, now=clock.now())
    async with store.transaction() as uow:
        assert await uow.clients.erase(client.id, clock.now())
    async with store.unit_of_work() as uow:
        for table in (PlanRow, PlanVersionRow, PlanSuggestionRow, HelpMomentRow):
            left = await uow.session.scalar(select(func.count()).select_from(table))
            assert left == 0, table.__tablename__
