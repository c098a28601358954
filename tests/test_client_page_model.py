"""The workspace's client page as data, against a real SQLite store with seeded history:
what a clinician reads in session, each reason once, who acknowledged and how fast, the
journal paged and searched, and the access rule and audit trail of the chat's review."""

from __future__ import annotations

from datetime import timedelta

import pytest

from journal.alerts.rules_file import load_rules
from journal.checkin.questionnaire_file import load_questionnaire
from journal.clock import FakeClock
from journal.errors import InvalidInput, NotFound
from journal.review.adherence import client_today
from journal.review.client_page import JOURNAL_PAGE_SIZE, ClientPages
from journal.review.model import duration_text
from journal.review.seed import ACK_NOTES, seed_history
from storage import audit
from storage.crypto import MasterKeyring
from storage.records import Client, Clinician
from storage.uow import Store
from tests.conftest import Database
from tests.helpers import make_clinician

Q = load_questionnaire()
RULES = load_rules(questionnaire=Q)
DAYS = 40


@pytest.fixture
async def world(sqlite_database: Database, clock: FakeClock
                ) -> tuple[Store, Clinician, Clinician, Client, object]:
    store = Store.open(sqlite_database.url, MasterKeyring.generate())
    lane = await make_clinician(store, clock, 501, name="Dr Lane")
    ortiz = await make_clinician(store, clock, 502, name="Dr Ortiz")
    async with store.transaction() as uow:
        client = await uow.clients.add_invited(clinician_id=lane.id, language="en",
                                               timezone="Europe/Madrid", checkin_time="20:00",
                                               now=clock.now())
        client = await uow.clients.update(client.id, telegram_id=9001, status="active",
                                          enrolled_at=clock.now() - timedelta(days=400))
    seeded = await seed_history(store, Q, RULES, client, end=client_today(client, clock.now()),
                                days=DAYS, varied_acks=True)
    yield store, lane, ortiz, client, seeded
    await store.close()


async def test_the_page_counts_each_day_and_shows_each_reason_once(world, clock) -> None:
    store, lane, _ortiz, client, seeded = world
    pages = ClientPages(clock=clock, questionnaire=Q, rules=RULES)
    async with store.transaction() as uow:
        page = await pages.page(uow, lane, client.code, days=30)
    today = client_today(client, clock.now())
    in_range = {d: s for d, s in seeded.days.items() if d >= today - timedelta(days=29)}
    # The calendar holds every day of the range with what the client did that day.
    assert len(page.calendar.days) == 30 and page.calendar.days[-1][0] == today
    shown = dict(page.calendar.days)
    for day, state in in_range.items():
        assert shown[day] == state, day
    assert page.calendar.submitted == list(in_range.values()).count("submitted")
    assert page.calendar.missed == list(in_range.values()).count("missed")
    assert page.calendar.asked == len(in_range)
    assert page.period.done == page.calendar.submitted
    # One point and one value per domain for each day; a missed day has none.
    assert len(page.points) == 30 and all(len(v) == 30 for v in page.domains.values())
    assert set(page.domains) >= {"access_to_victims", "hostility", "substance_abuse"}
    missed = next(d for d, s in in_range.items() if s == "missed")
    index = (missed - page.start).days
    assert "general" not in page.points[index].roll_ups
    assert all(values[index] is None for values in page.domains.values())
    # Rules that share a reason (elevated and high) never make a reader read it twice.
    assert page.alerts, "the seeded month raised alerts"
    for alert in page.alerts:
        assert len(alert.reasons) == len(set(alert.reasons)) >= 1
    # Day by day: every submitted day has a row; situations carry the client's own words.
    assert {r.day for r in page.day_rows} == {d for d, s in in_range.items()
                                               if s == "submitted"}
    assert [r.day for r in page.day_rows] == sorted((r.day for r in page.day_rows),
                                                    reverse=True)
    for day, note in seeded.notes.items():
        if day in shown:
            assert page.notes[day] == note
    for situation in page.situations:
        assert situation.happened == seeded.situations[situation.day]
        assert situation.coping, "a high-risk day in the seed always names a coping step"
    assert page.plan_editable and "Call my sponsor" in page.plan_text


async def test_a_repeated_reason_is_listed_once(world, clock) -> None:
    store, lane, _ortiz, client, _seeded = world
    async with store.transaction() as uow:
        await uow.alerts.add(client_id=client.id, checkin_id=None, level="high",
                             detail={"reasons": ["GENERAL_INDICATOR", "HIGH_RISK_SITUATION",
                                                 "GENERAL_INDICATOR", "SEXUAL_VIOLENT_INDICATOR",
                                                 "HIGH_RISK_SITUATION"]},
                             now=clock.now(), next_escalation_at=None)
    pages = ClientPages(clock=clock, questionnaire=Q, rules=RULES)
    async with store.transaction() as uow:
        page = await pages.page(uow, lane, client.code, days=14, language="es")
    newest = page.alerts[0]
    assert newest.at == clock.now() and newest.status == "open"
    assert newest.level_label == "Alto"
    assert len(newest.reasons) == 3 == len(set(newest.reasons))
    assert newest.acknowledged_by is None and newest.response_minutes is None


