"""What operators watch: /metrics after a real story moves the counters and names nobody;
/healthz and /readyz; basic auth; the outbox gauges read from the database."""

from __future__ import annotations

import asyncio
import base64
import uuid
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select, update

from app.composition import build_services
from app.observability import add_routes, enable
from bot.intake import WebhookConfig
from journal.clock import FakeClock
from storage.crypto import MasterKeyring
from storage.models import OutboxRow
from storage.uow import Store
from tests.conftest import Database
from tests.e2e import bot_settings, eventually
from tests.helpers import make_clinician
from tests.mailbox import free_port
from tests.stories import Phone, enrolled_client

CLINICIAN, CLIENT, QUIET, GONE = 7300451, 8300452, 8300453, 8300454
SECRET = "metrics-story-secret-0123"
USER, PASSWORD = "prometheus", "scrape-Pa55-word"


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape by (name, sorted labels)."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def total(scrape: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str,
          **labels: str) -> float:
    """The sum of a metric's samples whose labels include `labels`."""
    return sum(value for (n, ls), value in scrape.items()
               if n == name and set(labels.items()) <= set(ls))


async def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    async with aiohttp.ClientSession() as http, http.get(url, headers=headers) as response:
        return response.status, await response.text()


async def test_a_story_moves_the_counters_and_no_label_names_a_person(
        emulator: Any, sqlite_database: Database, ring: MasterKeyring, clock: FakeClock) -> None:
    """Webhook mode, as a program runs it: /metrics on the webhook server, behind basic auth.
    Yesterday's window closed unanswered (missed), today's prompts go out, one client
    answers with a high-risk situation (typed text) and the clinician gets the alert; the
    prompt to a client whose chat Telegram does not know is a dead letter."""
    from process.run import run_bot

    canary = f"CANARY-{uuid.uuid4().hex[:12]}"
    store = Store.open(sqlite_database.url, ring)
    clinician = await make_clinician(store, clock, telegram_id=CLINICIAN)
    client = await enrolled_client(store, clock, clinician, CLIENT,
                                   coping_steps=("Call my sponsor", "Leave the place"))
    quiet = await enrolled_client(store, clock, clinician, QUIET)
    gone = await enrolled_client(store, clock, clinician, GONE)  # no chat: a dead letter
    for user, name in ((CLINICIAN, "Lane"), (CLIENT, "Sam"), (QUIET, "Kim")):
        emulator.person(user, name)
        await emulator.send_text(user, "/start")  # a chat the bot may write to
    clock.set(clock.now().replace(hour=8) + timedelta(days=1))  # 09:00 in Madrid: day 1 missed
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    config = WebhookConfig(host="127.0.0.1", port=port, path="/hook", secret=SECRET,
                           public_url=base + "/hook")
    settings = bot_settings(emulator, sqlite_database.url, ring, tick_seconds=5,
                            metrics_enabled=True, metrics_user=USER, metrics_password=PASSWORD)
    # The counters are this process's: what they said before the bot started is the base.
    before = samples(generate_latest(enable()).decode())
    stop, ready = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(run_bot(settings, webhook=config, stop=stop, clock=clock,
                                       migrate=False, handle_signals=False, ready=ready))
    try:
        await asyncio.wait_for(ready.wait(), 30)
        assert (await get(base + "/healthz"))[0] == 200
        assert await get(base + "/readyz") == (200, "ready\n")
        assert (await get(base + "/metrics"))[0] == 401  # no credentials
        assert (await get(base + "/metrics", basic(USER, "wrong")))[0] == 401
        assert (await get(base + "/metrics", basic(USER, PASSWORD)))[0] == 200

        async def scrape() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
            return samples((await get(base + "/metrics", basic(USER, PASSWORD)))[1])

        async def moved(name: str) -> bool:
            return total(await scrape(), name) > total(before, name)

        await eventually(lambda: moved("steadfast_checkins_missed_total"), timeout=20)
        clock.set(clock.now().replace(hour=19, minute=1))  # 20:01 in Madrid: prompts due
        await eventually(lambda: moved("steadfast_checkins_prompted_total"), timeout=20)
        await emulator.wait_for_message(CLIENT, contains="check-in")

        phone = Phone(emulator, CLIENT)
        await phone.checkin()
        for label in ("No", "2", "None", "No", "7", "No", "No", "No", "Yes"):
            await phone.press(label)
        await phone.type(f"what happened {canary}")
        await phone.press("Stayed up late online")
        await phone.press("Done")
        await phone.press("No")  # lapse
        await phone.press("Call my sponsor")
        await phone.press("Done")
        for label in ("8", "9", "Work", "Done"):
            await phone.press(label)
        await phone.type(f"a note {canary}")
        await phone.press("Submit")
        await emulator.wait_for_message(CLINICIAN, contains=client.code)  # the alert
        await eventually(lambda: moved("steadfast_checkins_completed_total"))
        after = await eventually(scrape)
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)

    def grew(name: str, **labels: str) -> float:
        return total(after, name, **labels) - total(before, name, **labels)

    assert grew("steadfast_checkins_missed_total") >= 3  # every client's first day
    assert grew("steadfast_checkins_prompted_total") == 3
    assert grew("steadfast_dead_letters_total") == 1
    assert grew("steadfast_delivery_failures_total", error_class="TelegramBadRequest") == 1
    assert total(after, "steadfast_outbox_messages", kind="prompt", state="dead") == 1
    assert grew("steadfast_checkins_completed_total") == 1
    assert grew("steadfast_updates_handled_total", outcome="handled") >= 15
    assert grew("steadfast_update_seconds_count", outcome="handled") >= 15
    assert grew("steadfast_delivery_sent_total", kind="alert") >= 1
    assert grew("steadfast_delivery_sent_total", kind="prompt") == 2
    assert grew("steadfast_scheduler_ticks_total", ran="true") >= 2
    assert grew("steadfast_scheduler_tick_seconds_count") >= 2
    assert total(after, "steadfast_database_up") == 1
    async with store.unit_of_work() as uow:
        sent_prompts = await uow.session.scalar(
            select(func.count()).select_from(OutboxRow)
            .where(OutboxRow.kind == "prompt", OutboxRow.status == "sent"))
    await store.close()
    assert total(after, "steadfast_outbox_messages", kind="prompt", state="sent") == sent_prompts
    assert total(after, "steadfast_oldest_undelivered_alert_seconds") == 0  # delivered

    every_label = " ".join(f"{n} {ls}" for n, ls in after)
    for secret in (client.code, quiet.code, gone.code, str(CLIENT), str(QUIET), str(GONE),
                   str(CLINICIAN), canary):
        assert secret not in every_label


