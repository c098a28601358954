"""Sharing agreements with a supervising officer, on SQLite and PostgreSQL: what an officer
may see of whom, and a team that changes (an agreement ended, an officer deactivated, a
client reassigned or erased) stops what that person receives, queued messages included."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from journal.administration import AdminService
from journal.alerts.rules import Finding
from journal.alerts.rules_file import load_rules
from journal.alerts.service import AlertService
from journal.checkin.questionnaire_file import load_questionnaire
from journal.clock import FakeClock
from journal.errors import InvalidInput, NotFound
from journal.review.caseload import CaseloadService
from journal.sharing import SharingService
from storage.crypto import MasterKeyring
from storage.models import OutboxRow, ProgressReportRow, SharingAgreementRow
from storage.records import Client
from storage.uow import Store
from tests.conftest import Database
from tests.helpers import make_clinician
from tests.stories import enrolled_client
from tests.test_audit_and_cli import cli

LANE, ORTIZ, REYES, ROSS, SUP = 7001, 7002, 7501, 7502, 7009


@pytest.fixture
async def team(database: Database, ring: MasterKeyring, clock: FakeClock
               ) -> AsyncIterator[dict[str, Any]]:
    store = Store.open(database.url, ring)
    lane = await make_clinician(store, clock, telegram_id=LANE, name="Dr Lane")
    ortiz = await make_clinician(store, clock, telegram_id=ORTIZ, name="Dr Ortiz")
    await make_clinician(store, clock, telegram_id=SUP, name="Dr Sup", role="supervisor")
    admin = AdminService(store=store, clock=clock)
    await admin.add_clinician(telegram_id=REYES, name="Officer Reyes", role="officer")
    await admin.add_clinician(telegram_id=ROSS, name="Officer Ross", role="officer")
    clients = {name: await enrolled_client(store, clock, owner, tid)
               for name, owner, tid in (("shares", lane, 8001), ("silent", lane, 8002),
                                        ("withdrew", lane, 8003), ("ross", ortiz, 8004))}
    sharing = SharingService(clock=clock)
    q = load_questionnaire()
    alerts = AlertService(clock=clock, questionnaire=q, rules=load_rules(questionnaire=q),
                          team=sharing)
    async with store.transaction() as uow:
        for name, officer in (("shares", REYES), ("withdrew", REYES), ("ross", ROSS)):
            agreement, client, _ = await sharing.propose(
                uow, code=clients[name].code, officer_telegram_id=officer,
                by=await uow.clinicians.by_telegram_id(SUP))
            await sharing.answer(uow, client, agreement.id, agree=True)
            if name == "withdrew":
                await sharing.withdraw(uow, client, agreement.id)
    try:
        yield {"store": store, "clock": clock, "sharing": sharing, "alerts": alerts,
               "admin": admin, "clients": clients}
    finally:
        await store.close()


async def officer(uow: Any, telegram_id: int) -> Any:
    return await uow.clinicians.by_telegram_id(telegram_id)


async def test_an_officer_sees_only_who_agreed_and_the_rest_answers_like_no_client(
        team: dict[str, Any]) -> None:
    sharing, clients = team["sharing"], team["clients"]
    async with team["store"].transaction() as uow:
        reyes = await officer(uow, REYES)
        listed = await sharing.supervisees(uow, reyes)
        assert [s.code for s in listed] == [clients["shares"].code]
        seen = await sharing.supervisee(uow, reyes, clients["shares"].code)
        assert seen.categories == ("adherence", "alerts", "report", "status", "attendance")
        refusals = []
        for name in ("silent", "withdrew", "ross"):
            with pytest.raises(NotFound) as caught:
                await sharing.supervisee(uow, reyes, clients[name].code)
            refusals.append((caught.value.key, str(caught.value)))
        with pytest.raises(NotFound) as unknown:
            await sharing.supervisee(uow, reyes, "ZZZ-99")
        assert set(refusals) == {(unknown.value.key, str(unknown.value))}
        assert unknown.value.key == "client.not_found"
        # The officer's views are in the client's audit trail, and in their ledger.
        events = await uow.audit_events(client_id=clients["shares"].id)
        assert [e.actor for e in events if e.action == "officer.view"] == [
            f"clinician:{reyes.id}"] * 2
        ledger = await sharing.ledger(uow, clients["shares"])
        assert {(line.role, line.name) for line in ledger} == {("officer", "Officer Reyes")}


async def test_a_clinician_proposes_only_for_their_own_clients_and_only_to_an_officer(
        team: dict[str, Any]) -> None:
    sharing, clients = team["sharing"], team["clients"]
    async with team["store"].transaction() as uow:
        lane = await uow.clinicians.by_telegram_id(LANE)
        with pytest.raises(NotFound):
            await sharing.propose(uow, code=clients["ross"].code, officer_telegram_id=REYES,
                                  by=lane)
        with pytest.raises(NotFound):  # a clinician is no officer
            await sharing.propose(uow, code=clients["silent"].code, officer_telegram_id=ORTIZ,
                                  by=lane)
        with pytest.raises(InvalidInput):
            await sharing.propose(uow, code=clients["silent"].code, officer_telegram_id=REYES,
                                  by=lane, categories=["answers"])
    narrow = SharingService(clock=team["clock"], allowed=["adherence", "status"])
    async with team["store"].transaction() as uow:
        agreement, _, _ = await narrow.propose(uow, code=clients["silent"].code,
                                               officer_telegram_id=REYES,
                                               by=await uow.clinicians.by_telegram_id(LANE))
    assert agreement.categories == ("adherence", "status")


async def raise_critical(team: dict[str, Any], client: Client) -> None:
    async with team["store"].transaction() as uow:
        await team["alerts"].raise_alert(uow, client, checkin_id=None, answers={},
                                         findings=[Finding("self_harm", "critical",
                                                           "SELF_HARM")])


async def to_chat(team: dict[str, Any], chat: int, *, statuses: tuple[str, ...] = ("queued",)
                  ) -> list[str]:
    async with team["store"].unit_of_work() as uow:
        index = await uow.vault.telegram_index(chat)
        return list(await uow.session.scalars(
            select(OutboxRow.kind).where(OutboxRow.chat_index == index,
                                         OutboxRow.status.in_(statuses))))


async def deliver_owner_copy(team: dict[str, Any], chat: int) -> None:
    """What the delivery worker does once the clinician's copy reached Telegram."""
    async with team["store"].transaction() as uow:
        index = await uow.vault.telegram_index(chat)
        rows = list(await uow.session.scalars(select(OutboxRow.id).where(
            OutboxRow.chat_index == index, OutboxRow.kind == "alert",
            OutboxRow.status == "queued")))
        for outbox_id in rows:
            await uow.outbox.mark_sent(outbox_id, now=team["clock"].now(), sent_message_id=1)
            await team["alerts"].copy_delivered(uow, outbox_id, chat, 1)


