"""The client page opens on what changed since the last session, over real HTTP on a real
SQLite store with a seeded history: the alerts with their reasons and state, the check-ins
done and missed, the situations and lapses, the client's own words and the plan's change;
a day chosen in a form, a bad one answered kindly in the reader's language, and the same
view as a PDF of exactly one page whose file name says whose, which days and when."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from io import BytesIO
from zoneinfo import ZoneInfo

from pypdf import PdfReader
from sqlalchemy import update

from journal.review.adherence import client_today
from storage import audit
from storage.models import ClinicianRow
from storage.records import Client
from tests.test_workspace_client import World, get, signed_in, visible_text
from tests.test_workspace_client import world as world  # noqa: F401 (the fixture, by name)


def since_part(page: str) -> str:
    """The "since" section's own markup."""
    found = re.search(r'<section aria-labelledby="since-title".*?</section>', page, flags=re.S)
    assert found, "the page has no since section"
    return found.group(0)


async def test_the_page_opens_on_the_last_seven_days(world: World) -> None:
    session = await signed_in(world, world.lane)
    code = world.client.code
    try:
        status, page, _h = await get(session, world.url(f"/clients/{code}"))
    finally:
        await session.close()
    assert status == 200
    # The section menu first, then the since view, then the longer views.
    order = [page.index(mark) for mark in ('class="sections"', 'id="since-title"',
                                           'id="summary-title"', 'id="alerts-title"',
                                           'id="plan-title"')]
    assert order == sorted(order)
    for anchor in ("#since", "#summary-title", "#alerts-title", "#situations-title",
                   "#days-title", "#journal-title", "#plan", "#report-title"):
        assert f'href="{anchor}"' in page, anchor
    part = since_part(page)
    text = visible_text(part)
    today = client_today(world.client, datetime(2026, 3, 2, 9, 0, tzinfo=UTC))  # the clock
    since = today - timedelta(days=7)
    assert f'value="{since.isoformat()}"' in part
    assert "The last 7 days: no session the client came to is recorded" in text
    # The alerts of the period, newest first, each with its reasons and its state.
    zone = ZoneInfo(world.client.timezone)
    start = datetime.combine(since, time(0), zone).astimezone(UTC)
    async with world.store.unit_of_work() as uow:
        alerts = await uow.alerts.recent(world.client.id, since=start)
    assert alerts, "the seeded week has alerts"
    shown = re.findall(r'<li class="alert level-\w+">.*?<time datetime="([^"]+)"', part,
                       flags=re.S)
    assert len(shown) == len(alerts)
    assert shown == sorted(shown, reverse=True)
    assert part.count('<ul class="reasons"') == len(alerts)
    assert ("Acknowledged by Dr Lane" in text) or ("Open: not acknowledged yet." in text)
    # Check-ins done and missed, as seeded.
    days = {d: s for d, s in world.seeded.days.items() if since <= d <= today}
    done = sum(1 for s in days.values() if s == "submitted")
    missed = sorted((d for d, s in days.items() if s == "missed"), reverse=True)
    assert f"Checked in {done} days, missed {len(missed)}" in text
    if missed:
        assert "Missed: " + ", ".join(d.isoformat() for d in missed) in text
    # Situations, and the client's own words: journal entries and check-in notes.
    for day, detail in world.seeded.situations.items():
        assert (detail in text) == (since <= day <= today), day
    notes = [n for d, n in world.seeded.notes.items() if since <= d <= today]
    entries = [e for at, e in world.seeded.journal if at >= start]
    assert notes and entries
    for words in notes + entries:
        assert words in text, words
    older = [e for at, e in world.seeded.journal if at < start - timedelta(days=1)]
    assert older and not any(e in text for e in older[-3:])
    # The plan: only its latest change is recorded, and the view says so.
    assert "Relapse prevention plan" in text
    assert any(words in text for words in ("Changed ", "Not changed in this period",
                                           "No change recorded."))


