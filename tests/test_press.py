"""What a press costs and how its replies go out: within the bot's one rate limiter (replies
first), delivery woken by a commit instead of a fast poll, aiogram's answer models kept."""

from __future__ import annotations

import asyncio
import gc
import json
import weakref
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.telegram import TelegramAPIServer
from aiogram.methods import AnswerCallbackQuery, EditMessageText, SendMessage, SendPhoto
from aiogram.methods.base import Response
from aiogram.types import BufferedInputFile, InlineKeyboardButton, InlineKeyboardMarkup
from sqlalchemy import event
from sqlalchemy.engine import Engine

from app import logs
from bot.delivery import DeliveryWorker, RateLimiter
from bot.telegram_session import TelegramSession, json_body, response_type
from journal.alerts.rules import Finding
from journal.alerts.rules_file import load_rules
from journal.alerts.service import AlertService
from journal.checkin.questionnaire_file import load_questionnaire
from journal.clock import FakeClock, SystemClock
from storage.crypto import MasterKeyring
from storage.uow import Store
from tests.conftest import Database
from tests.e2e import InProcessBot, bot_settings, eventually
from tests.helpers import make_client, make_clinician
from tests.stories import Phone, enrolled_client

CLINICIAN, CLIENT = 7001, 8001


# -- aiogram's answer models -------------------------------------------------------------

def test_an_answer_model_is_built_once_and_kept_for_the_next_call() -> None:
    returning = EditMessageText.__returning__
    kept = response_type(returning)
    alive = weakref.ref(kept)
    del kept
    gc.collect()
    assert alive() is not None  # pydantic's own cache alone would have let it go
    assert Response[returning] is alive()  # so aiogram's lookup is a cache hit
    assert response_type(returning) is alive()


async def test_the_bots_session_keeps_the_models_of_the_calls_it_made(emulator: Any) -> None:
    bot = Bot(token=emulator.token,
              session=TelegramSession(api=TelegramAPIServer.from_base(emulator.base_url)))
    try:
        emulator.person(CLIENT, "Sam")
        await emulator.send_text(CLIENT, "/start")
        await bot.send_message(chat_id=CLIENT, text="hello")
    finally:
        await bot.session.close()
    from bot.telegram_session import _RESPONSE_TYPES
    assert any("Message" in str(t) for t in _RESPONSE_TYPES)  # sendMessage's, kept


async def test_a_call_without_a_file_goes_as_one_json_body_with_the_forms_values(
        emulator: Any) -> None:
    """The values aiogram's form would send, as JSON: the bot's defaults filled in, None
    left out at every level, a keyboard nested rather than a string; a file still goes as
    aiogram's multipart form, and Telegram (the emulator) reads both."""
    bot = Bot(token=emulator.token, default=DefaultBotProperties(parse_mode="HTML"),
              session=TelegramSession(api=TelegramAPIServer.from_base(emulator.base_url)))
    keyboard = InlineKeyboardMarkup(inline_keyboard=[[
        InlineKeyboardButton(text="Yes", callback_data="ck:a:20260105:1:1")]])
    body = json_body(bot, SendMessage(chat_id=CLIENT, text="Hello <b>Sam</b>",
                                      reply_markup=keyboard))
    assert body is not None
    assert json.loads(body) == {
        "chat_id": CLIENT, "text": "Hello <b>Sam</b>", "parse_mode": "HTML",
        "reply_markup": {"inline_keyboard": [[{"text": "Yes",
                                               "callback_data": "ck:a:20260105:1:1"}]]}}
    assert json.loads(json_body(bot, AnswerCallbackQuery(callback_query_id="7")) or b"") == {
        "callback_query_id": "7"}
    assert json_body(bot, SendPhoto(chat_id=CLIENT, photo=BufferedInputFile(
        b"\x89PNG", filename="chart.png"))) is None
    try:
        emulator.person(CLIENT, "Sam")
        await emulator.send_text(CLIENT, "/start")
        sent = await bot.send_message(chat_id=CLIENT, text="Hello <b>Sam</b>",
                                      reply_markup=keyboard)
        await bot.send_document(chat_id=CLIENT, document=BufferedInputFile(
            b"%PDF-1.4", filename="report.pdf"))
    finally:
        await bot.session.close()
    shown = next(m for m in emulator.chat(CLIENT) if m.message_id == sent.message_id)
    assert shown.text == "Hello Sam"  # the HTML was read as HTML
    assert shown.buttons[0][0].callback_data == "ck:a:20260105:1:1"
    assert emulator.chat(CLIENT)[-1].document is not None


# -- the statements of one press -----------------------------------------------------------