async def test_who_acknowledged_how_fast_and_the_note(world, clock) -> None:
    store, lane, _ortiz, client, seeded = world
    pages = ClientPages(clock=clock, questionnaire=Q, rules=RULES)
    async with store.transaction() as uow:
        page = await pages.page(uow, lane, client.code, days=90, timezone="Europe/Madrid")
    handled = [a for a in page.alerts if a.status == "acknowledged"]
    assert handled and len(handled) == len(seeded.acknowledged)
    for alert in handled:
        assert alert.acknowledged_by == "Dr Lane"
        assert alert.acknowledged_at - alert.at == seeded.acknowledged[alert.id]
        assert alert.response_minutes == seeded.acknowledged[alert.id].total_seconds() // 60
        assert [n.text for n in alert.notes] in [[note] for note in ACK_NOTES]
        assert all(n.author == "Dr Lane" for n in alert.notes)
    # The last three days' alerts wait for someone.
    assert all(a.response_minutes is None and not a.notes
               for a in page.alerts if a.status == "open")
    # Times come in the viewer's zone.
    assert all(str(a.at.tzinfo) == "Europe/Madrid" for a in page.alerts)
    assert duration_text(125, "en") == "2 hours 5 minutes"


async def test_the_journal_pages_and_search_finds_the_right_entry(world, clock) -> None:
    store, lane, _ortiz, client, seeded = world
    pages = ClientPages(clock=clock, questionnaire=Q, rules=RULES)
    newest_first = sorted(seeded.journal, reverse=True)
    async with store.transaction() as uow:
        first = await pages.journal(uow, lane, client.code, page=1)
        second = await pages.journal(uow, lane, client.code, page=2)
    assert first.total == len(seeded.journal) > JOURNAL_PAGE_SIZE
    assert [e.text for e in first.entries] == [t for _at, t in newest_first[:JOURNAL_PAGE_SIZE]]
    assert first.has_next and second.page == 2
    assert [e.text for e in second.entries] == [
        t for _at, t in newest_first[JOURNAL_PAGE_SIZE:2 * JOURNAL_PAGE_SIZE]]
    # Search: one day's entry by its date, whatever the case of the query.
    at, text = newest_first[13]
    wanted = text.split(":")[0].removeprefix("Journal of ")
    async with store.transaction() as uow:
        found = await pages.journal(uow, lane, client.code, query=f"  JOURNAL of {wanted} ")
        everything = await pages.journal(uow, lane, client.code, query="sponsor", page=2)
        nothing = await pages.journal(uow, lane, client.code, query="no such words")
    assert [h.at for h in found.hits] == [at] and found.total == 1
    assert found.hits[0].source == "journal" and found.entries == ()
    assert found.search_complete and not found.has_next
    assert len(everything.hits) == min(JOURNAL_PAGE_SIZE,
                                       len(seeded.journal) - JOURNAL_PAGE_SIZE)
    # Every record was opened: the journal's entries and the submitted check-ins.
    submitted = list(seeded.days.values()).count("submitted")
    assert everything.page == 2 and everything.searched == len(seeded.journal) + submitted
    assert nothing.hits == () and nothing.total == 0
    # The audit trail names the page and that it was a search, never the words searched.
    async with store.unit_of_work() as uow:
        events = [(e.action, e.detail) for e in await audit.events(uow.session, uow.vault,
                                                                    client_id=client.id)]
    assert ("client.history", f"client {client.code} page 2") in events
    assert ("client.history", f"client {client.code} page 1 search") in events
    assert not any("sponsor" in d or wanted in d for _a, d in events)


async def test_the_search_finds_the_clients_words_in_check_in_notes_and_situations(
        world, clock) -> None:
    store, lane, _ortiz, client, seeded = world
    pages = ClientPages(clock=clock, questionnaire=Q, rules=RULES)
    async with store.transaction() as uow:
        ana = await pages.journal(uow, lane, client.code, query="ana")
        park = await pages.journal(uow, lane, client.code, query="PARK")
        later = await pages.journal(uow, lane, client.code, query="park", page=2)
    # "talked with Ana" is only ever in a check-in note: found there, named as one, dated.
    newest_notes = sorted(seeded.notes.items(), reverse=True)[:JOURNAL_PAGE_SIZE]
    assert [(h.source, h.day, h.text) for h in ana.hits] == [
        ("note", day, text) for day, text in newest_notes]
    assert ana.has_next == (len(seeded.notes) > JOURNAL_PAGE_SIZE)
    # "walked past the park" is in the high-risk situations' details.
    situations = sorted(seeded.situations.items(), reverse=True)
    assert [(h.source, h.day, h.text) for h in park.hits + later.hits] == [
        ("situation", day, text) for day, text in situations[:2 * JOURNAL_PAGE_SIZE]]
    assert all(h.at is None for h in park.hits)