async def test_a_chosen_day_is_audited_and_a_bad_one_answered_kindly(world: World) -> None:
    session = await signed_in(world, world.lane)
    code = world.client.code
    try:
        status, page, _h = await get(session, world.url(f"/clients/{code}?since=2026-02-20"))
        assert status == 200
        assert 'value="2026-02-20"' in since_part(page)
        assert "From 2026-02-20 to 2026-03-02 (11 days)" in visible_text(since_part(page))
        for bad in ("yesterday", "2026-02-30", "2031-01-01", "1999-01-01", "2026-2-1",
                    "٢٠٢٦-٠٢-٠١"):
            status, page, _h = await get(session, world.url(f"/clients/{code}?since={bad}"))
            assert status == 400, bad
            text = visible_text(since_part(page))
            assert f"“{bad}” is not a day this view can start on." in text, bad
            assert "Shown instead: the last 7 days." in text
            assert 'aria-invalid="true"' in page and 'role="alert"' in page
            assert "From 2026-02-23 to 2026-03-02" in text  # the default, still readable
        status, _page, _h = await get(session, world.url(f"/clients/{code}/since.pdf"
                                                         "?since=nonsense"))
        assert status == 400
    finally:
        await session.close()
    async with world.store.unit_of_work() as uow:
        events = [(e.action, e.detail) for e in await audit.events(
            uow.session, uow.vault, client_id=world.client.id)]
    assert ("client.report", f"client {code} days: 30 since 2026-02-20") in events


async def test_the_since_view_in_spanish(world: World) -> None:
    async with world.store.transaction() as uow:
        await uow.session.execute(update(ClinicianRow).where(ClinicianRow.id == world.lane.id)
                                  .values(language="es"))
    session = await signed_in(world, world.lane)
    try:
        status, page, _h = await get(session, world.url(
            f"/clients/{world.client.code}?since=mañana"))
    finally:
        await session.close()
    assert status == 400
    text = visible_text(since_part(page))
    for words in ("Desde la última sesión", "Las palabras del propio cliente",
                  "«mañana» no es un día desde el que pueda empezar esta vista",
                  "Situaciones de alto riesgo y deslices", "Descargar esto en una página (PDF)"):
        assert words in text, words


async def test_the_since_view_as_one_pdf_page(world: World) -> None:
    session = await signed_in(world, world.lane)
    code = world.client.code
    try:
        async with session.get(world.url(f"/clients/{code}/since.pdf?since=2026-02-01")
                               ) as answer:
            assert answer.status == 200
            assert answer.content_type == "application/pdf"
            disposition = answer.headers["Content-Disposition"]
            pdf = await answer.read()
        async with session.get(world.url(f"/clients/{code}/since.pdf")) as answer:
            assert answer.status == 200
            short = await answer.read()
            short_name = answer.headers["Content-Disposition"]
        # Another clinician's client is not found, as an unknown code is.
        async with session.get(world.url(f"/clients/{world.other.code}/since.pdf")) as answer:
            assert answer.status == 404
    finally:
        await session.close()
    assert disposition == (f'attachment; filename="steadfast-{code}-since-2026-02-01'
                           f'-to-2026-03-02-made-2026-03-02.pdf"')
    assert "since-2026-02-23-to-2026-03-02" in short_name
    for document in (pdf, short):
        reader = PdfReader(BytesIO(document))
        assert len(reader.pages) == 1
    text = " ".join(PdfReader(BytesIO(pdf)).pages[0].extract_text().split())
    assert f"Since the last session: client {code}" in text
    assert "Check-ins" in text and "Alerts" in text
    # A month does not fit on one page: the short parts come first, and the page says
    # where the rest is.
    assert "Not everything fits on one page" in text
    assert "Checked in " in text and "Relapse prevention plan" in text
    short_text = " ".join(PdfReader(BytesIO(short)).pages[0].extract_text().split())
    assert "The client's own words" in short_text and "Relapse prevention plan" in short_text
    async with world.store.unit_of_work() as uow:
        events = [(e.action, e.detail) for e in await audit.events(
            uow.session, uow.vault, client_id=world.client.id)]
    assert ("client.report", f"client {code} since 2026-02-01 pdf") in events


async def test_each_report_downloads_under_its_own_name(world: World) -> None:
    session = await signed_in(world, world.lane)
    code = world.client.code
    names = []
    try:
        for days in (7, 30):
            async with session.get(world.url(f"/reports/{code}?days={days}")) as answer:
                assert answer.status == 200
                names.append(answer.headers["Content-Disposition"])
                await answer.read()
    finally:
        await session.close()
    # The client, the days covered and the day it was made: two ranges, two names.
    assert names == [
        f'attachment; filename="steadfast-{code}-2026-02-24-to-2026-03-02-made-2026-03-02.pdf"',
        f'attachment; filename="steadfast-{code}-2026-02-01-to-2026-03-02-made-2026-03-02.pdf"']


