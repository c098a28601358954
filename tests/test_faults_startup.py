"""Fault stories for the start: `steadfast run` (re)started while Telegram answers 502.

The real process waits for Telegram instead of exiting, and meanwhile does what does not
need it: the delivery worker keeps trying, and the e-mail fallback reaches staff. Once
Telegram answers, updates are served and the command menus are set."""

from __future__ import annotations

import logging
import re
import time
from datetime import UTC, datetime
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
from storage.crypto import MasterKeyring
from storage.models import OutboxRow
from storage.records import Client
from storage.uow import Store
from tests.conftest import Database
from tests.e2e import ChildBot, InProcessBot, bot_settings, eventually
from tests.helpers import make_client
from tests.mailbox import Mailbox, free_port

pytestmark = [pytest.mark.faults, pytest.mark.slow]

LANE, CLIENT = 7001, 8001
Q = load_questionnaire()
WAITING = "waiting for Telegram at STEADFAST_TELEGRAM_API_URL"
FAST = {"STEADFAST_DELIVERY_BASE_BACKOFF_SECONDS": "0.2",
        "STEADFAST_DELIVERY_MAX_BACKOFF_SECONDS": "1"}


async def program(store: Store, clock: FakeClock, emu: Any) -> Client:
    admin = AdminService(store=store, clock=clock)
    lane = await admin.add_clinician(telegram_id=LANE, name="Dr Lane", supervisor=False,
                                     email="lane@clinic.example")
    client = await make_client(store, clock, lane, telegram_id=CLIENT)
    for telegram_id, name in ((LANE, "Lane"), (CLIENT, "Sam")):
        emu.person(telegram_id, name)
        await emu.send_text(telegram_id, "/start")  # each has opened the bot's chat before
    return client


async def program_in(database: Database, ring: MasterKeyring, emu: Any) -> Client:
    """program() on a store of its own, closed again before the bot starts."""
    store = Store.open(database.url, ring)
    try:
        return await program(store, FakeClock(datetime.now(UTC)), emu)
    finally:
        await store.close()


async def queue_crisis_alert(store: Store, clock: FakeClock, client: Client) -> None:
    alerts = AlertService(clock=clock, questionnaire=Q, rules=load_rules(questionnaire=Q))
    async with store.transaction() as uow:
        await alerts.raise_alert(uow, client, findings=[Finding("self_harm", "critical",
                                                                "SELF_HARM")],
                                 checkin_id=None, answers={"self_harm": True})


def alerts_in_chat(emu: Any) -> list[str]:
    return [m.text for m in emu.chat(LANE) if m.from_bot and "Critical alert" in (m.text or "")]


def child(emu: Any, database: Database, ring: MasterKeyring, tmp_path: Path,
          **env: str) -> ChildBot:
    return ChildBot(bot_settings(emu, database.url, ring), tmp_path,
                    extra_env={**FAST, "STEADFAST_SCHEDULER_ENABLED": "false", **env})


