"""/caseload reads its counts in a few grouped queries: the statements it sends do not grow
with the number of clients (what it shows is covered by tests/test_review.py)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import event

from journal.clock import FakeClock
from journal.review.caseload import CaseloadService
from storage.records import Clinician
from storage.uow import Store
from tests.helpers import make_client, make_clinician


async def _statements(store: Store, clock: FakeClock, supervisor: Clinician) -> int:
    sent = [0]

    def count(*_args: Any) -> None:
        sent[0] += 1

    engine = store.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        async with store.transaction() as uow:
            await CaseloadService(clock=clock).caseload(uow, supervisor)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return sent[0]


async def test_the_caseload_sends_as_many_statements_for_40_clients_as_for_4(
        store: Store, clock: FakeClock) -> None:
    supervisor = await make_clinician(store, clock, telegram_id=7001, role="supervisor")
    # The first audit event of a database creates the audit chain's key and head once, and
    # the store reads each system key once (the people key opening Telegram ids and levels
    # only once there are clients): a few statements more, whatever the caseload, which the
    # first look at each size pays for.
    await _statements(store, clock, supervisor)
    counts = []
    for total in (4, 40):
        async with store.unit_of_work() as uow:
            have = len(await uow.clients.for_clinician(None))
        for n in range(have, total):
            client = await make_client(store, clock, supervisor, telegram_id=9000 + n)
            async with store.transaction() as uow:  # a few days, some missed
                for back in range(3):
                    await uow.checkins.create(
                        client_id=client.id, local_date=clock.now().date() - timedelta(days=back),
                        status=("submitted", "missed", "prompted")[(n + back) % 3],
                        questionnaire_id="q", questionnaire_version="1", item_ids=[],
                        now=clock.now())
        await _statements(store, clock, supervisor)
        counts.append(await _statements(store, clock, supervisor))
    assert counts[0] == counts[1], counts
    assert counts[1] <= 12, counts


async def _program_statements(store: Store, clock: FakeClock, supervisor: Clinician) -> int:
    sent = [0]

    def count(*_args: Any) -> None:
        sent[0] += 1

    engine = store.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        async with store.transaction() as uow:
            await CaseloadService(clock=clock).program(uow, supervisor)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return sent[0]


async def test_the_program_page_sends_as_many_statements_for_40_clients_as_for_4(
        store: Store, clock: FakeClock) -> None:
    supervisor = await make_clinician(store, clock, telegram_id=7001, role="supervisor")
    lanes = [await make_clinician(store, clock, telegram_id=7100 + n, name=f"Dr {n}")
             for n in range(4)]
    await _program_statements(store, clock, supervisor)  # first audit event, system keys
    counts = []
    for total in (4, 40):
        async with store.unit_of_work() as uow:
            have = len(await uow.clients.for_clinician(None))
        for n in range(have, total):
            client = await make_client(store, clock, lanes[n % 4], telegram_id=9000 + n)
            async with store.transaction() as uow:  # a few days, and an open alert each
                for back in range(3):
                    await uow.checkins.create(
                        client_id=client.id, local_date=clock.now().date() - timedelta(days=back),
                        status=("submitted", "missed", "prompted")[(n + back) % 3],
                        questionnaire_id="q", questionnaire_version="1", item_ids=[],
                        now=clock.now())
                await uow.alerts.add(client_id=client.id, checkin_id=None,
                                     level=("critical", "high", "elevated")[n % 3], detail={},
                                     now=clock.now() - timedelta(hours=n),
                                     next_escalation_at=clock.now() - timedelta(minutes=n))
        await _program_statements(store, clock, supervisor)
        counts.append(await _program_statements(store, clock, supervisor))
    assert counts[0] == counts[1], counts
    assert counts[1] <= 10, counts