async def test_a_search_merges_the_sources_newest_first(world, clock) -> None:
    store, lane, _ortiz, client, seeded = world
    pages = ClientPages(clock=clock, questionnaire=Q, rules=RULES)
    # Every text holding a day's date: "Journal of 03 Feb", "Note of ...", "Situation on ...".
    wanted = sorted(seeded.days)[-4].strftime("%d %b")
    async with store.transaction() as uow:
        found = await pages.journal(uow, lane, client.code, query=wanted)
    expected = {("journal", t) for _at, t in seeded.journal if wanted in t}
    expected |= {("note", t) for t in seeded.notes.values() if wanted in t}
    expected |= {("situation", t) for t in seeded.situations.values() if wanted in t}
    assert {(h.source, h.text) for h in found.hits} == expected and expected
    days = [h.day for h in found.hits]
    assert days == sorted(days, reverse=True)


async def test_another_clinicians_client_looks_missing_and_views_are_audited(world, clock
                                                                            ) -> None:
    store, lane, ortiz, client, _seeded = world
    pages = ClientPages(clock=clock, questionnaire=Q, rules=RULES)
    for code in (client.code, "ZZZ-99", "not a code"):
        async with store.transaction() as uow:
            with pytest.raises(NotFound) as refused:
                await pages.page(uow, ortiz, code)
        assert refused.value.key == "client.not_found"
        async with store.transaction() as uow:
            with pytest.raises(NotFound):
                await pages.journal(uow, ortiz, code, query="sponsor")
    async with store.transaction() as uow:
        with pytest.raises(InvalidInput):
            await pages.page(uow, lane, client.code, days=45)
        await pages.page(uow, lane, client.code, days=365)
    async with store.unit_of_work() as uow:
        events = [(e.actor, e.action, e.detail)
                  for e in await audit.events(uow.session, uow.vault, client_id=client.id)]
    assert (f"clinician:{lane.id}", "client.report", f"client {client.code} days: 365") in events
    assert not any(actor == f"clinician:{ortiz.id}" for actor, _a, _d in events)


async def test_a_paused_clients_calendar_shows_the_pause(world, clock) -> None:
    store, lane, _ortiz, client, _seeded = world
    clock.set(clock.now() + timedelta(days=5))  # five days past the seeded history
    async with store.transaction() as uow:
        await uow.clients.update(client.id, status="paused", pause_reason="hospital",
                                 paused_at=clock.now() - timedelta(days=3))
    pages = ClientPages(clock=clock, questionnaire=Q, rules=RULES)
    async with store.transaction() as uow:
        page = await pages.page(uow, lane, client.code, days=14)
    states = [s for _d, s in page.calendar.days]
    assert states[-4:] == ["paused"] * 4 and page.calendar.paused == 4
    # The day before the pause was asked for and not done: missed, not paused.
    assert states[-5] == "missed"


async def test_the_search_over_a_clients_words_on_each_database(database: Database,
                                                                clock) -> None:
    store = Store.open(database.url, MasterKeyring.generate())
    try:
        lane = await make_clinician(store, clock, 501, name="Dr Lane")
        async with store.transaction() as uow:
            client = await uow.clients.add_invited(clinician_id=lane.id, language="en",
                                                   timezone="Europe/Madrid",
                                                   checkin_time="20:00", now=clock.now())
        seeded = await seed_history(store, Q, RULES, client,
                                    end=client_today(client, clock.now()), days=DAYS)
        pages = ClientPages(clock=clock, questionnaire=Q, rules=RULES)
        async with store.transaction() as uow:
            ana = await pages.journal(uow, lane, client.code, query="ANA")
            park = await pages.journal(uow, lane, client.code, query="park", page=2)
        newest = sorted(seeded.notes.items(), reverse=True)[:JOURNAL_PAGE_SIZE]
        assert [(h.source, h.day, h.text) for h in ana.hits] == [
            ("note", day, text) for day, text in newest]
        older = sorted(seeded.situations.items(), reverse=True)[JOURNAL_PAGE_SIZE:]
        assert [(h.source, h.day) for h in park.hits] == [("situation", d) for d, _t in older]
        assert park.search_complete and park.total == len(seeded.situations)
    finally:
        await store.close()