async def test_a_start_during_an_outage_waits_mails_staff_and_serves_once_telegram_is_back(
        emulator: Any, sqlite_database: Database, ring: MasterKeyring, mailbox: Mailbox,
        tmp_path: Path) -> None:
    store = Store.open(sqlite_database.url, ring)
    clock = FakeClock(datetime.now(UTC))
    bot: ChildBot | None = None
    try:
        client = await program(store, clock, emulator)
        await queue_crisis_alert(store, clock, client)  # queued before the start
        emulator.outage(error_code=502)
        bot = child(emulator, sqlite_database, ring, tmp_path,
                    STEADFAST_SCHEDULER_ENABLED="true",
                    STEADFAST_SMTP_HOST="127.0.0.1", STEADFAST_SMTP_PORT=str(mailbox.port),
                    STEADFAST_SMTP_SECURITY="none", STEADFAST_SMTP_FROM="steadfast@clinic.example",
                    STEADFAST_EMAIL_FALLBACK_MINUTES="0", STEADFAST_PROGRAM_NAME="Hillside RP")
        bot.start()
        await eventually(lambda: WAITING in bot.log_text(), timeout=60)
        # Telegram is still down, the process did not exit, and the clinician was mailed.
        mails = await eventually(lambda: mailbox.to("lane@clinic.example"), timeout=60)
        assert [m.subject for m in mails] == [
            f"Hillside RP: Critical alert for client {client.code}"]
        await eventually(lambda: len(emulator.calls_of("getMe")) >= 3, timeout=30)
        assert bot.process is not None and bot.process.poll() is None
        assert "Steadfast is running" not in bot.log_text()
        assert not emulator.calls_of("getUpdates")  # no updates are asked for before getMe
        # The delivery worker runs as well, and keeps trying the alert.
        await eventually(lambda: len(emulator.calls_of("sendMessage")) >= 2, timeout=30)
        assert alerts_in_chat(emulator) == []
        assert "TEST-TOKEN" not in bot.log_text()

        emulator.end_outage()
        await bot.wait_ready(timeout=60)
        await emulator.wait_for_message(LANE, contains="Critical alert", timeout=30)
        sent = await emulator.send_command(CLIENT, "/checkin")
        await emulator.wait_for_message(CLIENT, contains=" of ", after=sent.message_id,
                                        timeout=30)

        async def alert_row_sent() -> bool:
            async with store.unit_of_work() as uow:
                statuses = list(await uow.session.scalars(
                    select(OutboxRow.status).where(
                        OutboxRow.chat_index == await uow.vault.telegram_index(LANE),
                        OutboxRow.kind != "menu")))
            return statuses == ["sent"]

        await eventually(alert_row_sent, timeout=30)
        assert len(alerts_in_chat(emulator)) == 1
        assert len(mailbox.to("lane@clinic.example")) == 1  # mailed once, not again
        assert await bot.terminate() == 0
        assert "Traceback" not in bot.log_text()
    finally:
        if bot is not None and bot.process is not None and bot.process.poll() is None:
            bot.kill()
        await store.close()


async def test_a_start_during_a_long_outage_serves_within_seconds_once_telegram_is_back(
        emulator: Any, sqlite_database: Database, ring: MasterKeyring, tmp_path: Path) -> None:
    await program_in(sqlite_database, ring, emulator)
    emulator.outage(error_code=502)
    # The delivery backoff of a real deployment: doubling from 1 s up to 5 minutes.
    bot = child(emulator, sqlite_database, ring, tmp_path,
                STEADFAST_DELIVERY_BASE_BACKOFF_SECONDS="1",
                STEADFAST_DELIVERY_MAX_BACKOFF_SECONDS="300").start()
    try:
        # Five waits: the delivery backoff alone would be past 8 s by the fourth.
        await eventually(lambda: bot.log_text().count("did not answer getMe") >= 5,
                         timeout=90)
        waits = [float(w) for w in re.findall(r"did not answer getMe .*; trying again in "
                                              r"([0-9.]+)s", bot.log_text())]
        assert len(waits) >= 5 and max(waits) <= 5.0, waits
        emulator.end_outage()
        back = time.monotonic()
        await bot.wait_ready(timeout=60)
        sent = await emulator.send_command(CLIENT, "/checkin")
        await emulator.wait_for_message(CLIENT, contains=" of ", after=sent.message_id,
                                        timeout=30)
        # One wait of at most 5 s, and a loaded machine's slowness on top.
        assert time.monotonic() - back < 30
        assert await bot.terminate() == 0
    finally:
        if bot.process is not None and bot.process.poll() is None:
            bot.kill()


async def test_sigterm_while_waiting_for_telegram_exits_0_quickly(
        emulator: Any, sqlite_database: Database, ring: MasterKeyring, tmp_path: Path) -> None:
    emulator.outage(error_code=502)
    bot = child(emulator, sqlite_database, ring, tmp_path,
                STEADFAST_DELIVERY_BASE_BACKOFF_SECONDS="30",
                STEADFAST_DELIVERY_MAX_BACKOFF_SECONDS="60").start()
    try:
        await eventually(lambda: WAITING in bot.log_text(), timeout=60)
        assert await bot.terminate(timeout=10) == 0  # well inside the 15-60 s retry wait
        log = bot.log_text()
        assert "Steadfast stopped cleanly" in log and "Traceback" not in log
        assert "Steadfast is running" not in log
    finally:
        if bot.process is not None and bot.process.poll() is None:
            bot.kill()


