"""Fault stories for delivery: Telegram down for half an hour while clients are in crisis.

Time is a FakeClock moved minute by minute while the real delivery worker runs against the
emulator (which answers 502 to everything during the outage) with a short backoff cap; the
scheduler's tick and the e-mail fallback's pass run each minute, as `steadfast run` does.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from sqlalchemy import func, or_, select

from app.mail import SmtpMailer
from bot.delivery import DeliveryWorker, RateLimiter
from journal.administration import AdminService
from journal.alerts.fallback import EmailFallback
from journal.alerts.rules import Finding
from journal.alerts.rules_file import load_rules
from journal.alerts.service import AlertService, EscalationPolicy
from journal.checkin.questionnaire_file import load_questionnaire
from journal.checkin.service import CheckInService
from journal.clock import FakeClock
from scheduler.ticks import Ticks
from storage.models import AlertCopyRow, AlertRow, OutboxRow
from storage.records import Client, Clinician
from storage.uow import Store
from tests.e2e import eventually
from tests.helpers import make_client
from tests.mailbox import Mailbox

pytestmark = pytest.mark.faults

LANE, SUP = 7001, 7002
ANNA, BEN, CARL = 8001, 8002, 8003
Q = load_questionnaire()
OUTAGE_STARTS = datetime(2026, 3, 2, 23, 40, tzinfo=UTC)
OUTAGE_MINUTES = 30


class Program:
    """Everything `steadfast run` runs, on one fake clock."""

    def __init__(self, store: Store, clock: FakeClock, emu: Any, box: Mailbox) -> None:
        self.store, self.clock, self.emu, self.box = store, clock, emu, box
        self.alerts = AlertService(
            clock=clock, questionnaire=Q, rules=load_rules(questionnaire=Q),
            display_timezone="Europe/Madrid",
            escalation=EscalationPolicy({"critical": 5, "high": 10, "elevated": 15}))
        self.checkins = CheckInService(clock=clock, questionnaire=Q, alerts=self.alerts,
                                       store=store, window=timedelta(minutes=15))
        self.ticks = Ticks(store=store, clock=clock, checkins=self.checkins, alerts=self.alerts,
                           reminder_delay=None, lookback_days=1)
        self.bot = Bot(token=emu.token,
                       session=AiohttpSession(api=TelegramAPIServer.from_base(emu.base_url)))
        # Backoff in fake seconds, capped well below the minute the clock moves by; the
        # per-chat spacing is shortened so the story does not wait on real seconds.
        self.worker = DeliveryWorker(store=store, bot=self.bot, clock=clock, alerts=self.alerts,
                                     limiter=RateLimiter(chat_interval=0.01), base_backoff=1.0,
                                     max_backoff=20.0, poll_interval=0.02)
        self.fallback = EmailFallback(
            store=store, clock=clock, after=timedelta(minutes=5), program="Hillside RP",
            display_timezone="Europe/Madrid",
            mailer=SmtpMailer(host="127.0.0.1", port=box.port, security="none",
                              sender="steadfast@clinic.example", timeout=10))
        self.stop = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def settled(self) -> bool:
        """Committed: every message due by now was tried, and none waits past its use."""
        now = self.clock.now()
        handled = (select(AlertCopyRow.id).join(AlertRow, AlertRow.id == AlertCopyRow.alert_id)
                   .where(AlertCopyRow.outbox_id == OutboxRow.id, AlertRow.status != "open"))
        async with self.store.unit_of_work() as uow:
            waiting = await uow.session.scalar(
                select(func.count()).select_from(OutboxRow).where(
                    OutboxRow.status.in_(("queued", "retrying")),
                    or_(OutboxRow.next_attempt_at <= now, OutboxRow.claimed_until.is_not(None),
                        OutboxRow.useful_until < now, handled.exists())))
        return waiting == 0

    async def minute(self, event: Callable[[], Awaitable[None]] | None = None) -> None:
        self.clock.advance(minutes=1)
        if event is not None:
            await event()
        report = await self.ticks.run()
        assert report.failures == 0
        await eventually(self.settled, timeout=30)
        await self.fallback.run_once()

    async def statuses(self) -> dict[str, list[str]]:
        async with self.store.unit_of_work() as uow:
            rows = await uow.session.execute(select(OutboxRow.status, OutboxRow.kind))
        found: dict[str, list[str]] = {}
        for status, kind in rows:
            found.setdefault(status, []).append(kind)
        return {status: sorted(kinds) for status, kinds in found.items()}


@pytest.fixture
async def program(store: Store, emulator: Any, mailbox: Mailbox) -> AsyncIterator[Program]:
    clock = FakeClock(OUTAGE_STARTS - timedelta(minutes=5))
    p = Program(store, clock, emulator, mailbox)
    p.task = asyncio.create_task(p.worker.run(p.stop))
    try:
        yield p
    finally:
        p.stop.set()
        await asyncio.wait_for(p.task, 10)
        await p.bot.session.close()


async def people(p: Program) -> tuple[Clinician, dict[int, Client]]:
    admin = AdminService(store=p.store, clock=p.clock)
    lane = await admin.add_clinician(telegram_id=LANE, name="Dr Lane", supervisor=False,
                                     email="lane@clinic.example")
    await admin.add_clinician(telegram_id=SUP, name="Dr Sup", supervisor=True,
                              email="sup@clinic.example")
    clients = {}
    # Anna and Ben check in at noon; Carl's check-in is due at 23:43, during the outage.
    for telegram_id, at in ((ANNA, "12:00"), (BEN, "12:00"), (CARL, "23:43")):
        client = await make_client(p.store, p.clock, lane, telegram_id=telegram_id)  # type: ignore[arg-type]
        async with p.store.transaction() as uow:
            clients[telegram_id] = await uow.clients.update(client.id, timezone="UTC",
                                                            checkin_time=at)
    for telegram_id, name in ((LANE, "Lane"), (SUP, "Sup"), (ANNA, "Anna"), (BEN, "Ben"),
                              (CARL, "Carl")):
        p.emu.person(telegram_id, name)
        await p.emu.send_text(telegram_id, "/start")
    return lane, clients


async def answer_yes_to_self_harm(p: Program, client: Client) -> None:
    """The client goes through today's check-in and answers yes to the crisis item."""
    async with p.store.transaction() as uow:
        step = await p.checkins.start_or_continue(uow, client)
    for _ in range(len(Q.items)):
        view = step.view
        assert view is not None and view.item is not None
        crisis = view.item.id == "self_harm"
        async with p.store.transaction() as uow:
            step = await p.checkins.answer(uow, client, view.day, view.version,
                                           1 if crisis else 0)
        if crisis:
            assert step.crisis
            return
    raise AssertionError("the check-in never reached the crisis item")