async def add_session(world: World, client: Client, kind: str, at: datetime,
                      attendance: str | None) -> None:
    """An appointment of the client's at `at` (UTC), its attendance recorded as given."""
    async with world.store.transaction() as uow:
        made = await uow.appointments.add(
            client_id=client.id, clinician_id=world.lane.id, kind=kind, starts_at=at,
            online=False, place="Room 4, Calle Mayor 1", reminders_done=2, next_due_at=None,
            now=at - timedelta(days=3))
        if attendance is not None:
            await uow.appointments.update(made.id, attendance=attendance,
                                          attendance_at=at + timedelta(hours=1),
                                          attendance_by=world.lane.id)


async def test_the_view_starts_on_the_last_session_the_client_came_to(world: World) -> None:
    code = world.client.code
    # 00:30 on 2026-02-20 in Madrid, ten days before the clock's day: the client's day counts.
    await add_session(world, world.client, "individual", datetime(2026, 2, 19, 23, 30,
                                                                   tzinfo=UTC), "attended")
    # Later, but not a session the client came to: a no-show, an excused one, one with
    # nothing recorded yet, an officer's visit; and another client's session.
    await add_session(world, world.client, "individual", datetime(2026, 2, 26, 10, tzinfo=UTC),
                      "no_show")
    await add_session(world, world.client, "group", datetime(2026, 2, 27, 17, tzinfo=UTC),
                      "excused")
    await add_session(world, world.client, "individual", datetime(2026, 3, 1, 9, tzinfo=UTC),
                      None)
    await add_session(world, world.client, "officer", datetime(2026, 2, 28, 9, tzinfo=UTC),
                      "attended")
    await add_session(world, world.other, "group", datetime(2026, 2, 28, 17, tzinfo=UTC),
                      "attended")
    session = await signed_in(world, world.lane)
    try:
        status, page, _h = await get(session, world.url(f"/clients/{code}"))
        assert status == 200
        part = since_part(page)
        text = visible_text(part)
        assert 'value="2026-02-20"' in part
        assert "Since the session on 2026-02-20." in text
        assert "From 2026-02-20 to 2026-03-02 (11 days)" in text
        assert "The last 7 days" not in text
        # A bad day falls back on the session, and says so.
        status, page, _h = await get(session, world.url(f"/clients/{code}?since=nonsense"))
        assert status == 400
        assert "Shown instead: since the session on 2026-02-20." in visible_text(
            since_part(page))
        # A chosen day still wins, and the page does not pretend it is the session's.
        status, page, _h = await get(session, world.url(f"/clients/{code}?since=2026-02-25"))
        part = since_part(page)
        assert status == 200 and 'value="2026-02-25"' in part
        assert "Since the session on" not in visible_text(part)
        # The one-page PDF starts on the same day and says why.
        async with session.get(world.url(f"/clients/{code}/since.pdf")) as answer:
            assert answer.status == 200
            name = answer.headers["Content-Disposition"]
            pdf = await answer.read()
        # A late arrival at a group session is coming too.
        await add_session(world, world.client, "group", datetime(2026, 2, 24, 17, tzinfo=UTC),
                          "late")
        status, page, _h = await get(session, world.url(f"/clients/{code}"))
        assert status == 200
        assert "Since the session on 2026-02-24." in visible_text(since_part(page))
    finally:
        await session.close()
    assert "since-2026-02-20-to-2026-03-02" in name
    text = " ".join(PdfReader(BytesIO(pdf)).pages[0].extract_text().split())
    assert "Since the session on 2026-02-20." in text


async def test_a_missed_or_too_old_session_leaves_the_last_seven_days(world: World) -> None:
    code = world.client.code
    await add_session(world, world.client, "individual", datetime(2026, 2, 27, 10, tzinfo=UTC),
                      "no_show")
    await add_session(world, world.client, "individual", datetime(2025, 2, 1, 10, tzinfo=UTC),
                      "attended")  # further back than the view can start
    async with world.store.transaction() as uow:
        await uow.session.execute(update(ClinicianRow).where(ClinicianRow.id == world.lane.id)
                                  .values(language="es"))
    session = await signed_in(world, world.lane)
    try:
        status, page, _h = await get(session, world.url(f"/clients/{code}"))
        async with session.get(world.url(f"/clients/{code}/since.pdf")) as answer:
            assert answer.status == 200
            name = answer.headers["Content-Disposition"]
            pdf = await answer.read()
    finally:
        await session.close()
    assert status == 200
    part = since_part(page)
    assert 'value="2026-02-23"' in part
    assert ("Los últimos 7 días: no consta ninguna sesión a la que el cliente asistiera"
            in visible_text(part))
    assert "since-2026-02-23-to-2026-03-02" in name
    text = " ".join(PdfReader(BytesIO(pdf)).pages[0].extract_text().split())
    assert "Los últimos 7 días" in text