async def test_the_officer_hears_of_an_alert_after_the_clinician_and_an_end_drops_the_queue(
        team: dict[str, Any]) -> None:
    client = team["clients"]["shares"]
    before = len(await to_chat(team, REYES))
    await raise_critical(team, client)
    assert len(await to_chat(team, REYES)) == before  # the clinician is not told yet
    await deliver_owner_copy(team, LANE)
    assert len(await to_chat(team, REYES)) == before + 1
    await deliver_owner_copy(team, LANE)  # nothing twice
    assert len(await to_chat(team, REYES)) == before + 1

    # The client withdraws: what was queued to the officer about them is dropped, and the
    # one message saying sharing ended is all that waits.
    async with team["store"].transaction() as uow:
        agreement = (await uow.sharing.of_client(client.id, statuses=("agreed",)))[0]
        await team["sharing"].withdraw(uow, client, agreement.id)
    async with team["store"].unit_of_work() as uow:
        index = await uow.vault.telegram_index(REYES)
        waiting = list(await uow.session.execute(
            select(OutboxRow.status, OutboxRow.client_id).where(OutboxRow.chat_index == index,
                                                                OutboxRow.kind == "team")))
    assert [s for s, c in waiting if c == client.id and s == "queued"] == ["queued"]
    assert sum(1 for s, c in waiting if c == client.id and s == "cancelled") >= 2
    await raise_critical(team, client)
    await deliver_owner_copy(team, LANE)
    async with team["store"].unit_of_work() as uow:
        queued = list(await uow.session.scalars(select(OutboxRow.id).where(
            OutboxRow.chat_index == index, OutboxRow.kind == "team",
            OutboxRow.status == "queued", OutboxRow.client_id == client.id)))
    assert len(queued) == 1  # only "sharing has ended"


