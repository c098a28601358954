"""Alerts that are never lost: the delivery worker against the emulator's faults and limits."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from sqlalchemy import select

from bot.delivery import DeliveryWorker
from journal.alerts.rules import Finding
from journal.alerts.rules_file import load_rules
from journal.alerts.service import AlertService
from journal.checkin.questionnaire_file import load_questionnaire
from journal.clock import SystemClock
from storage.crypto import MasterKeyring
from storage.models import AlertRow, OutboxRow
from storage.records import Client
from storage.uow import Store
from tests.conftest import Database
from tests.e2e import ChildBot, bot_settings, eventually
from tests.helpers import make_client, make_clinician

CLINICIAN = 7001
CLIENT = 8001


def alert_service(clock: Any) -> AlertService:
    q = load_questionnaire()
    return AlertService(clock=clock, questionnaire=q, rules=load_rules(questionnaire=q))


class Rig:
    def __init__(self, emu: Any, store: Store, bot: Bot, alerts: AlertService) -> None:
        self.emu, self.store, self.bot, self.alerts = emu, store, bot, alerts
        self.stop = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    def worker(self, **kwargs: Any) -> DeliveryWorker:
        kwargs.setdefault("base_backoff", 0.05)
        kwargs.setdefault("max_backoff", 0.5)
        return DeliveryWorker(store=self.store, bot=self.bot, clock=SystemClock(),
                              alerts=self.alerts, poll_interval=0.05, **kwargs)

    def run(self, **kwargs: Any) -> None:
        self.task = asyncio.create_task(self.worker(**kwargs).run(self.stop))

    async def raise_alerts(self, client: Client, n: int = 1) -> None:
        for _ in range(n):
            async with self.store.transaction() as uow:
                await self.alerts.raise_alert(uow, client, findings=[
                    Finding("lapse", "high", "LAPSE")], checkin_id=None, answers={})

    async def statuses(self) -> list[str]:
        async with self.store.unit_of_work() as uow:
            return list(await uow.session.scalars(select(OutboxRow.status)))

    def statuses_are(self, *expected: str) -> Any:
        """For eventually(): the committed statuses, once they are exactly `expected`."""
        async def check() -> list[str] | None:
            found = sorted(await self.statuses())
            return found if found == sorted(expected) else None
        return check


@pytest.fixture
async def rig(emulator: Any, database: Database, ring: MasterKeyring
              ) -> AsyncIterator[tuple[Rig, Client]]:
    store = Store.open(database.url, ring)
    clock = SystemClock()
    clinician = await make_clinician(store, clock, telegram_id=CLINICIAN)  # type: ignore[arg-type]
    client = await make_client(store, clock, clinician, telegram_id=CLIENT)  # type: ignore[arg-type]
    emulator.person(CLINICIAN, "Lane")
    await emulator.send_text(CLINICIAN, "/start")  # the chat exists
    emulator.person(CLIENT, "Sam")
    await emulator.send_text(CLIENT, "/start")
    bot = Bot(token=emulator.token,
              session=AiohttpSession(api=TelegramAPIServer.from_base(emulator.base_url)))
    r = Rig(emulator, store, bot, alert_service(clock))
    try:
        yield r, client
    finally:
        r.stop.set()
        if r.task is not None:
            await asyncio.wait_for(r.task, 10)
        await bot.session.close()
        await store.close()


def alert_messages(emu: Any, chat: int = CLINICIAN) -> list[Any]:
    return [m for m in emu.chat(chat) if m.from_bot and "alert for client" in m.text]


async def test_a_high_risk_alert_reaches_the_clinician_without_health_detail(rig: Any) -> None:
    r, client = rig
    await r.raise_alerts(client)
    r.run()
    message = (await eventually(lambda: alert_messages(r.emu)))[0]
    assert client.code in message.text and "High" in message.text
    assert "lapse" not in message.text.lower()  # reasons stay behind the Details button
    assert message.button_texts == ["Details", "Acknowledge"]
    await eventually(r.statuses_are("sent"))  # the worker commits after Telegram answered


async def test_a_429_is_waited_out_then_the_alert_is_delivered(rig: Any) -> None:
    r, client = rig
    r.emu.fail_next("sendMessage", count=1, error_code=429, retry_after=2)
    await r.raise_alerts(client)
    r.run()
    await eventually(lambda: alert_messages(r.emu), timeout=10)
    calls = r.emu.calls_of("sendMessage")
    refused, delivered = calls[-2], calls[-1]
    assert refused.error_code == 429 and delivered.error_code is None
    assert delivered.time - refused.time >= 2.0


async def test_three_server_errors_then_delivery(rig: Any) -> None:
    r, client = rig
    r.emu.fail_next("sendMessage", count=3, error_code=502)
    await r.raise_alerts(client)
    r.run()
    await eventually(lambda: alert_messages(r.emu), timeout=10)

    async def row() -> tuple[Any, ...]:
        async with r.store.unit_of_work() as uow:
            return tuple((await uow.session.execute(
                select(OutboxRow.status, OutboxRow.attempts))).one())

    assert await eventually(lambda: _if(row(), ("sent", 4)))


async def test_every_alert_arrives_after_telegram_was_unreachable_for_a_while(rig: Any) -> None:
    r, client = rig
    port = r.emu.port
    await r.emu.stop()
    await r.raise_alerts(client, 5)
    r.run()
    # The worker meets refused connections and backs off: the first alert is retrying.
    await eventually(lambda: _if(r.statuses(), "retrying", contains=True), timeout=10)
    assert set(await r.statuses()) <= {"queued", "retrying"}
    await r.emu.start(port)
    await eventually(lambda: len(alert_messages(r.emu)) == 5, timeout=15)
    await eventually(r.statuses_are(*["sent"] * 5))


async def test_a_client_who_blocked_the_bot_is_marked_and_their_clinician_alerted(
        rig: Any) -> None:
    r, client = rig
    r.emu.block(CLIENT)
    async with r.store.transaction() as uow:
        await uow.outbox.add(chat_id=CLIENT, kind="prompt", method="sendMessage",
                             params={"text": "Time for your check-in"},
                             now=SystemClock().now(), client_id=client.id)
    r.run()
    message = (await eventually(lambda: alert_messages(r.emu), timeout=10))[0]
    assert client.code in message.text
    async with r.store.unit_of_work() as uow:
        fresh = await uow.clients.get(client.id)
        assert fresh is not None and fresh.unreachable
        statuses = dict((await uow.session.execute(select(OutboxRow.kind, OutboxRow.status))).all())
        levels = [a.level for a in await uow.alerts.recent(client.id, since=datetime.min.replace(tzinfo=UTC))]
    assert statuses["prompt"] == "dead"  # not retried forever
    assert levels == ["high"]
    assert len(r.emu.calls_of("sendMessage")) == 2  # one refused prompt, one alert


@pytest.mark.slow
async def test_a_burst_of_1000_alerts_keeps_telegram_limits_and_all_arrive(
        emulator: Any, sqlite_database: Database, ring: MasterKeyring) -> None:
    emulator.enforce_limits = True
    store = Store.open(sqlite_database.url, ring)
    clock = SystemClock()
    clients = []
    for n in range(50):  # 50 clinicians with 20 alerts each: the per-chat limit matters too
        clinician = await make_clinician(store, clock, telegram_id=9000 + n)  # type: ignore[arg-type]
        emulator.person(9000 + n, f"C{n}")
        await emulator.send_text(9000 + n, "/start")
        clients.append(await make_client(store, clock, clinician))  # type: ignore[arg-type]
    bot = Bot(token=emulator.token,
              session=AiohttpSession(api=TelegramAPIServer.from_base(emulator.base_url)))
    rig = Rig(emulator, store, bot, alert_service(clock))
    try:
        for client in clients:
            await rig.raise_alerts(client, 20)
        rig.run()
        sent = lambda: sum(len(alert_messages(emulator, 9000 + n)) for n in range(50))  # noqa: E731
        await eventually(lambda: sent() == 1000, timeout=90, interval=0.5)
        assert emulator.violations == 0
        assert not [c for c in emulator.calls_of("sendMessage") if c.error_code == 429]
    finally:
        rig.stop.set()
        if rig.task:
            await asyncio.wait_for(rig.task, 10)
        await bot.session.close()
        await store.close()


async def test_an_alert_committed_before_a_crash_is_delivered_after_restart(
        emulator: Any, sqlite_database: Database, ring: MasterKeyring, tmp_path: Path) -> None:
    store = Store.open(sqlite_database.url, ring)
    clock = SystemClock()
    clinician = await make_clinician(store, clock, telegram_id=CLINICIAN)  # type: ignore[arg-type]
    client = await make_client(store, clock, clinician, telegram_id=CLIENT)  # type: ignore[arg-type]
    emulator.person(CLINICIAN, "Lane")
    await emulator.send_text(CLINICIAN, "/start")
    settings = bot_settings(emulator, sqlite_database.url, ring, outbox_lease_seconds=2)
    # The bot will be in the middle of sending when it is killed.
    emulator.delay_next("sendMessage", count=5, seconds=3.0)
    child = ChildBot(settings, tmp_path).start()
    try:
        await child.wait_ready()
        async with store.transaction() as uow:
            await alert_service(clock).raise_alert(uow, client, findings=[
                Finding("self_harm", "critical", "SELF_HARM")], checkin_id=None, answers={})
        await eventually(lambda: [c for c in emulator.calls_of("sendMessage")
                                  if c.chat_id == CLINICIAN], timeout=10)
        child.kill()  # between commit and a confirmed send
        async with store.unit_of_work() as uow:
            status = await uow.session.scalar(
                select(OutboxRow.status).where(OutboxRow.kind == "alert"))
        assert status is not None and status != "sent"
        emulator.clear_faults()
        child = ChildBot(settings, tmp_path).start()
        await child.wait_ready()
        try:
            await eventually(lambda: alert_messages(emulator), timeout=30)
        except AssertionError:
            raise AssertionError("\n".join(emulator.transcript()) + "\n" + child.log_text()
                                 + repr([(c.method, c.error_code) for c in emulator.calls])) from None
        assert 1 <= len(alert_messages(emulator)) <= 2  # at least once, perhaps twice
        assert await child.terminate() == 0
    finally:
        if child.process and child.process.poll() is None:
            child.kill()
        await store.close()




async def _if(value: Any, expected: Any, *, contains: bool = False) -> Any:
    """Await `value`; return it when it equals (or contains) `expected`, else None."""
    found = await value
    return found if (expected in found if contains else found == expected) else None


async def _supervisor(r: Rig) -> Any:
    supervisor = await make_clinician(r.store, SystemClock(), telegram_id=7002,  # type: ignore[arg-type]
                                      role="supervisor", name="Dr Sup")
    r.emu.person(supervisor.telegram_id, "Sup")
    await r.emu.send_text(supervisor.telegram_id, "/start")
    return supervisor


async def _counts(r: Rig) -> Any:
    async with r.store.unit_of_work() as uow:
        return await uow.outbox.counts()


async def test_an_alert_outlasts_a_dozen_server_errors_and_nobody_gets_a_dead_letter(
        rig: Any) -> None:
    r, client = rig
    supervisor = await _supervisor(r)
    r.emu.fail_next("sendMessage", count=12, error_code=502)  # past the old 8-attempt death
    await r.raise_alerts(client)
    r.run(max_backoff=0.2)
    await eventually(lambda: alert_messages(r.emu), timeout=20)
    await eventually(r.statuses_are("sent"))
    async with r.store.unit_of_work() as uow:
        attempts = await uow.session.scalar(select(OutboxRow.attempts))
    assert attempts == 13
    assert [m for m in r.emu.chat(supervisor.telegram_id) if m.from_bot] == []


async def test_a_permanent_refusal_makes_a_message_dead_and_supervisors_are_told(
        rig: Any) -> None:
    r, client = rig
    supervisor = await _supervisor(r)
    r.emu.fail_next("sendMessage", count=1, error_code=400,
                    description="Bad Request: can't parse entities")
    await r.raise_alerts(client)
    r.run()
    notice = await eventually(lambda: [m for m in r.emu.chat(supervisor.telegram_id)
                                       if "could not be delivered" in m.text], timeout=10)
    assert client.code in notice[0].text
    counts = await eventually(lambda: _dead_and_sent(r))
    assert counts.dead == 1 and counts.sent == 1
    assert alert_messages(r.emu) == []  # nothing pretends the alert arrived


async def _dead_and_sent(r: Rig) -> Any:
    counts = await _counts(r)
    return counts if (counts.dead, counts.sent) == (1, 1) else None


async def test_a_copy_still_waiting_when_its_alert_is_acknowledged_expires_unsent(
        rig: Any) -> None:
    r, client = rig
    r.emu.fail_next("sendMessage", count=1000, error_code=502)
    await r.raise_alerts(client)
    r.run(max_backoff=0.1)
    await eventually(lambda: _if(r.statuses(), ["retrying"]), timeout=10)
    async with r.store.transaction() as uow:
        alert_id = await uow.session.scalar(select(AlertRow.id))
        clinician = await uow.clinicians.by_telegram_id(CLINICIAN)
        assert alert_id is not None and clinician is not None
        await uow.alerts.acknowledge(alert_id, by=clinician.id, now=SystemClock().now())
    await eventually(r.statuses_are("expired"), timeout=10)
    r.emu.clear_faults()
    async with r.store.unit_of_work() as uow:
        counts = await uow.outbox.counts()
    assert counts.expired == 1 and counts.dead == 0
    assert alert_messages(r.emu) == []


async def test_a_revoked_token_holds_the_alert_back_until_the_token_works_again(
        rig: Any) -> None:
    r, client = rig
    r.emu.fail_next("sendMessage", count=3, error_code=401, description="Unauthorized")
    await r.raise_alerts(client)
    r.run(max_backoff=0.2)
    await eventually(lambda: alert_messages(r.emu), timeout=20)
    await eventually(r.statuses_are("sent"))
    assert [c.error_code for c in r.emu.calls_of("sendMessage")][-4:] == [401, 401, 401, None]


async def test_a_method_telegram_does_not_know_is_dead_at_once_not_retried_forever(
        rig: Any) -> None:
    r, client = rig
    supervisor = await _supervisor(r)
    r.emu.fail_next("sendMessage", count=1, error_code=404, description="Not Found")
    await r.raise_alerts(client)
    r.run()
    await eventually(lambda: [m for m in r.emu.chat(supervisor.telegram_id)
                              if "could not be delivered" in m.text])
    counts = await eventually(lambda: _dead_and_sent(r))
    assert counts.dead == 1


async def test_a_copy_acknowledged_while_on_its_way_is_marked_handled_once_it_arrives(
        rig: Any) -> None:
    r, client = rig
    r.emu.delay_next("sendMessage", count=1, seconds=2.0)  # the copy is in flight meanwhile
    await r.raise_alerts(client)
    r.run()
    await eventually(lambda: r.emu.calls_of("sendMessage"))
    async with r.store.transaction() as uow:
        alert_id = await uow.session.scalar(select(AlertRow.id))
        clinician = await uow.clinicians.by_telegram_id(CLINICIAN)
        assert alert_id is not None and clinician is not None
        # Acknowledged (say, from another copy or the e-mail) before Telegram answered.
        await r.alerts.acknowledge(uow, clinician, alert_id)
    copy = (await eventually(lambda: alert_messages(r.emu)))[0]
    await eventually(lambda: any(m.message_id == copy.message_id and "acknowledged by"
                                 in m.text and m.button_texts == ["Details"]
                                 for m in r.emu.chat(CLINICIAN)))


async def test_a_row_queued_before_buttons_were_plain_values_is_sent_with_its_markup(
        rig: Any) -> None:
    """An upgrade loses no button: a row still carrying Telegram's own reply_markup (queued
    by the version before journal.buttons) is sent as it is."""
    r, client = rig
    markup = {"inline_keyboard": [[{"text": "Start check-in",
                                     "callback_data": "ck:s:20260302:0:0"}]]}
    async with r.store.transaction() as uow:
        await uow.outbox.add(chat_id=CLIENT, kind="prompt", method="sendMessage",
                             params={"text": "Time for your check-in.", "reply_markup": markup},
                             now=SystemClock().now(), client_id=client.id)
    r.run()
    message = (await eventually(lambda: [m for m in r.emu.chat(CLIENT)
                                         if m.from_bot and "Time for your" in m.text]))[0]
    assert [(b.text, b.callback_data) for row in message.buttons for b in row] == [
        ("Start check-in", "ck:s:20260302:0:0")]
    await eventually(r.statuses_are("sent"))


async def test_an_edit_queued_behind_a_message_to_the_same_chat_does_not_wait_its_second(
        rig: Any) -> None:
    """Telegram counts an edit in place only against the bot's 30 a second, not the chat's
    one new message a second: the handled copy of an alert follows the notice at once."""
    r, _ = rig
    alert = await r.bot.send_message(chat_id=CLINICIAN, text="High alert for client X")
    now = SystemClock().now()
    async with r.store.transaction() as uow:
        await uow.outbox.add(chat_id=CLINICIAN, kind="notice", method="sendMessage",
                             params={"text": "A notice"}, now=now)
        await uow.outbox.add(chat_id=CLINICIAN, kind="notice", method="editMessageText",
                             params={"message_id": alert.message_id, "text": "Handled"},
                             now=now, due=now + timedelta(milliseconds=1))
    r.run()
    await eventually(r.statuses_are("sent", "sent"))
    notice, edit = r.emu.calls_of("sendMessage")[-1], r.emu.calls_of("editMessageText")[-1]
    assert notice.error_code is None and edit.error_code is None
    assert edit.time - notice.time < 0.5
