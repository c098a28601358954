"""Staff who are not reached on Telegram in time get an e-mail, through a real SMTP server
on loopback; the mail says only that there is an alert, for whom and when."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from sqlalchemy import select, update

from app.mail import SmtpMailer
from bot.delivery import DeliveryWorker
from journal.administration import AdminService
from journal.alerts.fallback import EmailFallback
from journal.alerts.rules import Finding
from journal.alerts.rules_file import load_rules
from journal.alerts.service import AlertService
from journal.checkin.questionnaire_file import load_questionnaire
from journal.clock import FakeClock
from journal.errors import InvalidInput
from storage.crypto import CryptoError, MasterKeyring
from storage.models import ClinicianRow, OutboxRow, StaffEmailRow
from storage.records import Client, Clinician
from storage.uow import Store
from tests.conftest import Database
from tests.e2e import InProcessBot, bot_settings, eventually
from tests.helpers import make_client
from tests.mailbox import Mailbox

LANE, SUP, CLIENT = 7001, 7002, 8001
Q = load_questionnaire()


def alert_service(clock: FakeClock) -> AlertService:
    # Full detail in Telegram, to show that even then the e-mail carries none.
    return AlertService(clock=clock, questionnaire=Q, rules=load_rules(questionnaire=Q),
                        detail="full", display_timezone="Europe/Madrid")


def fallback(store: Store, clock: FakeClock, box: Mailbox, **kwargs: Any) -> EmailFallback:
    mailer = SmtpMailer(host="127.0.0.1", port=box.port, sender="steadfast@clinic.example",
                        security="none", timeout=10)
    return EmailFallback(store=store, clock=clock, mailer=mailer, after=timedelta(minutes=5),
                         program="Hillside RP", display_timezone="Europe/Madrid", **kwargs)


async def staff(store: Store, clock: FakeClock) -> tuple[Clinician, Client]:
    admin = AdminService(store=store, clock=clock)
    lane = await admin.add_clinician(telegram_id=LANE, name="Dr Lane", supervisor=False,
                                     email="lane@clinic.example")
    await admin.add_clinician(telegram_id=SUP, name="Dr Sup", supervisor=True,
                              email="sup@clinic.example")
    return lane, await make_client(store, clock, lane, telegram_id=CLIENT)


async def crisis_alert(store: Store, clock: FakeClock, client: Client) -> str:
    async with store.transaction() as uow:
        alert = await alert_service(clock).raise_alert(
            uow, client, findings=[Finding("self_harm", "critical", "SELF_HARM")],
            checkin_id=None, answers={"self_harm": True})
    return alert.id


async def test_an_alert_waiting_five_minutes_is_mailed_to_the_clinician_with_no_health_detail(
        store: Store, clock: FakeClock, mailbox: Mailbox) -> None:
    lane, client = await staff(store, clock)
    alert_id = await crisis_alert(store, clock, client)  # Telegram never took it
    mail = fallback(store, clock, mailbox)
    clock.advance(minutes=4, seconds=59)
    assert await mail.run_once() == 0
    clock.advance(seconds=1)
    assert await mail.run_once() == 1
    [received] = mailbox.all()
    assert received.rcpt_tos == ("lane@clinic.example",)
    assert received.mail_from == "steadfast@clinic.example"
    assert received.subject == f"Hillside RP: Critical alert for client {client.code}"
    body = received.body
    assert "Hillside RP" in body and client.code in body and "Critical alert" in body
    assert "2026-03-02 10:00 CET (Europe/Madrid)" in body  # 09:00 UTC, the program's zone
    assert "Open Steadfast" in body
    for secret in ("self-harm", "Thoughts", "harm", "SELF_HARM", "Yes", "Details"):
        assert secret not in body and secret not in received.subject
    clock.advance(minutes=30)
    assert await mail.run_once() == 0  # once per outbox row
    assert len(mailbox.all()) == 1
    async with store.unit_of_work() as uow:
        audit = [e.detail for e in await uow.audit_events() if e.action == "email.fallback"]
    assert audit == [f"clinician {lane.id} alert {alert_id}"]


async def test_nothing_is_mailed_when_telegram_delivered_in_time(
        store: Store, clock: FakeClock, mailbox: Mailbox, emulator: Any) -> None:
    _, client = await staff(store, clock)
    emulator.person(LANE, "Lane")
    await emulator.send_text(LANE, "/start")
    bot = Bot(token=emulator.token,
              session=AiohttpSession(api=TelegramAPIServer.from_base(emulator.base_url)))
    stop = asyncio.Event()
    worker = DeliveryWorker(store=store, bot=bot, clock=clock, alerts=alert_service(clock),
                            poll_interval=0.05)
    task = asyncio.create_task(worker.run(stop))
    try:
        await crisis_alert(store, clock, client)

        async def delivered() -> bool:
            async with store.unit_of_work() as uow:
                return await uow.session.scalar(
                    select(OutboxRow.status).where(OutboxRow.kind == "alert")) == "sent"

        await eventually(delivered, timeout=10)
        assert [m for m in emulator.chat(LANE) if "Critical alert" in m.text]
        clock.advance(minutes=30)
        assert await fallback(store, clock, mailbox).run_once() == 0
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
        await bot.session.close()
    assert mailbox.all() == []
    async with store.unit_of_work() as uow:
        assert list(await uow.session.scalars(select(StaffEmailRow.id))) == []


async def test_two_workers_mail_an_overdue_alert_once(
        database: Database, ring: MasterKeyring, clock: FakeClock, mailbox: Mailbox) -> None:
    one, two = Store.open(database.url, ring), Store.open(database.url, ring)
    try:
        _, client = await staff(one, clock)
        await crisis_alert(one, clock, client)
        clock.advance(minutes=6)
        sent = await asyncio.gather(fallback(one, clock, mailbox).run_once(),
                                    fallback(two, clock, mailbox).run_once())
        assert sorted(sent) == [0, 1]
        assert len(mailbox.to("lane@clinic.example")) == 1
    finally:
        await one.close()
        await two.close()


async def test_a_refusing_smtp_server_is_tried_again_later_and_logged_by_error_type_only(
        store: Store, clock: FakeClock, mailbox: Mailbox,
        caplog: pytest.LogCaptureFixture) -> None:
    _, client = await staff(store, clock)
    await crisis_alert(store, clock, client)
    mail = fallback(store, clock, mailbox)
    mailbox.refusing = True
    clock.advance(minutes=5)
    with caplog.at_level(logging.WARNING):
        assert await mail.run_once() == 0
    assert "e-mail fallback not sent, will retry: SMTPDataError" in caplog.text
    assert "lane@" not in caplog.text and client.code not in caplog.text
    async with store.unit_of_work() as uow:
        row = (await uow.session.execute(
            select(StaffEmailRow.status, StaffEmailRow.attempts, StaffEmailRow.last_error))).one()
    assert tuple(row) == ("pending", 1, "SMTPDataError")
    mailbox.refusing = False
    assert await mail.run_once() == 0  # not before its retry time
    clock.advance(minutes=2)
    assert await mail.run_once() == 1
    assert len(mailbox.to("lane@clinic.example")) == 1


async def test_an_address_is_sealed_bound_to_its_clinician_and_can_be_changed_or_removed(
        store: Store, clock: FakeClock) -> None:
    lane, _ = await staff(store, clock)
    admin = AdminService(store=store, clock=clock)
    async with store.unit_of_work() as uow:
        rows = {r.telegram_id: r.email_ct for r in await uow.session.scalars(select(ClinicianRow))}
        assert all(ct is not None and b"clinic.example" not in ct for ct in rows.values())
        assert await uow.clinicians.email(lane.id, clock.now()) == "lane@clinic.example"
    # A sealed address copied onto another clinician's row does not open there.
    async with store.transaction() as uow:
        await uow.session.execute(update(ClinicianRow).where(ClinicianRow.telegram_id == LANE)
                                  .values(email_ct=rows[SUP]))
    async with store.unit_of_work() as uow:
        with pytest.raises(CryptoError):
            await uow.clinicians.email(lane.id, clock.now())
    changed = await admin.set_clinician_email(telegram_id=LANE, email="l.lane@clinic.example")
    assert changed.has_email
    with pytest.raises(InvalidInput):
        await admin.set_clinician_email(telegram_id=LANE, email="not an address")
    removed = await admin.set_clinician_email(telegram_id=LANE, email="")
    assert not removed.has_email
    async with store.unit_of_work() as uow:
        assert await uow.clinicians.email(lane.id, clock.now()) is None
        details = [e.detail for e in await uow.audit_events() if e.action == "clinician.email"]
    assert details == [f"clinician {lane.id} e-mail set", f"clinician {lane.id} e-mail removed"]


async def test_run_without_smtp_says_once_that_the_fallback_is_off(
        emulator: Any, sqlite_database: Database, ring: MasterKeyring,
        caplog: pytest.LogCaptureFixture) -> None:
    settings = bot_settings(emulator, sqlite_database.url, ring, scheduler_enabled=False)
    with caplog.at_level(logging.INFO):
        bot = await InProcessBot(settings).start()
        await bot.stop()
    assert caplog.text.count("e-mail fallback is off") == 1


def test_clinician_add_and_edit_take_an_email_address_from_the_command_line(
        database: Database, ring: MasterKeyring, tmp_path: Path) -> None:
    from tests.test_audit_and_cli import cli

    key_file = tmp_path / "steadfast.key"
    ring.create_file(key_file)
    env = {"STEADFAST_DATABASE_URL": database.url, "STEADFAST_MASTER_KEY_FILE": str(key_file)}
    added = cli(["clinician", "add", "--telegram-id", "7001", "--name", "Dr Lane",
                 "--email", "lane@clinic.example"], env, tmp_path)
    assert added.returncode == 0, added.stderr
    assert "with an e-mail address" in added.stdout and "lane@" not in added.stdout
    wrong = cli(["clinician", "edit", "--telegram-id", "7001", "--email", "lane at clinic"],
                env, tmp_path)
    assert wrong.returncode == 1 and "e-mail address must look like" in wrong.stderr
    assert "Traceback" not in wrong.stderr
    removed = cli(["clinician", "edit", "--telegram-id", "7001", "--email", ""], env, tmp_path)
    assert removed.returncode == 0 and "e-mail address removed" in removed.stdout
    unknown = cli(["clinician", "edit", "--telegram-id", "7999", "--email", "x@clinic.example"],
                  env, tmp_path)
    assert unknown.returncode == 1 and "no active clinician" in unknown.stderr


async def test_spanish_speaking_staff_get_the_mail_in_spanish(
        store: Store, clock: FakeClock, mailbox: Mailbox) -> None:
    _, client = await staff(store, clock)
    await crisis_alert(store, clock, client)
    clock.advance(minutes=5)
    assert await fallback(store, clock, mailbox, staff_language="es").run_once() == 1
    [received] = mailbox.all()
    assert received.subject == f"Hillside RP: alerta de nivel Crítico, cliente {client.code}"
    assert "Abre Steadfast" in received.body and "Generada: 2026-03-02 10:00 CET" in received.body


async def test_each_staff_member_is_mailed_in_their_own_language_and_zone(
        store: Store, clock: FakeClock, mailbox: Mailbox) -> None:
    """The program writes English in Madrid time; Dr Lane chose Spanish and Bogotá, the
    supervisor chose nothing. An escalation's subject reads as a sentence."""
    _, client = await staff(store, clock)
    await AdminService(store=store, clock=clock).set_clinician_locale(
        telegram_id=LANE, language="es", timezone="America/Bogota")
    await crisis_alert(store, clock, client)
    clock.advance(minutes=5)
    mailer = fallback(store, clock, mailbox)
    assert await mailer.run_once() == 1
    [spanish] = mailbox.to("lane@clinic.example")
    assert spanish.subject == f"Hillside RP: alerta de nivel Crítico, cliente {client.code}"
    assert "Generada: 2026-03-02 04:00 -05 (America/Bogota)" in spanish.body
    clock.advance(minutes=15)
    async with store.transaction() as uow:
        assert await alert_service(clock).escalate_due(uow) == 1
    clock.advance(minutes=5)
    assert await mailer.run_once() == 1
    [escalated] = mailbox.to("sup@clinic.example")
    assert escalated.subject == (f"Hillside RP: Critical alert for client {client.code} "
                                 "not acknowledged in time")
    assert "ESCALATED " not in escalated.subject
    assert "Raised 2026-03-02 10:00 CET (Europe/Madrid)" in escalated.body


async def test_steadfast_run_with_smtp_mails_an_alert_telegram_could_not_deliver(
        emulator: Any, sqlite_database: Database, ring: MasterKeyring, mailbox: Mailbox) -> None:
    store = Store.open(sqlite_database.url, ring)
    clock = FakeClock(datetime.now(UTC))
    try:
        _, client = await staff(store, clock)
        await crisis_alert(store, clock, client)
    finally:
        await store.close()
    emulator.outage("sendMessage")
    settings = bot_settings(emulator, sqlite_database.url, ring, scheduler_enabled=False,
                            smtp_host="127.0.0.1", smtp_port=mailbox.port, smtp_security="none",
                            smtp_from="steadfast@clinic.example", email_fallback_minutes=0,
                            program_name="Hillside RP")
    bot = await InProcessBot(settings).start()
    try:
        mails = await eventually(lambda: mailbox.to("lane@clinic.example"), timeout=15)
    finally:
        await bot.stop()
    assert [m.subject for m in mails] == [f"Hillside RP: Critical alert for client {client.code}"]