async def test_a_deactivated_officer_receives_nothing_more(team: dict[str, Any]) -> None:
    client = team["clients"]["ross"]
    assert "team" in await to_chat(team, ROSS)
    await team["admin"].deactivate_clinician(telegram_id=ROSS)
    assert "team" not in await to_chat(team, ROSS)
    async with team["store"].unit_of_work() as uow:
        status = await uow.session.scalar(select(SharingAgreementRow.status).where(
            SharingAgreementRow.client_id == client.id))
    assert status == "ended"
    await raise_critical(team, client)
    await deliver_owner_copy(team, ORTIZ)
    assert "team" not in await to_chat(team, ROSS)


async def test_reassigning_drops_what_was_queued_to_the_old_clinician(
        team: dict[str, Any]) -> None:
    client = team["clients"]["silent"]
    await raise_critical(team, client)
    assert "alert" in await to_chat(team, LANE)
    async with team["store"].transaction() as uow:
        await CaseloadService(clock=team["clock"]).reassign(uow, client.code, ORTIZ)
    assert "alert" not in await to_chat(team, LANE)
    with pytest.raises(Exception, match="no active clinician"):  # never to an officer
        async with team["store"].transaction() as uow:
            await CaseloadService(clock=team["clock"]).reassign(uow, client.code, REYES)


async def test_erasure_removes_the_agreements(team: dict[str, Any]) -> None:
    client = team["clients"]["shares"]
    await team["admin"].erase_client(client.code)
    async with team["store"].unit_of_work() as uow:
        left = list(await uow.session.scalars(select(SharingAgreementRow.id).where(
            SharingAgreementRow.client_id == client.id)))
        reyes = await officer(uow, REYES)
        assert await team["sharing"].supervisees(uow, reyes) == []
    assert left == []


def test_the_command_line_adds_an_officer_lists_roles_and_proposes(
        sqlite_database: Database, ring: MasterKeyring, tmp_path: Path,
        clock: FakeClock) -> None:
    key_file = tmp_path / "steadfast.key"
    ring.create_file(key_file)
    env = {"STEADFAST_DATABASE_URL": sqlite_database.url,
           "STEADFAST_MASTER_KEY_FILE": str(key_file)}
    assert cli(["clinician", "add", "--telegram-id", "71", "--name", "Dr Lane"], env,
               tmp_path).returncode == 0
    assert cli(["clinician", "add", "--telegram-id", "72", "--name", "Dr Sup",
                "--supervisor"], env, tmp_path).returncode == 0
    added = cli(["clinician", "add", "--telegram-id", "73", "--name", "Officer Reyes",
                 "--role", "officer"], env, tmp_path)
    assert added.returncode == 0 and "Added officer Officer Reyes" in added.stdout
    both = cli(["clinician", "add", "--telegram-id", "74", "--name", "X", "--supervisor",
                "--role", "officer"], env, tmp_path)
    assert both.returncode == 2 and "Traceback" not in both.stderr
    listed = cli(["clinician", "list"], env, tmp_path).stdout
    roles = {line.split()[2] for line in listed.splitlines()[1:]}
    assert roles == {"clinician", "supervisor", "officer"}

    import asyncio

    async def enrol() -> str:
        store = Store.open(sqlite_database.url, ring)
        try:
            async with store.unit_of_work() as uow:
                lane = await uow.clinicians.by_telegram_id(71)
            return (await enrolled_client(store, clock, lane, 8001)).code
        finally:
            await store.close()

    code = asyncio.run(enrol())
    proposed = cli(["client", "team", code, "--officer", "73"], env, tmp_path)
    assert proposed.returncode == 0, proposed.stderr
    assert "adherence, alerts, report, status" in proposed.stdout
    assert "Nothing is shared until the client agrees" in proposed.stdout
    wrong = cli(["client", "team", code, "--officer", "71"], env, tmp_path)
    assert wrong.returncode != 0 and "no active officer" in (wrong.stderr + wrong.stdout)
    assert "Traceback" not in wrong.stderr
    shown = cli(["audit", "show"], env, tmp_path).stdout
    assert "sharing.propose" in shown


