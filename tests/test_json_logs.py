"""STEADFAST_LOG_FORMAT=json: `steadfast run` writes one JSON object per line, naming the
update and the client's code where there is one, and still nothing a person typed."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from journal.clock import FakeClock
from storage.crypto import MasterKeyring
from storage.uow import Store
from tests.conftest import Database
from tests.e2e import ChildBot, bot_settings, eventually
from tests.helpers import make_clinician
from tests.stories import Phone, enrolled_client

CLINICIAN, CLIENT = 7500461, 8500462


async def test_a_story_logs_json_lines_with_update_and_client_and_no_text(
        emulator: Any, sqlite_database: Database, ring: MasterKeyring, clock: FakeClock,
        tmp_path: Path) -> None:
    canary = f"CANARY-{uuid.uuid4().hex[:12]}"
    store = Store.open(sqlite_database.url, ring)
    clinician = await make_clinician(store, clock, telegram_id=CLINICIAN)
    client = await enrolled_client(store, clock, clinician, CLIENT)
    await store.close()
    emulator.person(CLINICIAN, "Lane")
    emulator.person(CLIENT, "Sam")
    settings = bot_settings(emulator, sqlite_database.url, ring)
    child = ChildBot(settings, tmp_path, extra_env={
        "STEADFAST_LOG_FORMAT": "json", "STEADFAST_LOG_LEVEL": "DEBUG",
        "STEADFAST_SCHEDULER_ENABLED": "false"}).start()
    try:
        await child.wait_ready()
        sent = await emulator.send_command(CLIENT, "/journal")
        await emulator.wait_for_message(CLIENT, contains="Done", after=sent.message_id)
        await emulator.send_text(CLIENT, f"journal {canary}")
        await eventually(lambda: len(emulator.deleted(CLIENT)) >= 1)
        phone = Phone(emulator, CLIENT)
        await phone.checkin()
        for label in ("No", "2", "None", "No", "7", "No", "No", "No", "Yes"):
            await phone.press(label)
        await phone.type(f"what happened {canary}")
        await eventually(lambda: len(emulator.deleted(CLIENT)) >= 2)
        await emulator.send_text(CLINICIAN, "/invite")
        await emulator.wait_for_message(CLINICIAN, contains="t.me/")
    finally:
        assert await child.terminate() == 0

    lines = child.log_text().splitlines()
    assert len(lines) > 20
    records = []
    for line in lines:
        record = json.loads(line)  # every line, from every library: one JSON object
        assert isinstance(record, dict), line
        assert {"time", "level", "logger", "event"} <= set(record), line
        records.append(record)
    assert records[0]["time"].endswith("+00:00") and records[0]["level"] in ("DEBUG", "INFO")
    assert any(r["event"].startswith("Steadfast is running as @") for r in records)
    about_updates = [r for r in records if "update_id" in r]
    assert about_updates and all(isinstance(r["update_id"], int) for r in about_updates)
    handled = [r for r in about_updates if r["logger"] == "bot.middleware"
               and " handled in " in r["event"]]
    assert len(handled) >= 12  # /journal, the text, /checkin, nine presses, the typing, /invite
    assert {r["update_id"] for r in handled} >= {r["update_id"] for r in about_updates
                                                 if r.get("client")}
    by_client = [r for r in handled if r.get("client") == client.code]
    assert len(by_client) >= 11 and all(str(r["update_id"]) in r["event"] for r in by_client)
    clinician_lines = [r for r in handled if "client" not in r]
    assert clinician_lines  # the clinician's /invite names no client
    text = "\n".join(lines)
    assert canary not in text  # nothing typed reaches the log
    # No Telegram id in Steadfast's own lines, as in the text log. (At DEBUG, aiosqlite's
    # query log shows statement parameters, ids among them, in either format.)
    own = [json.dumps(r) for r in records
           if r["logger"].split(".")[0] in ("bot", "journal", "scheduler", "storage")]
    assert own and not any(str(CLIENT) in line or str(CLINICIAN) in line for line in own)


def test_an_exception_is_named_by_its_class_only() -> None:
    """A traceback or an exception's message may quote data (pydantic quotes its input):
    a JSON line carries the class alone, and one line stays one line."""
    import io
    import logging

    from app import logs

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    logger = logging.getLogger("tests.json_logs")
    logger.addHandler(handler)
    logger.propagate = False
    token = logs.update_id.set(41)
    try:
        try:
            raise ValueError("secret answer: walked past the park")
        except ValueError:
            logger.exception("update %s failed:\nsecond line", 41)
    finally:
        logs.update_id.reset(token)
        logger.removeHandler(handler)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert record["error"] == "ValueError" and record["update_id"] == 41
    assert record["event"] == "update 41 failed:\nsecond line" and "client" not in record
    assert "walked past" not in lines[0] and "Traceback" not in lines[0]