async def test_command_menus_failing_do_not_stop_the_start_and_are_set_once_telegram_answers(
        emulator: Any, sqlite_database: Database, ring: MasterKeyring, tmp_path: Path) -> None:
    await program_in(sqlite_database, ring, emulator)
    emulator.outage("deleteMyCommands", "setMyCommands", error_code=502)
    bot = child(emulator, sqlite_database, ring, tmp_path).start()
    try:
        await bot.wait_ready(timeout=60)
        # The bot serves while the menus cannot be set.
        sent = await emulator.send_command(CLIENT, "/checkin")
        await emulator.wait_for_message(CLIENT, contains=" of ", after=sent.message_id,
                                        timeout=30)
        await eventually(lambda: len(emulator.calls_of("setMyCommands")) >= 2, timeout=30)
        assert emulator.commands_for(LANE) == [] and emulator.commands_for(CLIENT) == []

        emulator.end_outage()
        await eventually(lambda: "alerts" in emulator.commands_for(LANE), timeout=30)
        await eventually(lambda: "checkin" in emulator.commands_for(CLIENT), timeout=30)
        assert "invite" not in emulator.commands_for(CLIENT)
        assert "checkin" not in emulator.commands_for(LANE)
        def succeeded() -> list[int | None]:
            return [(c.params.get("scope") or {}).get("chat_id")
                    for c in emulator.calls_of("setMyCommands") if c.error_code is None]

        # The default scope bare and per language, and Lane's own (at the start, and from
        # the outbox row queued when Lane was added); the client has no chat's own menu.
        await eventually(lambda: succeeded().count(None) == 3, timeout=30)
        done = succeeded()
        assert CLIENT not in done
        assert 1 <= done.count(LANE) <= 2 and len(done) <= 5
        assert await bot.terminate() == 0
        assert "Traceback" not in bot.log_text()
    finally:
        if bot.process is not None and bot.process.poll() is None:
            bot.kill()


async def test_a_webhook_start_whose_setwebhook_fails_serves_and_sets_it_once_telegram_answers(
        emulator: Any, sqlite_database: Database, ring: MasterKeyring, tmp_path: Path) -> None:
    await program_in(sqlite_database, ring, emulator)
    port = free_port()
    url = f"http://127.0.0.1:{port}/hook"
    emulator.outage("setWebhook", error_code=502)
    bot = ChildBot(bot_settings(emulator, sqlite_database.url, ring), tmp_path,
                   args=("--webhook", "--host", "127.0.0.1", "--port", str(port), "--path",
                         "/hook", "--secret", "s3cret-token-for-tests_0123", "--public-url", url),
                   extra_env={**FAST, "STEADFAST_SCHEDULER_ENABLED": "false"}).start()
    try:
        await bot.wait_ready(timeout=60)
        await eventually(lambda: len(emulator.calls_of("setWebhook")) >= 2, timeout=30)
        assert emulator.webhook_url is None
        emulator.end_outage()
        await eventually(lambda: emulator.webhook_url == url, timeout=30)
        sent = await emulator.send_command(CLIENT, "/checkin")
        await emulator.wait_for_message(CLIENT, contains=" of ", after=sent.message_id,
                                        timeout=30)
        assert await bot.terminate() == 0
        assert "Traceback" not in bot.log_text()
    finally:
        if bot.process is not None and bot.process.poll() is None:
            bot.kill()


async def test_a_429_and_a_504_on_getme_are_waited_out_as_long_as_telegram_asks(
        emulator: Any, sqlite_database: Database, ring: MasterKeyring,
        caplog: pytest.LogCaptureFixture) -> None:
    emulator.fail_next("getMe", error_code=504)
    emulator.fail_next("getMe", error_code=429, retry_after=2)
    settings = bot_settings(emulator, sqlite_database.url, ring, scheduler_enabled=False,
                            delivery_base_backoff_seconds=0.1, delivery_max_backoff_seconds=0.2)
    with caplog.at_level(logging.INFO):
        bot = await InProcessBot(settings).start()
        await bot.stop()
    calls = emulator.calls_of("getMe")
    assert [c.error_code for c in calls] == [504, 429, None]
    assert calls[2].time - calls[1].time >= 2  # the 429's retry_after, not the short backoff
    assert caplog.text.count(WAITING) == 1
    assert caplog.text.index(WAITING) < caplog.text.index("Steadfast is running")