async def texts_to(team: dict[str, Any], chat: int) -> list[str]:
    async with team["store"].unit_of_work() as uow:
        index = await uow.vault.telegram_index(chat)
        ids = list(await uow.session.scalars(select(OutboxRow.id).where(
            OutboxRow.chat_index == index, OutboxRow.status == "queued")
            .order_by(OutboxRow.created_at)))
        return [str((await uow.outbox.get(i, team["clock"].now())).payload["params"].get("text", ""))
                for i in ids]


async def test_status_changes_reach_the_officer_without_the_reason(
        team: dict[str, Any]) -> None:
    from journal.checkin.schedule import ScheduleService
    from journal.discharge import DischargeService

    client = team["clients"]["shares"]
    schedules = ScheduleService(clock=team["clock"], team=team["sharing"])
    async with team["store"].transaction() as uow:
        lane = await uow.clinicians.by_telegram_id(LANE)
        await schedules.pause(uow, lane, client.code, "custody")
    team["clock"].advance(minutes=1)
    async with team["store"].transaction() as uow:
        await schedules.resume(uow, lane, client.code)
    team["clock"].advance(minutes=1)
    from datetime import timedelta

    async with team["store"].transaction() as uow:
        await DischargeService(clock=team["clock"], retention=timedelta(days=30),
                               team=team["sharing"]).discharge(uow, lane, client.code)
    said = [text for text in await texts_to(team, REYES) if "treatment status is now" in text]
    assert said == [f"Client {client.code}: treatment status is now {word}."
                    for word in ("paused", "in treatment", "discharged")]
    assert not any("custody" in text for text in await texts_to(team, REYES))
    # Officer Ross, whose client did not change, heard nothing of it.
    assert not any(client.code in text for text in await texts_to(team, ROSS))


async def test_a_draft_waits_five_days_then_goes_to_the_supervisors_and_a_withdrawal_drops_it(
        team: dict[str, Any]) -> None:
    from datetime import date

    from journal.errors import NotFound as Missing
    from journal.progress import ProgressService

    clock = team["clock"]
    progress = ProgressService(clock=clock, sharing=team["sharing"])
    clients = team["clients"]
    async with team["store"].transaction() as uow:  # agreements made "now": next month's
        assert await progress.make_drafts(uow, date(2026, 2, 1)) == 0
        made = await progress.make_drafts(uow, date(2026, 3, 1))
        assert made == 2  # shares (Reyes) and ross (Ross); not the one who withdrew
        assert await progress.make_drafts(uow, date(2026, 3, 1)) == 0  # once
    clock.advance(days=4)
    async with team["store"].transaction() as uow:
        assert await progress.raise_overdue(uow) == 0
    clock.advance(days=2)
    async with team["store"].transaction() as uow:
        assert await progress.raise_overdue(uow) == 2
        assert await progress.raise_overdue(uow) == 0  # once
    assert sum("waited five days unsent" in text for text in await texts_to(team, SUP)) == 2

    # The client who shares withdraws: their draft is never sent.
    async with team["store"].transaction() as uow:
        agreement = (await uow.sharing.of_client(clients["shares"].id, statuses=("agreed",)))[0]
        await team["sharing"].withdraw(uow, clients["shares"], agreement.id)
    async with team["store"].transaction() as uow:
        lane = await uow.clinicians.by_telegram_id(LANE)
        with pytest.raises(Missing):
            await progress.send(uow, lane, clients["shares"].code, "Doing well.")
    async with team["store"].unit_of_work() as uow:
        rows = dict((await uow.session.execute(
            select(ProgressReportRow.client_id, ProgressReportRow.status))).all())
    assert rows == {clients["shares"].id: "dropped", clients["ross"].id: "draft"}