async def acknowledge(p: Program, clinician: Clinician, alert_id: str) -> None:
    async with p.store.transaction() as uow:
        _, changed = await p.alerts.acknowledge(uow, clinician, alert_id)
    assert changed


async def only_alert(p: Program, client: Client) -> str:
    async with p.store.unit_of_work() as uow:
        ids = list(await uow.session.scalars(
            select(AlertRow.id).where(AlertRow.client_id == client.id)))
    assert len(ids) == 1
    return ids[0]


def bot_texts(p: Program, chat: int, contains: str) -> list[str]:
    return [m.text for m in p.emu.chat(chat) if m.from_bot and contains in (m.text or "")]


async def test_a_half_hour_outage_loses_no_alert_and_delivers_each_exactly_once(
        program: Program) -> None:
    p = program
    lane, clients = await people(p)
    anna, ben, carl = clients[ANNA], clients[BEN], clients[CARL]

    # Before the outage: an alert about Ben reaches Dr Lane.
    async with p.store.transaction() as uow:
        earlier = await p.alerts.raise_alert(uow, ben, findings=[
            Finding("lapse", "high", "LAPSE")], checkin_id=None, answers={})
    for _ in range(4):
        await p.minute()
    await eventually(lambda: bot_texts(p, LANE, "alert for client"))

    p.emu.outage(error_code=502)  # 23:40: Telegram answers 502 to every call
    await p.minute(lambda: answer_yes_to_self_harm(p, anna))  # 23:41: a critical alert

    async def ben_lapses() -> None:
        async with p.store.transaction() as uow:
            await p.alerts.raise_alert(uow, ben, findings=[Finding("lapse", "high", "LAPSE")],
                                       checkin_id=None, answers={})

    await p.minute(ben_lapses)  # 23:42: a high alert
    await p.minute()  # 23:43: Carl's prompt is queued and cannot go out

    async def lane_acknowledges_the_earlier_alert() -> None:
        # Her message was deleted on her phone meanwhile: editing it is refused for good,
        # a dead letter the supervisors must hear about.
        p.emu.fail_next("editMessageText", error_code=400,
                        description="Bad Request: message to edit not found")
        await acknowledge(p, lane, earlier.id)

    await p.minute(lane_acknowledges_the_earlier_alert)  # 23:44
    anna_alert = await only_alert(p, anna)
    ben_alerts = [a for a in await _alerts_of(p, ben) if a != earlier.id]
    for minute in range(5, 10):
        await p.minute()
        if minute == 6:  # 23:46, five minutes after Anna's alert: Dr Lane gets an e-mail
            assert [m.subject for m in p.box.to("lane@clinic.example")] == [
                f"Hillside RP: Critical alert for client {anna.code}"]
    # 23:50: Dr Lane read the e-mail about Ben, opened Steadfast and acknowledged it.
    await p.minute(lambda: acknowledge(p, lane, ben_alerts[0]))
    while p.clock.now() < OUTAGE_STARTS + timedelta(minutes=OUTAGE_MINUTES - 1):
        await p.minute()

    # During the outage: every staff member was mailed, once per message.
    assert sorted(m.subject for m in p.box.to("lane@clinic.example")) == sorted([
        f"Hillside RP: Critical alert for client {anna.code}",
        f"Hillside RP: High alert for client {ben.code}"])
    assert sorted(m.subject for m in p.box.to("sup@clinic.example")) == sorted(
        [f"Hillside RP: Critical alert for client {anna.code} not acknowledged in time"] * 3
        + ["Hillside RP: a message could not be delivered"])
    for mail in p.box.all():
        assert "Open Steadfast" in mail.body
        assert "harm" not in mail.body and "lapse" not in mail.body.lower()
    assert bot_texts(p, LANE, "Critical alert") == [] and bot_texts(p, SUP, "ESCALATED") == []
    waiting = await p.statuses()
    assert "dead" in waiting and waiting["dead"] == ["alert-update"]  # the refused edit only

    p.emu.end_outage()  # 00:09: Telegram is back
    for _ in range(3):
        await p.minute()

    # Every alert and notice arrived exactly once, in the right chat.
    assert len(bot_texts(p, LANE, f"Critical alert for client {anna.code}")) == 1
    assert len(bot_texts(p, LANE, f"High alert for client {ben.code}")) == 1  # the earlier one
    escalations = bot_texts(p, SUP, "ESCALATED")
    assert len(escalations) == 3 and all(anna.code in text for text in escalations)
    assert len(bot_texts(p, SUP, "could not be delivered")) == 1
    assert bot_texts(p, SUP, ben.code) == bot_texts(p, SUP, "could not be delivered")
    # Ben's alert was acknowledged during the outage: its copy expired unsent. Carl's
    # prompt expired when his window closed.
    assert [m for m in p.emu.chat(CARL) if m.from_bot] == []
    assert await p.statuses() == {
        "dead": ["alert-update"],
        "expired": ["alert", "prompt"],
        # and the two clinicians' own command menus, queued when they were added
        "sent": sorted(["alert", "alert", "alert", "alert", "alert", "dead-letter",
                        "menu", "menu"]),
    }
    # No message was mailed twice, and nothing more after Telegram came back.
    assert len(p.box.all()) == 6
    async with p.store.unit_of_work() as uow:
        escalated = await uow.session.scalar(
            select(AlertRow.escalations).where(AlertRow.id == anna_alert))
        carls_day = await uow.checkins.for_day(carl.id, OUTAGE_STARTS.date())
    assert escalated == 3  # the cap
    assert carls_day is not None and carls_day.status == "missed"


