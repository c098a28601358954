"""A clinician's iCalendar feed through the workspace on a real database: its secret URL
made, read by the `icalendar` library as a calendar app would, clients by code and kind
only (no name, no place, no reason), their own appointments and their groups' sessions;
a new URL stops the old one, and a revoked one is the unknown page."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, time, timedelta
from typing import Any

import aiohttp
from icalendar import Calendar
from sqlalchemy import select

from journal.appointments import AppointmentRequest
from journal.clock import FakeClock
from storage.models import CalendarFeedRow
from tests.test_workspace_client import csrf_of, signed_in, world  # noqa: F401 (the fixture)
from web.context import SERVICES_KEY


async def test_the_feed_parses_names_codes_and_kinds_only_and_can_be_revoked(
        world: Any, clock: FakeClock) -> None:  # noqa: F811 (the fixture)
    services = world.server.app[SERVICES_KEY]
    day = (clock.now() + timedelta(days=3)).date()
    async with world.store.transaction() as uow:
        _c, mine = await services.appointments.add(uow, world.lane, AppointmentRequest(
            world.client.code, "polygraph", day, time(9, 30), place="Examiner, Calle Luna 8"))
        _c, theirs = await services.appointments.add(uow, world.ortiz, AppointmentRequest(
            world.other.code, "court", day, time(11, 0), place="Juzgado 3"))
        await services.appointments.decline(uow, world.client, mine.id)
        await services.appointments.give_reason(uow, world.client, "My daughter's school play")
    lane = await signed_in(world, world.lane)
    try:
        async with lane.get(world.url("/calendar")) as answer:
            page = await answer.text()
            assert answer.status == 200 and "You have no feed address." in page
        async with lane.post(world.url("/calendar"), data={"csrf_token": csrf_of(page),
                                                           "action": "new"}) as answer:
            made = await answer.text()
        url = re.search(r'value="(http[^"]+\.ics)"', made)
        assert url, made
        feed_url = url.group(1)
        token = feed_url.rsplit("/", 1)[1][:-4]
        async with world.store.unit_of_work() as uow:
            stored = list(await uow.session.scalars(select(CalendarFeedRow.token_hash)))
        assert stored == [hashlib.sha256(token.encode()).hexdigest()]
        async with aiohttp.ClientSession() as app, app.get(feed_url) as answer:
            assert answer.status == 200
            assert answer.headers["Content-Type"].startswith("text/calendar")
            body = await answer.read()
        calendar = Calendar.from_ical(body)
        events = list(calendar.walk("VEVENT"))
        assert [str(e["SUMMARY"]) for e in events] == [
            f"Polygraph examination: {world.client.code}"]  # Ortiz's client is not Lane's
        start = events[0].decoded("DTSTART")
        assert start.astimezone(UTC) == mine.starts_at
        text = body.decode()
        for secret in ("Calle Luna", "Examiner", "daughter", "Juzgado", world.other.code):
            assert secret not in text
        assert "LOCATION" not in text and "DESCRIPTION" not in text

        # A new address stops the old one; revoking stops the new one.
        async with lane.get(world.url("/calendar")) as answer:
            page = await answer.text()
            assert "A feed address is active since" in page
        async with lane.post(world.url("/calendar"), data={"csrf_token": csrf_of(page),
                                                           "action": "new"}) as answer:
            newer = re.search(r'value="(http[^"]+\.ics)"', await answer.text())
        assert newer and newer.group(1) != feed_url
        async with aiohttp.ClientSession() as app:
            async with app.get(feed_url) as answer:
                gone = await answer.text()
                assert answer.status == 404
            async with app.get(world.url("/no-such-page")) as answer:
                assert gone.split("<main")[1] == (await answer.text()).split("<main")[1]
            async with app.get(newer.group(1)) as answer:
                assert answer.status == 200
        async with lane.post(world.url("/calendar"), data={"csrf_token": csrf_of(page),
                                                           "action": "revoke"}) as answer:
            assert answer.status == 200 and "You have no feed address." in await answer.text()
        async with aiohttp.ClientSession() as app, app.get(newer.group(1)) as answer:
            assert answer.status == 404
        async with aiohttp.ClientSession() as stranger, stranger.get(
                world.url("/calendar"), allow_redirects=False) as answer:
            assert answer.status == 401
        async with world.store.unit_of_work() as uow:
            actions = [e.action for e in await uow.audit_events()]
        assert actions.count("calendar.link") == 2 and "calendar.revoke" in actions
    finally:
        await lane.close()
    assert theirs.starts_at > mine.starts_at
