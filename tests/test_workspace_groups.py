"""A group of three with two facilitators, through the workspace on a real database: the
group made, its members and second facilitator added, a session scheduled (each member's
appointment), the preparation sheet read by both facilitators, the second reading a member
who is not their client only through the sheet, and the whole group's attendance taken on
one screen."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import aiohttp
from sqlalchemy import select

from journal.clock import FakeClock
from storage.models import AlertRow, AppointmentRow
from tests.helpers import make_clinician
from tests.stories import enrolled_client
from tests.test_workspace_client import csrf_of, signed_in, world  # noqa: F401 (the fixture)


async def post(session: aiohttp.ClientSession, url: str, data: dict[str, str]) -> Any:
    async with session.post(url, data=data) as answer:
        return answer.status, str(answer.url.path), await answer.text()


async def test_a_group_of_three_with_two_facilitators_and_its_preparation_sheet(
        world: Any, clock: FakeClock) -> None:  # noqa: F811 (the fixture)
    lanes_new = await enrolled_client(world.store, clock, world.lane, 9003, checkin_days="")
    stranger = await make_clinician(world.store, clock, telegram_id=504, name="Dr Far")
    boss = await make_clinician(world.store, clock, telegram_id=505, name="Dr Boss",
                                role="supervisor")
    lane = await signed_in(world, world.lane)
    ortiz = await signed_in(world, world.ortiz)
    far = await signed_in(world, stranger)
    chief = await signed_in(world, boss)
    try:
        async with lane.get(world.url("/groups")) as answer:
            assert answer.status == 200
            token = csrf_of(await answer.text())
        weekday = (clock.now() + timedelta(days=2)).weekday()
        status, path, _page = await post(lane, world.url("/groups"), {
            "csrf_token": token, "name": "Tuesday evening", "weekday": str(weekday),
            "time": "10:00"})
        assert status == 200 and path.startswith("/groups/")
        group = world.url(path)
        for data in ({"code": world.client.code}, {"code": lanes_new.code}):
            status, _p, _t = await post(lane, f"{group}/members", {"csrf_token": token, **data})
            assert status == 200
        # Ortiz's client can join only once Ortiz facilitates the group.
        status, _p, _t = await post(lane, f"{group}/members",
                                    {"csrf_token": token, "code": world.other.code})
        assert status == 404
        status, _p, _t = await post(lane, f"{group}/facilitators",
                                    {"csrf_token": token, "telegram_id": "502"})
        assert status == 200
        status, _p, page = await post(lane, f"{group}/members",
                                      {"csrf_token": token, "code": world.other.code})
        assert status == 200 and "Dr Ortiz" in page
        status, _p, _t = await post(lane, f"{group}/sessions", {"csrf_token": token,
                                                                "place": "Room 4"})
        assert status == 200
        due = (clock.now() + timedelta(days=5)).date().isoformat()
        status, _p, _t = await post(lane, f"{group}/homework", {
            "csrf_token": token, "task": "thinking_errors", "due": due, "text": ""})
        assert status == 200
        status, _p, _t = await post(lane, f"{group}/homework", {
            "csrf_token": token, "task": "own", "due": due, "text": ""})
        assert status == 400  # an own task needs its text
        async with world.store.unit_of_work() as uow:
            given = {c.id: await uow.homework.of_client(c.id)
                     for c in (world.client, lanes_new, world.other)}
        assert all([h.task for h in tasks] == ["thinking_errors"] for tasks in given.values())
        async with world.store.unit_of_work() as uow:
            rows = list(await uow.session.scalars(select(AppointmentRow)))
            assert len(rows) == 3 and len({r.starts_at for r in rows}) == 1
            assert {r.kind for r in rows} == {"group"} and all(r.group_id for r in rows)
            starts_at = rows[0].starts_at

        # The second facilitator reads Lane's clients through the sheet, and only there.
        async with ortiz.get(f"{group}/sheet") as answer:
            sheet = await answer.text()
            assert answer.status == 200
        codes = re.findall(r'<h2 id="m-([^"]+)">', sheet)
        assert sorted(codes) == sorted([world.client.code, lanes_new.code, world.other.code])
        assert codes[0] == world.client.code  # the one with open alerts and a history first
        async with ortiz.get(f"{group}/sheet.pdf") as answer:
            assert answer.status == 200
            assert answer.headers["Content-Type"] == "application/pdf"
            assert (await answer.read()).startswith(b"%PDF")
        async with ortiz.get(world.url(f"/clients/{world.client.code}")) as answer:
            assert answer.status == 404
        async with ortiz.get(world.url(f"/clients/{world.client.code}/appointments")) as answer:
            assert answer.status == 404
        for session in (far,):
            for path_ in ("", "/sheet", "/sheet.pdf"):
                async with session.get(f"{group}{path_}") as answer:
                    assert answer.status == 404
        async with chief.get(f"{group}/sheet") as answer:
            assert answer.status == 200
        async with world.store.unit_of_work() as uow:
            events = await uow.audit_events(client_id=world.client.id)
        assert any(e.action == "group.sheet" and e.actor == f"clinician:{world.ortiz.id}"
                   for e in events)

        # After the session the whole group's attendance is taken on one screen.
        clock.set(starts_at + timedelta(minutes=90))
        await ortiz.close()
        ortiz = await signed_in(world, world.ortiz)
        key = starts_at.strftime("%Y%m%d%H%M")
        async with ortiz.get(f"{group}/sessions/{key}") as answer:
            screen = await answer.text()
            assert answer.status == 200 and screen.count('name="mark-') == 3
            their_token = csrf_of(screen)
        status, _p, _t = await post(ortiz, f"{group}/sessions/{key}", {
            "csrf_token": their_token, f"mark-{world.client.code}": "attended",
            f"mark-{lanes_new.code}": "no_show", f"mark-{world.other.code}": "late"})
        assert status == 200
        async with world.store.unit_of_work() as uow:
            marks = {r.client_id: r.attendance
                     for r in await uow.session.scalars(select(AppointmentRow))}
            alerts = list(await uow.session.scalars(
                select(AlertRow.id).where(AlertRow.client_id == lanes_new.id)))
        assert marks == {world.client.id: "attended", lanes_new.id: "no_show",
                         world.other.id: "late"}
        assert len(alerts) == 1  # the no-show reaches Lane's client's own clinician
        await far.close()
        far = await signed_in(world, stranger)
        async with far.get(world.url("/groups")) as answer:
            far_token = csrf_of(await answer.text())
        status, _p, _t = await post(far, f"{group}/sessions/{key}", {
            "csrf_token": far_token, f"mark-{world.client.code}": "excused"})
        assert status == 404
        async with world.store.unit_of_work() as uow:
            row = (await uow.session.scalars(select(AppointmentRow).where(
                AppointmentRow.client_id == world.client.id))).one()
            assert row.attendance == "attended"
        # An erased member leaves the group's pages: their sealed rows are not opened.
        async with world.store.transaction() as uow:
            await uow.clients.erase(lanes_new.id, clock.now())
        async with ortiz.get(f"{group}/sessions/{key}") as answer:
            assert answer.status == 200 and (await answer.text()).count('name="mark-') == 2
        async with ortiz.get(f"{group}/sheet") as answer:
            assert answer.status == 200 and lanes_new.code not in await answer.text()
    finally:
        for session in (lane, ortiz, far, chief):
            await session.close()