@pytest.fixture
async def watched(database: Database, ring: MasterKeyring, clock: FakeClock
                  ) -> Any:
    """add_routes on a bare aiohttp app (as the workspace will mount it), served for real."""

    async def serve(store: Store, **overrides: Any) -> str:
        settings = bot_settings_for(database.url, ring, **overrides)
        app = web.Application()
        add_routes(app, build_services(settings, store, clock))
        runner = web.AppRunner(app)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        runners.append(runner)
        return f"http://127.0.0.1:{port}"

    runners: list[web.AppRunner] = []
    yield serve
    for runner in runners:
        await runner.cleanup()


def bot_settings_for(url: str, ring: MasterKeyring, **overrides: Any) -> Any:
    from app.settings import Settings

    values: dict[str, Any] = {"database_url": url, "default_timezone": "UTC",
                              "master_keys": ",".join(ring.dump().splitlines()[1:])}
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


async def test_outbox_gauges_come_from_the_database_with_the_oldest_alert_waiting(
        watched: Any, store: Store, clock: FakeClock) -> None:
    clinician = await make_clinician(store, clock, telegram_id=CLINICIAN)
    await enrolled_client(store, clock, clinician, CLIENT)
    async with store.transaction() as uow:
        for n in range(3):
            await uow.outbox.add(chat_id=CLINICIAN, kind="alert", method="sendMessage",
                                 params={"text": f"alert {n}"}, now=clock.now())
        await uow.outbox.add(chat_id=CLIENT, kind="prompt", method="sendMessage",
                             params={"text": "prompt"}, now=clock.now())
        await uow.session.execute(update(OutboxRow).where(OutboxRow.kind == "prompt")
                                  .values(status="dead"))
    clock.advance(minutes=7)
    async with store.transaction() as uow:  # a newer alert copy does not hide the oldest
        await uow.outbox.add(chat_id=CLINICIAN, kind="alert", method="sendMessage",
                             params={"text": "alert 4"}, now=clock.now())
    base = await watched(store, metrics_enabled=True)
    status, text = await get(base + "/metrics")  # no user set: open
    assert status == 200
    scrape = samples(text)
    assert total(scrape, "steadfast_outbox_messages", kind="alert", state="queued") == 4
    assert total(scrape, "steadfast_outbox_messages", kind="prompt", state="dead") == 1
    assert total(scrape, "steadfast_oldest_undelivered_alert_seconds") == 7 * 60
    assert str(CLINICIAN) not in text and str(CLIENT) not in text and "alert 4" not in text


async def test_readyz_says_why_when_the_keys_do_not_open_or_the_database_is_gone(
        watched: Any, store: Store, database: Database, clock: FakeClock) -> None:
    clinician = await make_clinician(store, clock, telegram_id=CLINICIAN)
    await enrolled_client(store, clock, clinician, CLIENT)  # a client data key to open
    other = MasterKeyring.generate()
    wrong = Store.open(database.url, other)
    gone = Store.open("postgresql+asyncpg://postgres@127.0.0.1:1/steadfast", other)
    try:
        base = await watched(wrong)
        assert await get(base + "/readyz") == (
            503, "not ready: the master keys do not open the database\n")
        assert (await get(base + "/healthz"))[0] == 200  # up, just not ready
        assert (await get(base + "/metrics"))[0] == 404  # metrics are off by default
        base = await watched(gone)
        assert await get(base + "/readyz") == (503, "not ready: the database does not answer\n")
        base = await watched(store)
        assert await get(base + "/readyz") == (200, "ready\n")
    finally:
        await wrong.close()
        await gone.close()