async def test_a_press_is_one_transaction_that_reads_each_row_once(
        emulator: Any, database: Database, ring: MasterKeyring, clock: FakeClock) -> None:
    """What each update sends the database, counted per update (the update id is a context
    variable while it is handled): a press claims its update id, finds who pressed (their
    key and plan come along), reads its day once, saves it, commits once. A typed answer
    adds only the look for another conversation that may have the typing."""
    store = Store.open(database.url, ring)
    async with store.transaction() as uow:
        clinician = await uow.clinicians.add(telegram_id=CLINICIAN, name="Dr Lane",
                                             role="clinician", now=clock.now())
    await enrolled_client(store, clock, clinician, CLIENT, coping_steps=("Call my sponsor",))
    emulator.person(CLIENT, "Sam")
    settings = bot_settings(emulator, database.url, ring, scheduler_enabled=False)
    bot = await InProcessBot(settings, clock=clock).start()
    statements: dict[int, list[str]] = defaultdict(list)
    commits: dict[int, int] = defaultdict(int)

    def ours(connection: Any) -> int | None:
        same = str(connection.engine.url) == str(store.engine.url)
        return logs.update_id.get() if same else None

    def executed(connection: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if (update := ours(connection)) is not None:
            statements[update].append(statement.split(None, 2)[:2][0])

    def committed(connection: Any) -> None:
        if (update := ours(connection)) is not None:
            commits[update] += 1

    phone = Phone(emulator, CLIENT)
    try:
        await phone.checkin()
        first = emulator._next_update_id  # the presses' updates; /checkin's came before
        event.listen(Engine, "before_cursor_execute", executed)
        event.listen(Engine, "commit", committed)
        try:
            for label in ("No", "4", "« Back", "5", "Some of the day", "No", "No", "7",
                          "No", "No", "No", "Yes"):  # the last one shows a free-text item
                await phone.press(label)
            await phone.type("Walked past the school, turned back home")
        finally:
            event.remove(Engine, "before_cursor_execute", executed)
            event.remove(Engine, "commit", committed)
    finally:
        await bot.stop()
        await store.close()
    # asyncpg begins without a statement; PostgreSQL's claim also takes the advisory lock.
    claim = ["WITH"] if store.postgres else ["BEGIN", "INSERT"]
    ids = sorted(u for u in statements if u >= first)
    *presses, typed = [statements[u] for u in ids]
    assert len(presses) == 12
    for press in presses:  # the update id, who, the day, its save
        assert press == [*claim, "SELECT", "SELECT", "UPDATE"]
    assert typed == [*claim, "SELECT", "SELECT", "SELECT", "UPDATE"]  # + conversation
    assert [commits[u] for u in ids] == [1] * len(ids)


# -- one limiter, replies first ----------------------------------------------------------

async def test_a_second_message_to_one_chat_waits_its_interval_and_an_edit_does_not() -> None:
    limiter = RateLimiter(chat_interval=0.3)
    loop = asyncio.get_running_loop()
    first = await limiter.acquire(CLIENT, reply=True)
    limiter.done(CLIENT, first)
    began = loop.time()
    edit = await limiter.acquire(CLIENT, per_chat=False, reply=True)
    limiter.done(CLIENT, edit)
    assert loop.time() - began < 0.1  # an edit in place keeps only the overall limit
    second = await limiter.acquire(CLIENT, reply=True)
    assert loop.time() - began >= 0.29
    limiter.done(CLIENT, second)


async def test_replies_go_before_bulk_sends_when_the_window_is_full() -> None:
    limiter = RateLimiter(per_second=2, chat_interval=0.0)
    for chat in (1, 2):  # the window is full for a second
        limiter.done(chat, await limiter.acquire(chat))
    order: list[str] = []

    async def send(name: str, chat: int, reply: bool) -> None:
        limiter.done(chat, await limiter.acquire(chat, reply=reply))
        order.append(name)

    bulk = asyncio.create_task(send("prompt", 3, False))
    await asyncio.sleep(0.05)  # the prompt waits first
    reply = asyncio.create_task(send("reply", 4, True))
    await asyncio.gather(bulk, reply)
    assert order == ["reply", "prompt"]


async def test_a_reply_waiting_for_its_own_chat_holds_up_nobody_else() -> None:
    limiter = RateLimiter(chat_interval=1.0)
    limiter.done(CLIENT, await limiter.acquire(CLIENT, reply=True))
    waiting = asyncio.create_task(limiter.acquire(CLIENT, reply=True))
    await asyncio.sleep(0.05)
    loop = asyncio.get_running_loop()
    began = loop.time()
    limiter.done(CLINICIAN, await limiter.acquire(CLINICIAN))  # a bulk send, another chat
    assert loop.time() - began < 0.3
    limiter.done(CLIENT, await waiting)


# -- the crisis path within Telegram's per-chat limit -------------------------------------

@pytest.fixture
async def checkin_world(emulator: Any, sqlite_database: Database, ring: MasterKeyring,
                        clock: FakeClock) -> AsyncIterator[dict[str, Any]]:
    emulator.enforce_limits = True
    store = Store.open(sqlite_database.url, ring)
    async with store.transaction() as uow:
        clinician = await uow.clinicians.add(telegram_id=CLINICIAN, name="Dr Lane",
                                             role="clinician", now=clock.now(),
                                             contact="Dr Lane, 555-0100")
    emulator.person(CLINICIAN, "Lane")
    await emulator.send_text(CLINICIAN, "/start")
    emulator.person(CLIENT, "Sam")
    settings = bot_settings(emulator, sqlite_database.url, ring, scheduler_enabled=False)
    bot = await InProcessBot(settings, clock=clock).start()
    try:
        yield {"emu": emulator, "store": store, "clock": clock, "clinician": clinician,
               "phone": Phone(emulator, CLIENT), "url": sqlite_database.url}
    finally:
        await bot.stop()
        await store.close()


async def test_the_crisis_resources_and_the_check_in_below_them_keep_the_chats_limit(
        checkin_world: dict[str, Any]) -> None:
    emu, phone = checkin_world["emu"], checkin_world["phone"]
    await enrolled_client(checkin_world["store"], checkin_world["clock"],
                          checkin_world["clinician"], CLIENT)
    await phone.checkin()
    for label in ("No", "2", "None", "No", "8"):
        await phone.press(label)
    await asyncio.sleep(1.1)  # the check-in's own message is a second old
    await phone.press("Yes")  # self-harm: the resources, then the check-in below them
    await emu.wait_for_message(CLIENT, contains="help is available")
    await eventually(lambda: (m := phone.checkin_message()) is not None
                     and "conflict or a loss" in m.text)
    sends = [c for c in emu.calls if c.method == "sendMessage" and c.chat_id == CLIENT]
    assert [c.error_code for c in sends] == [None] * len(sends)  # no 429 at all
    assert emu.violations == 0
    crisis, following = sends[-2:]
    assert following.time - crisis.time >= 0.95
    alert = await eventually(lambda: [m for m in emu.chat(CLINICIAN)
                                      if m.from_bot and "alert for client" in m.text])
    assert alert  # the clinician heard at once, beside the client's pacing


# -- delivery woken by a commit; an idle bot commits little --------------------------------

async def test_a_queued_row_is_delivered_without_waiting_for_the_poll(
        emulator: Any, sqlite_database: Database, ring: MasterKeyring) -> None:
    store = Store.open(sqlite_database.url, ring)
    clock = SystemClock()
    clinician = await make_clinician(store, clock, telegram_id=CLINICIAN)  # type: ignore[arg-type]
    client = await make_client(store, clock, clinician, telegram_id=CLIENT)  # type: ignore[arg-type]
    emulator.person(CLINICIAN, "Lane")
    await emulator.send_text(CLINICIAN, "/start")
    q = load_questionnaire()
    alerts = AlertService(clock=clock, questionnaire=q, rules=load_rules(questionnaire=q))
    bot = Bot(token=emulator.token,
              session=TelegramSession(api=TelegramAPIServer.from_base(emulator.base_url)))
    worker = DeliveryWorker(store=store, bot=bot, clock=clock, alerts=alerts,
                            poll_interval=30.0)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        await asyncio.sleep(0.3)  # the first look found nothing; the next is 30 s away
        loop = asyncio.get_running_loop()
        began = loop.time()
        async with store.transaction() as uow:
            await alerts.raise_alert(uow, client, findings=[Finding("lapse", "high", "LAPSE")],
                                     checkin_id=None, answers={})
        await eventually(lambda: [m for m in emulator.chat(CLINICIAN)
                                  if m.from_bot and "alert for client" in m.text], timeout=10)
        assert loop.time() - began < 5.0  # well under the 30 s poll
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
        await bot.session.close()
        await store.close()


async def test_an_idle_bot_commits_few_transactions(
        emulator: Any, sqlite_database: Database, ring: MasterKeyring, clock: FakeClock) -> None:
    settings = bot_settings(emulator, sqlite_database.url, ring, scheduler_enabled=False)
    bot = await InProcessBot(settings, clock=clock).start()
    commits: list[object] = []

    def counted(connection: Any) -> None:
        if str(connection.engine.url) == str(sqlite_database.url):
            commits.append(connection)

    await asyncio.sleep(1.0)  # start-up (menus) is over
    event.listen(Engine, "commit", counted)
    try:
        await asyncio.sleep(4.0)
    finally:
        event.remove(Engine, "commit", counted)
        await bot.stop()
    assert len(commits) <= 4  # a look every 1.5 s; the 0.25 s poll made 16
