"""The plan in the workspace: a form per part (reword, remove, add, reorder) saves a new
version with its reason; the history page shows what changed between two versions; a
client's suggestion is accepted there; another clinician gets the very page an unknown
code gives for every plan route, and changes nothing."""

from __future__ import annotations

import re

from storage import audit
from tests.test_workspace_client import (
    World,
    csrf_of,
    get,
    signed_in,
    visible_text,
    world,  # noqa: F401 (the fixture, by name)
)


def _form_names(page: str, part: str) -> dict[str, str]:
    """The inputs of one part's form, name -> value."""
    form = page.split(f'id="plan-{part}"')[1].split("</form>")[0]
    return {m.group(1): m.group(2) for m in re.finditer(
        r'<input id="[^"]+" name="([^"]+)"[^>]*? value="([^"]*)"', form)}


async def test_a_part_is_reworded_reordered_trimmed_and_added_to_as_a_new_version(
        world: World) -> None:  # noqa: F811
    session = await signed_in(world, world.lane)
    code = world.client.code
    try:
        _s, page, _h = await get(session, world.url(f"/clients/{code}"))
        token = csrf_of(page)
        names = _form_names(page, "coping")
        assert names["text_01"] == "Call my sponsor" and names["text_03"] == "Leave the place"
        data = {"csrf_token": token, "reason": "Reviewed in session 12",
                "text_01": "Call my sponsor at once", "pos_01": "2",
                "text_02": "Go for a walk", "pos_02": "1", "remove_02": "on",
                "text_03": "Leave the place", "pos_03": "1",
                "text_new": "Breathe slowly", "pos_new": ""}
        async with session.post(world.url(f"/clients/{code}/plan/part/coping"),
                                data=data) as saved:
            assert saved.status == 200 and saved.url.query.get("plan") == "saved"
        async with world.store.unit_of_work() as uow:
            plan = await uow.plans.get(world.client.id)
            versions = await uow.plans.versions(world.client.id)
        assert plan.coping_steps == ("Leave the place", "Call my sponsor at once",
                                     "Breathe slowly")
        assert plan.warning_signs  # the other parts are as they were
        assert versions[0].reason == "Reviewed in session 12"
        assert versions[0].by == world.lane.id and versions[0].number == plan.version

        # Too long an item: shown again with the reason, nothing saved.
        data = {"csrf_token": token, "text_01": "x" * 201}
        async with session.post(world.url(f"/clients/{code}/plan/part/coping"),
                                data=data) as refused:
            assert refused.status == 400
            assert "The plan was not saved" in await refused.text()

        status, page, _h = await get(session, world.url(f"/clients/{code}/plan/history"))
        assert status == 200
        shown = " ".join(visible_text(page).split())
        assert "Reworded Call my sponsor Call my sponsor at once" in shown
        assert "Removed Go for a walk" in shown and "Added Breathe slowly" in shown
        assert "Reviewed in session 12" in shown and "Dr Lane" in shown
    finally:
        await session.close()


async def test_a_suggestion_is_accepted_as_edited_in_the_workspace(world: World) -> None:  # noqa: F811
    async with world.store.transaction() as uow:
        client = await uow.clients.get(world.client.id)
        assert client is not None and client.enrolled_at is not None
        suggestion = await uow.plans.suggest(world.client.id, "coping", "Ring Ana",
                                             now=client.enrolled_at)
    session = await signed_in(world, world.lane)
    code = world.client.code
    try:
        _s, page, _h = await get(session, world.url(f"/clients/{code}"))
        assert "Suggestions from the client" in page and "Ring Ana" in page
        async with session.post(world.url(f"/clients/{code}/plan/suggestions/{suggestion}"),
                                data={"csrf_token": csrf_of(page), "action": "accept",
                                      "text": "Ring Ana, my sister"}) as done:
            assert done.status == 200
    finally:
        await session.close()
    async with world.store.unit_of_work() as uow:
        plan = await uow.plans.get(world.client.id)
        left = await uow.plans.suggestions(world.client.id)
    assert plan.coping_steps[-1] == "Ring Ana, my sister" and left == []


async def test_another_clinician_finds_no_plan_routes(world: World) -> None:  # noqa: F811
    async with world.store.transaction() as uow:
        client = await uow.clients.get(world.client.id)
        assert client is not None and client.enrolled_at is not None
        suggestion = await uow.plans.suggest(world.client.id, "coping", "Ring Ana",
                                             now=client.enrolled_at)
    session = await signed_in(world, world.ortiz)
    try:
        _s, page, _h = await get(session, world.url("/caseload"))
        token = csrf_of(page)
        answers = []
        for code in (world.client.code, "ZZZ-99"):
            status, page, _h = await get(session, world.url(f"/clients/{code}/plan/history"))
            answers.append((status, visible_text(page).split("Steadfast")[-1]))
            for path, data in ((f"/clients/{code}/plan/part/coping",
                                {"csrf_token": token, "text_new": "x"}),
                               (f"/clients/{code}/plan/suggestions/{suggestion}",
                                {"csrf_token": token, "action": "accept"})):
                async with session.post(world.url(path), data=data) as posted:
                    answers.append((posted.status,
                                    visible_text(await posted.text()).split("Steadfast")[-1]))
        # Their own client's code with this suggestion's id: not found either.
        async with session.post(
                world.url(f"/clients/{world.other.code}/plan/suggestions/{suggestion}"),
                data={"csrf_token": token, "action": "decline"}) as posted:
            answers.append((posted.status,
                            visible_text(await posted.text()).split("Steadfast")[-1]))
        assert {status for status, _p in answers} == {404}
        assert len({body for _s, body in answers}) == 1
    finally:
        await session.close()
    async with world.store.unit_of_work() as uow:
        plan = await uow.plans.get(world.client.id)
        left = await uow.plans.suggestions(world.client.id)
        events = await audit.events(uow.session, uow.vault, client_id=world.client.id)
    assert "x" not in plan.coping_steps and len(left) == 1
    assert not any(e.actor == f"clinician:{world.ortiz.id}" for e in events)