async def test_while_polling_the_routes_have_their_own_server(
        emulator: Any, sqlite_database: Database, ring: MasterKeyring, clock: FakeClock) -> None:
    from tests.e2e import InProcessBot

    port = free_port()
    bot = await InProcessBot(bot_settings(emulator, sqlite_database.url, ring,
                                          scheduler_enabled=False, metrics_enabled=True,
                                          metrics_port=port), clock=clock).start()
    try:
        base = f"http://127.0.0.1:{port}"

        async def answers() -> bool:
            try:
                return (await get(base + "/healthz"))[0] == 200
            except aiohttp.ClientConnectionError:
                return False

        await eventually(answers)
        assert await get(base + "/readyz") == (200, "ready\n")
        status, text = await get(base + "/metrics")
        assert status == 200 and "steadfast_updates_handled_total" in text
    finally:
        await bot.stop()


def test_the_shipped_alert_rules_parse_and_name_metrics_that_exist() -> None:
    """deploy/prometheus/steadfast-alerts.yml: valid rule groups, the two alerts that
    matter, and every metric an expression reads is one Steadfast serves."""
    import re
    import shutil
    import subprocess
    from pathlib import Path

    import yaml

    from app.observability import GAUGES, PREFIX
    from journal.telemetry import EVENTS

    path = Path(__file__).resolve().parents[1] / "deploy/prometheus/steadfast-alerts.yml"
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    rules = [rule for group in document["groups"] for rule in group["rules"]]
    assert [g["name"] for g in document["groups"]] == ["steadfast"]
    assert {r["alert"] for r in rules} == {"SteadfastAlertUndelivered", "SteadfastDeadLetter"}
    served = set(GAUGES) | {
        PREFIX + name + ("_total" if kind == "counter" else "")
        for name, (kind, _, _) in EVENTS.items()}
    for rule in rules:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}
        assert rule["annotations"]["summary"] and rule["labels"]["severity"]
        named = set(re.findall(r"steadfast_[a-z_]+", rule["expr"]))
        assert named and named <= served, rule["expr"]
        assert re.fullmatch(r"\d+[smh]", str(rule.get("for", "0s")))
    undelivered = next(r for r in rules if r["alert"] == "SteadfastAlertUndelivered")
    assert "> 300" in undelivered["expr"]  # five minutes, in the gauge's seconds
    promtool = shutil.which("promtool")  # Debian's prometheus package, where installed
    if promtool is not None:
        checked = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True,
                                 text=True, timeout=60)
        assert checked.returncode == 0, checked.stdout + checked.stderr


async def test_a_count_waits_for_the_commit_and_a_rollback_drops_it(store: Store) -> None:
    """What `after_commit` reports happened: a rolled-back unit of work reports nothing."""
    seen: list[str] = []
    async with store.unit_of_work() as uow:
        uow.after_commit(lambda: seen.append("rolled back"))
        await uow.rollback()
        await uow.commit()  # a later commit of the same unit does not bring it back
    async with store.unit_of_work() as uow:
        uow.after_commit(lambda: seen.append("abandoned"))  # never committed
    async with store.transaction() as uow:
        uow.after_commit(lambda: seen.append("committed"))
        assert seen == []  # not before the commit
    assert seen == ["committed"]


async def test_an_alert_stuck_five_minutes_shows_on_every_instance_and_its_mail_is_counted(
        watched: Any, store: Store, database: Database, ring: MasterKeyring, clock: FakeClock,
        mailbox: Any) -> None:
    """Telegram never took a critical alert: past five minutes both instances' scrapes say
    so (the shipped rule's threshold), and the e-mail fallback that goes out is counted."""
    from tests.test_email_fallback import crisis_alert, fallback, staff

    _lane, client = await staff(store, clock)
    await crisis_alert(store, clock, client)
    clock.advance(minutes=5, seconds=30)
    other = Store.open(database.url, ring)  # a second instance's own store
    try:
        first, second = await watched(store, metrics_enabled=True), await watched(
            other, metrics_enabled=True)
        scrapes = [samples((await get(base + "/metrics"))[1]) for base in (first, second)]
        gauges = [{k: v for k, v in s.items()
                   if k[0] in ("steadfast_outbox_messages",
                               "steadfast_oldest_undelivered_alert_seconds")} for s in scrapes]
        assert gauges[0] == gauges[1]  # the database's truth, whichever instance is asked
        assert total(scrapes[0], "steadfast_oldest_undelivered_alert_seconds") == 330 > 300
        assert total(scrapes[0], "steadfast_outbox_messages", kind="alert", state="queued") == 1
        before = total(scrapes[0], "steadfast_email_fallbacks_sent_total")
        assert await fallback(store, clock, mailbox).run_once() == 1
        assert len(mailbox.all()) == 1
        after = samples((await get(first + "/metrics"))[1])
        assert total(after, "steadfast_email_fallbacks_sent_total") == before + 1
    finally:
        await other.close()
