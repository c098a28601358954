"""/alerts reads in a few grouped statements: its open alerts, the week's acknowledged ones
with their notes, every copy's outbox status and the staff's names cost as many statements
for 30 alerts as for 3 (on both databases); and each copy reads as its outbox row stands.
What the page shows is covered by tests/test_workspace_alerts.py."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import event

from journal.alerts.rules import Finding
from journal.alerts.rules_file import load_rules
from journal.alerts.service import AlertService, copy_states, note_authors
from journal.checkin.questionnaire_file import load_questionnaire
from journal.clock import FakeClock
from storage.records import Clinician
from storage.uow import Store
from tests.helpers import make_client, make_clinician

Q = load_questionnaire()
RULES = load_rules(questionnaire=Q)


async def _page_reads(store: Store, alerts: AlertService, viewer: Clinician) -> int:
    """The statements of what pages.alerts reads (the reasons' audit events are writes,
    one an alert as the chat's Details button writes them)."""
    sent = [0]

    def count(*_args: Any) -> None:
        sent[0] += 1

    engine = store.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        async with store.transaction() as uow:
            rows = await alerts.open_alerts(uow, viewer)
            handled = await alerts.recently_acknowledged(uow, viewer, days=7)
            await copy_states(uow, [a for a, _c in rows + handled])
            await note_authors(uow, [a for a, _c in handled])
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return sent[0]


async def test_the_alerts_page_reads_as_many_statements_for_30_alerts_as_for_3(
        store: Store, clock: FakeClock) -> None:
    alerts = AlertService(clock=clock, questionnaire=Q, rules=RULES)
    lane = await make_clinician(store, clock, telegram_id=7001, name="Dr Lane")
    sup = await make_clinician(store, clock, telegram_id=7002, name="Dr Sup",
                               role="supervisor")
    client = await make_client(store, clock, lane, telegram_id=8001)
    await _page_reads(store, alerts, sup)  # the system keys are read once, first
    counts = []
    for total in (3, 30):
        async with store.unit_of_work() as uow:
            have = len(await uow.alerts.open_for([client.id]))
        async with store.transaction() as uow:
            for n in range(have, total):
                alert = await alerts.raise_alert(
                    uow, client, findings=[Finding("self_harm", "critical", "SELF_HARM")],
                    checkin_id=None, answers={})
                for chat, message_id in await uow.alerts.copies(alert.id):
                    assert chat == 7001 and message_id is None
                if n % 3 == 0:  # some are acknowledged with a note, by either
                    await alerts.acknowledge(uow, (lane, sup)[n % 2], alert.id)
                    await alerts.add_note(uow, (lane, sup)[n % 2], alert.id, "Phoned.")
        clock.advance(minutes=1)
        async with store.transaction() as uow:  # and half the copies were delivered
            due = await uow.outbox.claim_due(clock.now(), limit=100,
                                             lease=timedelta(minutes=1))
            for i, message in enumerate(due):
                if i % 2:
                    await uow.outbox.mark_sent(message.id, now=clock.now(),
                                               sent_message_id=i + 1)
                else:
                    await uow.outbox.mark_retry(message.id, at=clock.now(),
                                                error="400 chat not found", dead=True)
        await _page_reads(store, alerts, sup)
        counts.append(await _page_reads(store, alerts, sup))
    assert counts[0] == counts[1], counts
    # BEGIN, clients and alerts (twice: open, acknowledged), the client's key, the notes,
    # the notes' audit event (4), the copies with their outbox rows, the staff (twice).
    assert counts[1] <= 14, counts


async def test_each_copy_reads_as_its_outbox_row_stands(store: Store, clock: FakeClock) -> None:
    """Delivered (to whom, when), refused for good (dead: unreachable), and still waiting
    when the alert was handled (expired, not "delivered" and not a count)."""
    alerts = AlertService(clock=clock, questionnaire=Q, rules=RULES)
    lane = await make_clinician(store, clock, telegram_id=7001, name="Dr Lane")
    await make_clinician(store, clock, telegram_id=7002, name="Dr Sup", role="supervisor")
    await make_clinician(store, clock, telegram_id=7004, name="Dr Gone", role="supervisor")
    client = await make_client(store, clock, lane, telegram_id=8001)
    async with store.transaction() as uow:
        alert = await alerts.raise_alert(
            uow, client, findings=[Finding("self_harm", "critical", "SELF_HARM")],
            checkin_id=None, answers={})
    clock.advance(minutes=16)
    async with store.transaction() as uow:
        assert await alerts.escalate_due(uow) == 1
        due = {m.chat_id: m for m in await uow.outbox.claim_due(
            clock.now(), limit=10, lease=timedelta(minutes=1))}
        await uow.outbox.mark_sent(due[7002].id, now=clock.now(), sent_message_id=5)
        await uow.outbox.mark_retry(due[7004].id, at=clock.now(), error="400 chat not found",
                                    dead=True)
        await uow.outbox.mark_retry(due[7001].id, at=clock.now(), error="502")
        await alerts.acknowledge(uow, lane, alert.id)
    clock.advance(minutes=2)
    async with store.transaction() as uow:
        await uow.outbox.expire_stale(clock.now())
        found = await uow.alerts.get(alert.id)
        assert found is not None
        states = (await copy_states(uow, [found]))[alert.id]
    assert [(c.name, c.escalation, c.state) for c in states] == [
        ("Dr Lane", 0, "expired"), ("Dr Sup", 1, "delivered"), ("Dr Gone", 1, "unreachable")]
    assert states[1].at == clock.now() - timedelta(minutes=2)
    assert states[0].at is None and states[2].at is None
