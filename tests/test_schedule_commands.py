"""Stories of clinicians setting a client's schedule, pausing and resuming, and of the client
choosing their own time within the window the clinician allows."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from journal.checkin.schedule import (
    parse_days,
    parse_pause,
    parse_schedule,
    parse_window,
    within_window,
)
from journal.clock import FakeClock
from journal.errors import InvalidInput
from storage.crypto import MasterKeyring
from storage.records import Client
from storage.uow import Store
from tests.conftest import Database
from tests.e2e import InProcessBot, bot_settings
from tests.helpers import make_clinician
from tests.stories import enrolled_client

CLINICIAN = 7001
SUPERVISOR = 7002
OTHER = 7003
CLIENT = 8001
NO_CLIENT = "No client with that code is in your caseload."

# ------------------------------------------------------------------------ pure parsing


@pytest.mark.parametrize(("spec", "days"), [
    ("daily", "0123456"), ("weekdays", "01234"), ("weekends", "56"), ("mon-fri", "01234"),
    ("mon,wed,fri", "024"), ("fri-mon", "0456"), ("Monday", "0"), ("mon-wed,sat", "0125"),
])
def test_days_are_read_the_way_clinicians_write_them(spec: str, days: str) -> None:
    assert parse_days(spec) == days


@pytest.mark.parametrize("args", [
    None, "", "ABC-12", "ABC-12 25:00", "ABC-12 19:00 someday", "ABC-12 19:00 mon,,fri",
    "ABC-12 19:00 weekdays window", "ABC-12 19:00 window 18:00", "ABC-12 19:00 weekdays extra",
    "ABC-12 19:00 window 18:00-18:00",
])
def test_a_malformed_schedule_command_is_refused(args: str | None) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_schedule(args)
    assert caught.value.key == "schedule.usage"


def test_a_schedule_command_is_parsed() -> None:
    request = parse_schedule("abc-12 7:30 mon-fri window 06:00-10:00")
    assert (request.code, request.checkin_time, request.days, request.window) == (
        "ABC-12", "07:30", "01234", ("06:00", "10:00"))
    assert parse_schedule("ABC-12 19:00 window off").clear_window
    assert parse_window("22:00-02:00") == ("22:00", "02:00")


def test_a_pause_takes_a_reason_code_and_no_free_text() -> None:
    assert parse_pause("abc-12 Hospital") == ("ABC-12", "hospital")
    for args in ("ABC-12", "ABC-12 holiday", "ABC-12 hospital after an overdose"):
        with pytest.raises(InvalidInput):
            parse_pause(args)


def test_a_window_may_wrap_past_midnight() -> None:
    assert within_window("19:00", None, None)
    assert within_window("18:00", "18:00", "22:00") and within_window("22:00", "18:00", "22:00")
    assert not within_window("22:01", "18:00", "22:00")
    assert within_window("23:30", "22:00", "02:00") and within_window("01:00", "22:00", "02:00")
    assert not within_window("12:00", "22:00", "02:00")


# ------------------------------------------------------------------------ through the bot


@pytest.fixture
async def world(emulator: Any, sqlite_database: Database, ring: MasterKeyring,
                clock: FakeClock) -> AsyncIterator[dict[str, Any]]:
    store = Store.open(sqlite_database.url, ring)
    lane = await make_clinician(store, clock, telegram_id=CLINICIAN, name="Dr Lane")
    await make_clinician(store, clock, telegram_id=SUPERVISOR, name="Dr Sup", role="supervisor")
    await make_clinician(store, clock, telegram_id=OTHER, name="Dr Other")
    client = await enrolled_client(store, clock, lane, CLIENT)
    for person, name in ((CLINICIAN, "Lane"), (SUPERVISOR, "Sup"), (OTHER, "Other"),
                         (CLIENT, "Sam")):
        emulator.person(person, name)
    # The clock does not move in these stories, but the scheduler is not their subject.
    settings = bot_settings(emulator, sqlite_database.url, ring, scheduler_enabled=False)
    bot = await InProcessBot(settings, clock=clock).start()
    try:
        yield {"emu": emulator, "store": store, "client": client}
    finally:
        await bot.stop()
        await store.close()


async def say(emu: Any, user_id: int, text: str, contains: str | None = None) -> str:
    sent = await emu.send_text(user_id, text)
    reply = await emu.wait_for_message(user_id, contains=contains, after=sent.message_id)
    return str(reply.text)


async def stored(store: Store, client: Client) -> Client:
    async with store.unit_of_work() as uow:
        found = await uow.clients.get(client.id)
    assert found is not None
    return found


async def audit_actions(store: Store, client: Client) -> list[tuple[str, str]]:
    async with store.unit_of_work() as uow:
        return [(e.actor, e.action) for e in await uow.audit_events(client_id=client.id)
                if e.action.startswith("client.")]


async def test_a_clinician_sets_time_days_and_window_and_the_client_is_told(
        world: dict[str, Any]) -> None:
    emu, store, client = world["emu"], world["store"], world["client"]
    await emu.send_text(CLIENT, "/start")  # the client's chat exists
    reply = await say(emu, CLINICIAN, f"/schedule {client.code.lower()} 19:00 weekdays "
                      "window 18:00-22:00", contains=client.code)
    assert "19:00 (Europe/Madrid)" in reply and "Mon, Tue, Wed, Thu, Fri" in reply
    assert "between 18:00 and 22:00" in reply
    now = await stored(store, client)
    assert (now.checkin_time, now.checkin_days, now.window_start, now.window_end) == (
        "19:00", "01234", "18:00", "22:00")
    assert await audit_actions(store, client) == [("clinician:1", "client.schedule")]
    told = await emu.wait_for_message(CLIENT, contains="Your daily check-in time changed.")
    assert "19:00" in told.text and "Mon, Tue, Wed, Thu, Fri" in told.text

    # The time alone can change later; days and window stay as they were.
    reply = await say(emu, CLINICIAN, f"/schedule {client.code} 21:00", contains=client.code)
    now = await stored(store, client)
    assert (now.checkin_time, now.checkin_days, now.window_start) == ("21:00", "01234", "18:00")
    # A time outside the window needs the window changed too.
    reply = await say(emu, CLINICIAN, f"/schedule {client.code} 07:00", contains="window")
    assert "must fall within" in reply
    assert (await stored(store, client)).checkin_time == "21:00"
    reply = await say(emu, CLINICIAN, f"/schedule {client.code} 07:00 daily window off",
                      contains=client.code)
    assert "any time of day" in reply and "every day" in reply


async def test_another_clinicians_client_looks_exactly_like_a_missing_code(
        world: dict[str, Any]) -> None:
    emu, store, client = world["emu"], world["store"], world["client"]
    answers = [
        await say(emu, OTHER, f"/schedule {client.code} 19:00"),
        await say(emu, OTHER, f"/pause {client.code} hospital"),
        await say(emu, OTHER, f"/resume {client.code}"),
        await say(emu, OTHER, "/schedule ZZZ-99 19:00"),
        await say(emu, OTHER, "/pause ZZZ-99 hospital"),
    ]
    assert answers == [NO_CLIENT] * 5
    now = await stored(store, client)
    assert (now.checkin_time, now.status) == ("20:00", "active")
    assert await audit_actions(store, client) == []
    # A supervisor sees every caseload.
    reply = await say(emu, SUPERVISOR, f"/schedule {client.code} 19:30", contains=client.code)
    assert "19:30" in reply
    assert await audit_actions(store, client) == [("clinician:2", "client.schedule")]


async def test_a_client_cannot_use_clinician_commands(world: dict[str, Any]) -> None:
    emu, client = world["emu"], world["client"]
    reply = await say(emu, CLIENT, f"/pause {client.code} hospital")
    assert "not available" in reply


async def test_pause_and_resume_with_a_reason_code_only(world: dict[str, Any]) -> None:
    emu, store, client = world["emu"], world["store"], world["client"]
    reply = await say(emu, CLINICIAN, f"/pause {client.code} hospital", contains=client.code)
    assert "paused (in hospital)" in reply and f"/resume {client.code}" in reply
    now = await stored(store, client)
    assert (now.status, now.pause_reason) == ("paused", "hospital")
    assert now.paused_at is not None

    reply = await say(emu, CLINICIAN, f"/pause {client.code} hospital after an overdose")
    assert "Only these short reasons are stored" in reply
    assert (await stored(store, client)).pause_reason == "hospital"

    reply = await say(emu, CLINICIAN, f"/schedule {client.code} 19:00", contains=client.code)
    assert "stay paused" in reply
    reply = await say(emu, CLINICIAN, f"/resume {client.code}", contains=client.code)
    assert "active again" in reply and "not counted as missed" in reply
    now = await stored(store, client)
    assert (now.status, now.pause_reason, now.paused_at) == ("active", None, None)
    reply = await say(emu, CLINICIAN, f"/resume {client.code}", contains=client.code)
    assert "is not paused" in reply
    reply = await say(emu, CLINICIAN, "/resume")
    assert reply == "Use: /resume CODE"
    assert [action for _, action in await audit_actions(store, client)] == [
        "client.pause", "client.schedule", "client.resume"]


async def test_a_client_chooses_a_time_only_inside_the_window(world: dict[str, Any]) -> None:
    emu, store, client = world["emu"], world["store"], world["client"]
    opened = await emu.send_text(CLIENT, "/help")  # the client's chat with the bot is open
    await emu.wait_for_message(CLIENT, after=opened.message_id)
    await say(emu, CLINICIAN, f"/schedule {client.code} 19:00 window 18:00-22:00",
              contains=client.code)
    # The client's notice of the change comes through the outbox: let it arrive first, so
    # it is not taken for the answer to what the client types next.
    await emu.wait_for_message(CLIENT, contains="Your daily check-in time changed.")
    sent = await emu.send_text(CLIENT, "/time")
    offer = await emu.wait_for_message(CLIENT, contains="Pick a new time", after=sent.message_id)
    assert "between 18:00 and 22:00" in offer.text
    labels = [b.text for row in offer.buttons for b in row]
    assert labels == ["18:00", "20:00", "21:00", "Keep 19:00"]

    reply = await say(emu, CLIENT, "08:00")
    assert "between 18:00 and 22:00" in reply and "such as 18:00" in reply
    assert (await stored(store, client)).checkin_time == "19:00"
    reply = await say(emu, CLIENT, "21:30")  # still waiting for a time: this one fits
    assert "now comes at 21:30" in reply
    assert (await stored(store, client)).checkin_time == "21:30"


async def test_schedule_input_mistakes_get_the_usage(world: dict[str, Any]) -> None:
    emu, client = world["emu"], world["client"]
    for command in (f"/schedule {client.code} 25:00", f"/schedule {client.code} 19:00 someday",
                    "/schedule"):
        reply = await say(emu, CLINICIAN, command)
        assert reply.startswith("Use: /schedule CODE HH:MM"), command