async def _alerts_of(p: Program, client: Client) -> list[str]:
    async with p.store.unit_of_work() as uow:
        return list(await uow.session.scalars(
            select(AlertRow.id).where(AlertRow.client_id == client.id)
            .order_by(AlertRow.created_at)))


async def test_an_elevated_alert_nobody_acknowledges_reaches_the_supervisors_on_its_timer(
        store: Store, clock: FakeClock) -> None:
    from app.composition import escalation_policy
    from app.settings import Settings

    settings = Settings(_env_file=None, escalate_elevated_minutes=30)  # type: ignore[call-arg]
    alerts = AlertService(clock=clock, questionnaire=Q, rules=load_rules(questionnaire=Q),
                          escalation=escalation_policy(settings))
    checkins = CheckInService(clock=clock, questionnaire=Q, alerts=alerts, store=store)
    ticks = Ticks(store=store, clock=clock, checkins=checkins, alerts=alerts)
    admin = AdminService(store=store, clock=clock)
    lane = await admin.add_clinician(telegram_id=LANE, name="Dr Lane", supervisor=False)
    await admin.add_clinician(telegram_id=SUP, name="Dr Sup", supervisor=True)
    client = await make_client(store, clock, lane)  # no Telegram yet: nothing is delivered
    async with store.transaction() as uow:
        await alerts.raise_alert(uow, client, findings=[
            Finding("general_indicator", "elevated", "GENERAL_INDICATOR")],
            checkin_id=None, answers={})

    async def supervisor_copies() -> int:
        async with store.unit_of_work() as uow:
            return int(await uow.session.scalar(
                select(func.count()).select_from(AlertCopyRow)
                .where(AlertCopyRow.chat_id == SUP)) or 0)

    clock.advance(minutes=29)
    await ticks.run()
    assert await supervisor_copies() == 0
    clock.advance(minutes=1)
    assert (await ticks.run()).escalated == 1
    assert await supervisor_copies() == 1
