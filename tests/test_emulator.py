"""Tests of the Bot API emulator, driven through a real aiogram Bot over real HTTP."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiogram import Bot, Dispatcher, F, Router
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.filters import CommandObject, CommandStart
from aiogram.types import (
    BotCommand,
    BotCommandScopeChat,
    BufferedInputFile,
    CallbackQuery,
    File,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
    User,
    WebhookInfo,
)
from aiohttp import web

from telegram_emulator import BotAPIEmulator, EmulatorAssertionError
from telegram_emulator.formatting import EntityParseError, parse_text

TOKEN = "123456:TEST-TOKEN"
ANA, BEN = 1001, 1002


def keyboard(*labels: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text=t, callback_data=f"cb:{t}") for t in labels]]
    )


def make_bot(emu: BotAPIEmulator, token: str = TOKEN) -> Bot:
    return Bot(token, session=AiohttpSession(api=TelegramAPIServer.from_base(emu.base_url)))


@pytest.fixture
async def emu() -> AsyncIterator[BotAPIEmulator]:
    emulator = BotAPIEmulator(token=TOKEN, webhook_retry_delay=0.05)
    await emulator.start()
    emulator.person(ANA, "Ana", language_code="es")
    emulator.person(BEN, "Ben")
    yield emulator
    await emulator.stop()


@pytest.fixture
async def bot(emu: BotAPIEmulator) -> AsyncIterator[Bot]:
    client = make_bot(emu)
    yield client
    await client.session.close()


async def started(emu: BotAPIEmulator, bot: Bot, *user_ids: int) -> None:
    """People write /start and the bot confirms those updates, like a polling loop would."""
    for user_id in user_ids:
        await emu.send_command(user_id, "/start")
    updates = await bot.get_updates()
    await bot.get_updates(offset=updates[-1].update_id + 1)


# ---------------------------------------------------------------- HTTP surface


async def test_get_me_and_http_surface(emu: BotAPIEmulator, bot: Bot) -> None:
    me = await bot.get_me()
    assert isinstance(me, User)
    assert (me.id, me.is_bot, me.username) == (123456, True, "steadfast_test_bot")

    wrong = make_bot(emu, "123456:WRONG")
    try:
        with pytest.raises(TelegramUnauthorizedError):
            await wrong.get_me()
    finally:
        await wrong.session.close()

    async with aiohttp.ClientSession() as http:
        async with http.post(f"{emu.base_url}/bot{TOKEN}/noSuchMethod") as resp:
            assert resp.status == 404
            assert await resp.json() == {"ok": False, "error_code": 404,
                                         "description": "Not Found"}
        async with http.post(f"{emu.base_url}/bot{TOKEN}/GETME") as resp:
            assert (await resp.json())["result"]["id"] == 123456
        # Telegram also takes JSON bodies; values then keep their JSON types.
        await emu.send_text(ANA, "hi")
        async with http.post(f"{emu.base_url}/bot{TOKEN}/sendmessage",
                             json={"chat_id": ANA, "text": "json body"}) as resp:
            body = await resp.json()
            assert body["ok"] is True and body["result"]["text"] == "json body"
    assert emu.calls[-1].method == "sendMessage"


async def test_person_updates_validate_as_aiogram_types(emu: BotAPIEmulator, bot: Bot) -> None:
    await emu.send_command(ANA, "/start abc123")
    await emu.send_sticker(ANA)
    await emu.send_photo(ANA, caption="look")
    await emu.send_voice(ANA, duration=3)
    updates = await bot.get_updates()
    assert all(isinstance(u, Update) for u in updates)
    ids = [u.update_id for u in updates]
    assert ids == list(range(ids[0], ids[0] + 4))
    start, sticker, photo, voice = (u.message for u in updates)
    assert start is not None and start.text == "/start abc123"
    assert start.entities is not None and start.entities[0].type == "bot_command"
    assert start.entities[0].length == len("/start")
    assert start.from_user is not None and start.from_user.language_code == "es"
    assert sticker is not None and sticker.sticker is not None
    assert photo is not None and photo.photo and photo.caption == "look"
    assert voice is not None and voice.voice is not None and voice.voice.duration == 3
    assert [m.message_id for m in emu.chat(ANA)] == [1, 2, 3, 4]
    assert emu.transcript(ANA)[:2] == ["Ana: /start abc123", "Ana: [sticker 👍]"]


# ---------------------------------------------------------------- sending and editing


async def test_send_message_echoes_markup_and_counts_ids_per_chat(
    emu: BotAPIEmulator, bot: Bot
) -> None:
    await started(emu, bot, ANA, BEN)
    sent = await bot.send_message(ANA, "Welcome <b>Ana</b>", parse_mode="HTML",
                                  reply_markup=keyboard("I agree", "No, thanks"))
    assert isinstance(sent, Message)
    assert sent.message_id == 2  # shared numbering with Ana's /start
    assert sent.text == "Welcome Ana"
    assert sent.entities is not None and sent.entities[0].type == "bold"
    assert sent.from_user is not None and sent.from_user.is_bot
    assert isinstance(sent.reply_markup, InlineKeyboardMarkup)
    assert sent.reply_markup.inline_keyboard[0][1].callback_data == "cb:No, thanks"
    other = await bot.send_message(BEN, "Hello")
    assert other.message_id == 2

    last = emu.chat(ANA)[-1]
    assert last.from_bot and last.text == "Welcome Ana"
    assert [[b.text for b in row] for row in last.buttons] == [["I agree", "No, thanks"]]
    assert "Bot → Ana: Welcome Ana\n    [I agree] [No, thanks]" in emu.transcript()
    call = emu.calls_of("sendMessage")[0]
    assert call.chat_id == ANA
    assert call.params["reply_markup"]["inline_keyboard"][0][0]["text"] == "I agree"


async def test_send_errors(emu: BotAPIEmulator, bot: Bot) -> None:
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.send_message(ANA, "before Ana ever wrote")  # registered, never talked
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.send_message(424242, "nobody")
    await started(emu, bot, ANA)
    with pytest.raises(TelegramBadRequest, match="Bad Request: message text is empty"):
        await bot.send_message(ANA, "   ")
    with pytest.raises(TelegramBadRequest, match="Bad Request: message is too long"):
        await bot.send_message(ANA, "x" * 4097)
    assert (await bot.send_message(ANA, "x" * 4096)).text == "x" * 4096
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await bot.send_message(ANA, "hi", reply_markup=InlineKeyboardMarkup(inline_keyboard=[[
            InlineKeyboardButton(text="long", callback_data="é" * 33)]]))
    with pytest.raises(TelegramBadRequest, match="can't parse entities"):
        await bot.send_message(ANA, "1 <3 you", parse_mode="HTML")


async def test_edit_text_and_markup(emu: BotAPIEmulator, bot: Bot) -> None:
    await started(emu, bot, ANA)
    sent = await bot.send_message(ANA, "Question 1", reply_markup=keyboard("Yes", "No"))
    edited = await bot.edit_message_text("Question 2", chat_id=ANA, message_id=sent.message_id,
                                         reply_markup=keyboard("Yes", "No"))
    assert isinstance(edited, Message)
    assert edited.edit_date is not None and edited.text == "Question 2"
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_text("Question 2", chat_id=ANA, message_id=sent.message_id,
                                    reply_markup=keyboard("Yes", "No"))
    # Same text but the keyboard dropped is a real change.
    await bot.edit_message_text("Question 2", chat_id=ANA, message_id=sent.message_id)
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text("x", chat_id=ANA, message_id=999)
    with pytest.raises(TelegramBadRequest, match="message can't be edited"):
        await bot.edit_message_text("x", chat_id=ANA, message_id=1)  # Ana's own /start

    marked = await bot.edit_message_reply_markup(chat_id=ANA, message_id=sent.message_id,
                                                 reply_markup=keyboard("Done"))
    assert isinstance(marked, Message)
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_reply_markup(chat_id=ANA, message_id=sent.message_id,
                                            reply_markup=keyboard("Done"))
    message = emu.chat(ANA)[-1]
    assert message.edited and message.text == "Question 2" and message.button_texts == ["Done"]
    assert f"Bot edited message {sent.message_id} for Ana: Question 2" in emu.transcript()


async def test_edit_caption_and_remove_buttons(emu: BotAPIEmulator, bot: Bot) -> None:
    """The three edits share one helper: each keeps its own checks and transcript line."""
    await started(emu, bot, ANA)
    text = await bot.send_message(ANA, "Question 1", reply_markup=keyboard("Yes"))
    doc = await bot.send_document(ANA, BufferedInputFile(b"%PDF-1.4", "r.pdf"), caption="Old")
    with pytest.raises(TelegramBadRequest, match="there is no caption in the message to edit"):
        await bot.edit_message_caption(chat_id=ANA, message_id=text.message_id, caption="x")
    with pytest.raises(TelegramBadRequest, match="there is no text in the message to edit"):
        await bot.edit_message_text("x", chat_id=ANA, message_id=doc.message_id)
    with pytest.raises(TelegramBadRequest, match="message caption is too long"):
        await bot.edit_message_caption(chat_id=ANA, message_id=doc.message_id, caption="c" * 1025)
    edited = await bot.edit_message_caption(chat_id=ANA, message_id=doc.message_id,
                                            caption="New", reply_markup=keyboard("Open"))
    assert isinstance(edited, Message) and edited.caption == "New"
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_caption(chat_id=ANA, message_id=doc.message_id,
                                       caption="New", reply_markup=keyboard("Open"))
    await bot.edit_message_reply_markup(chat_id=ANA, message_id=text.message_id)
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_reply_markup(chat_id=ANA, message_id=text.message_id)
    assert [m.text for m in emu.chat(ANA) if m.from_bot] == ["Question 1", "New"]
    assert [len(emu.calls_of(m)) for m in ("editMessageText", "editMessageCaption",
                                            "editMessageReplyMarkup")] == [1, 4, 2]
    lines = emu.transcript(ANA)
    assert f"Bot edited the caption of message {doc.message_id} for Ana: New\n    [Open]" in lines
    assert f"Bot removed the buttons of message {text.message_id} for Ana" in lines


async def test_delete_message(emu: BotAPIEmulator, bot: Bot) -> None:
    await started(emu, bot, ANA)
    sent = await bot.send_message(ANA, "temporary")
    assert await bot.delete_message(ANA, sent.message_id) is True
    assert await bot.delete_message(ANA, 1) is True  # a user's message, private chat
    with pytest.raises(TelegramBadRequest, match="message to delete not found"):
        await bot.delete_message(ANA, sent.message_id)
    assert emu.chat(ANA) == []
    assert [m.message_id for m in emu.deleted(ANA)] == [1, sent.message_id]
    assert f"Bot deleted message {sent.message_id} for Ana" in emu.transcript()
    with pytest.raises(EmulatorAssertionError, match="not visible"):
        await emu.press_button(ANA, sent.message_id, text="anything")


async def test_blocked_person_gets_403_and_bot_sees_member_update(
    emu: BotAPIEmulator, bot: Bot
) -> None:
    await started(emu, bot, ANA)
    sent = await bot.send_message(ANA, "hi")
    emu.block(ANA)
    with pytest.raises(TelegramForbiddenError, match="Forbidden: bot was blocked by the user"):
        await bot.send_message(ANA, "are you there?")
    with pytest.raises(TelegramForbiddenError):
        await bot.edit_message_text("edit", chat_id=ANA, message_id=sent.message_id)
    (update,) = await bot.get_updates()
    assert update.my_chat_member is not None
    assert update.my_chat_member.new_chat_member.status == "kicked"
    with pytest.raises(EmulatorAssertionError, match="blocked the bot"):
        await emu.send_text(ANA, "hello?")
    emu.unblock(ANA)
    assert (await bot.send_message(ANA, "welcome back")).text == "welcome back"
    assert "Ana blocked the bot" in emu.transcript(ANA)


async def test_button_press_produces_callback_query_on_bot_message(
    emu: BotAPIEmulator, bot: Bot
) -> None:
    await started(emu, bot, ANA)
    sent = await bot.send_message(ANA, "Consent?", reply_markup=keyboard("I agree", "No"))
    query_id = await emu.press_button(ANA, sent.message_id, text="I agree")
    (update,) = await bot.get_updates()
    query = update.callback_query
    assert isinstance(query, CallbackQuery)
    assert query.id == query_id and query.data == "cb:I agree"
    assert query.from_user.id == ANA
    assert isinstance(query.message, Message)
    assert query.message.message_id == sent.message_id
    assert query.message.from_user is not None and query.message.from_user.is_bot

    waiter = asyncio.create_task(emu.callback_answer(query_id, timeout=2))
    await asyncio.sleep(0.01)
    assert await bot.answer_callback_query(query_id, "This check-in is closed", show_alert=True)
    assert await waiter == "This check-in is closed"
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await bot.answer_callback_query(query_id)
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await bot.answer_callback_query("12345")
    assert emu.transcript(ANA)[-2:] == [
        "Ana pressed [I agree]", "Bot → Ana (popup): This check-in is closed"]

    with pytest.raises(EmulatorAssertionError, match="no button"):
        await emu.press_button(ANA, sent.message_id, text="Maybe")
    second = await emu.press_button(ANA, sent.message_id, callback_data="cb:No")
    with pytest.raises(EmulatorAssertionError, match="did not answer"):
        await emu.callback_answer(second, timeout=0.05)


async def test_late_callback_answer_is_refused(bot: Bot) -> None:
    emu = BotAPIEmulator(token=TOKEN, callback_query_timeout=0.05)
    await emu.start()
    client = make_bot(emu)
    try:
        emu.person(ANA, "Ana")
        await emu.send_text(ANA, "hi")
        sent = await client.send_message(ANA, "Q", reply_markup=keyboard("A"))
        query_id = await emu.press_button(ANA, sent.message_id, text="A")
        await asyncio.sleep(0.1)
        with pytest.raises(TelegramBadRequest, match="query is too old"):
            await client.answer_callback_query(query_id)
    finally:
        await client.session.close()
        await emu.stop()


# ---------------------------------------------------------------- long polling


async def test_long_poll_returns_as_soon_as_an_update_arrives(
    emu: BotAPIEmulator, bot: Bot
) -> None:
    begin = time.monotonic()
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.1)
    await emu.send_text(ANA, "hello")
    updates = await poll
    assert time.monotonic() - begin < 1.0
    assert [u.message.text for u in updates if u.message] == ["hello"]


async def test_long_poll_times_out_empty(bot: Bot) -> None:
    begin = time.monotonic()
    assert await bot.get_updates(timeout=1) == []
    assert 0.9 < time.monotonic() - begin < 2.0


async def test_offset_limit_and_allowed_updates(emu: BotAPIEmulator, bot: Bot) -> None:
    for text in ("one", "two", "three"):
        await emu.send_text(ANA, text)
    first = await bot.get_updates(limit=2)
    assert [u.message.text for u in first if u.message] == ["one", "two"]
    # Without a higher offset nothing is confirmed: the same updates come again.
    assert [u.update_id for u in await bot.get_updates(limit=2)] == [u.update_id for u in first]
    rest = await bot.get_updates(offset=first[-1].update_id + 1)
    assert [u.message.text for u in rest if u.message] == ["three"]
    assert rest[0].update_id == first[-1].update_id + 1
    assert await bot.get_updates(offset=rest[-1].update_id + 1) == []

    assert await bot.get_updates(allowed_updates=["callback_query"]) == []
    await emu.send_text(ANA, "filtered out")
    assert await bot.get_updates() == []
    assert emu.pending_update_count == 0


async def test_second_poller_terminates_the_first(emu: BotAPIEmulator, bot: Bot) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.05)
    second = asyncio.create_task(bot.get_updates(timeout=5))
    with pytest.raises(TelegramConflictError, match="terminated by other getUpdates"):
        await first
    await emu.send_text(ANA, "hi")
    assert len(await second) == 1


async def test_real_aiogram_polling_round_trip(emu: BotAPIEmulator, bot: Bot) -> None:
    router = Router()

    @router.message(CommandStart())
    async def start(message: Message, command: CommandObject) -> None:
        await message.answer(f"Consent for {command.args}?", reply_markup=keyboard("I agree"))

    @router.callback_query(F.data == "cb:I agree")
    async def agree(query: CallbackQuery) -> None:
        await query.answer("Saved")
        assert isinstance(query.message, Message)
        await query.message.edit_text("Consent recorded")

    dp = Dispatcher()
    dp.include_router(router)
    polling = asyncio.create_task(
        dp.start_polling(bot, handle_signals=False, polling_timeout=1, close_bot_session=False)
    )
    try:
        await emu.send_command(ANA, "/start abc123")
        prompt = await emu.wait_for_message(ANA, contains="Consent for abc123", timeout=5)
        query_id = await emu.press_button(ANA, prompt.message_id, text="I agree")
        assert await emu.callback_answer(query_id, timeout=5) == "Saved"
        done = await emu.wait_for_message(ANA, contains="Consent recorded", timeout=5)
        assert done.message_id == prompt.message_id and done.edited and done.buttons == []
    finally:
        await dp.stop_polling()
        await polling
    assert emu.transcript(ANA) == [
        "Ana: /start abc123",
        "Bot → Ana: Consent for abc123?\n    [I agree]",
        "Ana pressed [I agree]",
        "Bot → Ana (notification): Saved",
        "Bot edited message 2 for Ana: Consent recorded",
    ]


async def test_wait_for_message_timeout_shows_the_chat(emu: BotAPIEmulator) -> None:
    await emu.send_text(ANA, "anyone?")
    with pytest.raises(EmulatorAssertionError, match="(?s)containing 'Consent'.*Ana: anyone"):
        await emu.wait_for_message(ANA, contains="Consent", timeout=0.05)


# ---------------------------------------------------------------- files


async def test_documents_photos_and_downloads(emu: BotAPIEmulator, bot: Bot) -> None:
    await started(emu, bot, ANA)
    pdf = b"%PDF-1.4 report"
    sent = await bot.send_document(ANA, BufferedInputFile(pdf, "report.pdf"), caption="Report")
    assert isinstance(sent, Message) and sent.document is not None
    assert (sent.document.file_name, sent.document.mime_type) == ("report.pdf", "application/pdf")
    assert sent.caption == "Report"
    stored = emu.chat(ANA)[-1].document
    assert stored is not None and stored.data == pdf and stored.file_name == "report.pdf"

    file = await bot.get_file(sent.document.file_id)
    assert isinstance(file, File) and file.file_size == len(pdf)
    assert file.file_path is not None
    downloaded = await bot.download_file(file.file_path)
    assert downloaded is not None and downloaded.read() == pdf

    person_photo_message = await emu.send_photo(ANA)
    assert person_photo_message.photo is not None
    png = person_photo_message.photo.data
    photo = await bot.send_photo(ANA, BufferedInputFile(png, "chart.png"))
    assert photo.photo and (photo.photo[-1].width, photo.photo[-1].height) == (4, 3)
    with pytest.raises(TelegramBadRequest, match="IMAGE_PROCESS_FAILED"):
        await bot.send_photo(ANA, BufferedInputFile(b"not an image", "x.png"))
    again = await bot.send_document(ANA, sent.document.file_id)  # resend by file_id
    assert again.document is not None and again.document.file_id == sent.document.file_id

    (update,) = [u for u in await bot.get_updates() if u.message and u.message.photo]
    assert update.message is not None and update.message.photo
    person_file = await bot.get_file(update.message.photo[-1].file_id)
    assert person_file.file_path is not None
    person_photo = await bot.download_file(person_file.file_path)
    assert person_photo is not None and person_photo.read() == png
    with pytest.raises(TelegramBadRequest, match="invalid file_id"):
        await bot.get_file("nope")
    assert "Bot → Ana: [document report.pdf, 15 B] Report" in emu.transcript(ANA)


# ---------------------------------------------------------------- commands


async def test_commands_per_scope_and_language(emu: BotAPIEmulator, bot: Bot) -> None:
    await started(emu, bot, ANA, BEN)
    default = [BotCommand(command="start", description="Start"),
               BotCommand(command="help", description="Help")]
    client_cmds = [BotCommand(command="checkin", description="Check in")]
    assert await bot.set_my_commands(default)
    assert await bot.set_my_commands(client_cmds, scope=BotCommandScopeChat(chat_id=ANA))
    assert await bot.set_my_commands([BotCommand(command="ayuda", description="Ayuda")],
                                     language_code="es")
    assert emu.commands_for(ANA) == ["checkin"]
    assert emu.commands_for(BEN) == ["start", "help"]
    assert emu.commands_for(BEN, language_code="es") == ["ayuda"]
    got = await bot.get_my_commands(scope=BotCommandScopeChat(chat_id=ANA))
    assert all(isinstance(c, BotCommand) for c in got)
    assert [(c.command, c.description) for c in got] == [("checkin", "Check in")]
    assert await bot.delete_my_commands(scope=BotCommandScopeChat(chat_id=ANA))
    assert emu.commands_for(ANA) == ["ayuda"]  # Ana's language is es
    with pytest.raises(TelegramBadRequest, match="BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand(command="Bad-Name", description="x")])
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.set_my_commands(client_cmds, scope=BotCommandScopeChat(chat_id=777))


# ---------------------------------------------------------------- webhook


class Receiver:
    """A stand-in webhook endpoint that records pushes and answers from a script."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, Any], str | None, float]] = []
        self.statuses: list[int] = []  # answers to give, in order; then 200
        self.fail_once: set[str] = set()  # message texts whose first push gets a 503
        self.reply: dict[str, Any] | None = None
        self.hold: dict[str, asyncio.Event] = {}  # message text -> answer once set
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        update = await request.json()
        secret = request.headers.get("X-Telegram-Bot-Api-Secret-Token")
        self.received.append((update, secret, time.monotonic()))
        gate = self.hold.get(update.get("message", {}).get("text", ""))
        if gate is not None:
            await gate.wait()
        text = update.get("message", {}).get("text", "")
        if text in self.fail_once:
            self.fail_once.discard(text)
            status = 503
        else:
            status = self.statuses.pop(0) if self.statuses else 200
        if status == 200 and self.reply is not None:
            reply, self.reply = self.reply, None
            return web.json_response(reply)
        return web.json_response({}, status=status)

    async def __aenter__(self) -> Receiver:
        app = web.Application()
        app.router.add_post("/hook", self.handle)
        self.runner = web.AppRunner(app, shutdown_timeout=0.1)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self.runner.addresses[0][1]}/hook"
        return self

    async def __aexit__(self, *exc: object) -> None:
        for gate in self.hold.values():
            gate.set()
        assert self.runner is not None
        await self.runner.cleanup()


async def wait_until(predicate: Any, seconds: float = 3.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


async def test_webhook_push_with_secret_and_retry(emu: BotAPIEmulator, bot: Bot) -> None:
    async with Receiver() as hook:
        hook.statuses = [500]
        assert await bot.set_webhook(hook.url, secret_token="s3cret-token")
        with pytest.raises(TelegramConflictError, match="webhook is active"):
            await bot.get_updates()
        await emu.send_text(ANA, "hello")
        await wait_until(lambda: len(hook.received) == 2 and emu.pending_update_count == 0)
        (first, secret1, t1), (second, secret2, t2) = hook.received
        assert first == second and first["message"]["text"] == "hello"
        assert secret1 == secret2 == "s3cret-token"
        assert t2 - t1 >= 0.04  # the configured retry delay
        assert [a.status for a in emu.webhook_attempts] == [500, 200]
        info = await bot.get_webhook_info()
        assert isinstance(info, WebhookInfo)
        assert info.url == hook.url and info.pending_update_count == 0
        assert info.last_error_message is not None and "500" in info.last_error_message

        # A method in the webhook answer is executed, as Telegram does.
        hook.reply = {"method": "sendMessage", "chat_id": ANA, "text": "answered inline"}
        await emu.send_text(ANA, "again")
        await emu.wait_for_message(ANA, contains="answered inline", timeout=3)
        assert emu.calls_of("sendMessage")[-1].source == "webhook-reply"

    assert await bot.delete_webhook(drop_pending_updates=True)
    await emu.send_text(ANA, "back to polling")
    assert [u.message.text for u in await bot.get_updates() if u.message] == ["back to polling"]


async def test_webhook_keeps_order_per_chat(emu: BotAPIEmulator, bot: Bot) -> None:
    async with Receiver() as hook:

        def texts() -> list[str]:
            return [u["message"]["text"] for u, _, _ in hook.received]

        gate = asyncio.Event()
        hook.hold["a1"] = gate  # Ana's first update stays unanswered until released
        hook.fail_once = {"a1"}  # ...and then fails once, so it is retried before a2
        assert await bot.set_webhook(hook.url)
        await emu.send_text(ANA, "a1")
        await emu.send_text(ANA, "a2")
        await emu.send_text(BEN, "b1")
        await wait_until(lambda: texts() == ["a1", "b1"])
        await asyncio.sleep(0.1)
        assert texts() == ["a1", "b1"]  # a2 waits for a1's answer; Ben is not held up
        gate.set()
        await wait_until(lambda: emu.pending_update_count == 0)
        assert texts() == ["a1", "b1", "a1", "a2"]


# ---------------------------------------------------------------- groups and raw updates


async def test_groups_channels_and_leave_chat_answer_like_telegram(
    emu: BotAPIEmulator, bot: Bot
) -> None:
    await started(emu, bot, ANA)
    emu.group(-100500, "Team", kind="supergroup", with_bot=True)
    sent = await emu.send_group_text(-100500, ANA, "/plan ABC-12")
    (update,) = await bot.get_updates()
    assert update.message is not None and update.message.chat.type == "supergroup"
    assert update.message.chat.id == -100500 and update.message.from_user is not None
    assert update.message.from_user.id == ANA and update.message.text == sent.text
    assert (await bot.send_message(-100500, "one line")).chat.id == -100500
    assert await bot.leave_chat(-100500)
    assert [c.method for c in emu.calls if c.chat_id == -100500] == ["sendMessage", "leaveChat"]
    (left,) = await bot.get_updates(offset=update.update_id + 1)
    assert left.my_chat_member is not None
    assert left.my_chat_member.new_chat_member.status == "left"
    with pytest.raises(TelegramForbiddenError, match="not a member of the supergroup chat"):
        await bot.send_message(-100500, "are you there?")
    with pytest.raises(TelegramBadRequest, match="private chats"):
        await bot.leave_chat(ANA)
    # Once the bot left, what people write there never reaches it.
    await emu.send_group_text(-100500, ANA, "hello?")
    assert await bot.get_updates(offset=left.update_id + 1, timeout=0) == []
    assert [m.text for m in emu.chat(-100500) if m.from_bot] == ["one line"]

    emu.group(-100600, "Family")
    emu.add_bot_to_group(-100600, by=BEN)
    emu.group(-100700, "News", kind="channel", with_bot=True)
    await emu.channel_post(-100700, "today's news")
    added, post = await bot.get_updates(offset=left.update_id + 1)
    assert added.my_chat_member is not None and added.my_chat_member.chat.type == "group"
    assert added.my_chat_member.new_chat_member.status == "member"
    assert added.my_chat_member.from_user.id == BEN
    assert post.channel_post is not None and post.channel_post.from_user is None
    assert post.channel_post.chat.type == "channel"


async def test_injected_raw_updates_reach_polling_and_the_webhook_as_given(
    emu: BotAPIEmulator, bot: Bot
) -> None:
    broken = {"message": {"message_id": "x", "text": "\ud83d"}}
    first = emu.inject_update(broken)
    second = emu.inject_update({"update_id": first + 5, "future_kind": {}})
    assert second == first + 5
    async with aiohttp.ClientSession() as http, http.post(
            f"{emu.base_url}/bot{TOKEN}/getUpdates") as response:
        body = await response.json()
    assert body["result"] == [{"update_id": first, **broken},
                              {"update_id": second, "future_kind": {}}]

    async with Receiver() as hook:
        assert await bot.set_webhook(hook.url)
        await wait_until(lambda: len(hook.received) == 2 and emu.pending_update_count == 0)
        assert [u["update_id"] for u, _, _ in hook.received] == [first, second]
        assert hook.received[0][0]["message"]["text"] == "\ud83d"
        # A button press in an injected update can be answered once.
        query = {"id": "77", "from": {"id": ANA, "is_bot": False, "first_name": "Ana"},
                 "chat_instance": "1", "data": "x"}
        emu.inject_update({"callback_query": query})
        await wait_until(lambda: len(hook.received) == 3)
    assert await bot.answer_callback_query("77", text="seen")
    assert await emu.callback_answer("77") == "seen"


# ---------------------------------------------------------------- faults and limits


async def test_fault_scripts(emu: BotAPIEmulator, bot: Bot) -> None:
    await started(emu, bot, ANA)
    emu.fail_next("sendMessage", count=2, error_code=502)
    for _ in range(2):
        with pytest.raises(TelegramServerError, match="Bad Gateway"):
            await bot.send_message(ANA, "x")
    assert (await bot.send_message(ANA, "through")).text == "through"

    emu.fail_next("SENDMESSAGE", error_code=429, retry_after=3)
    with pytest.raises(TelegramRetryAfter) as retry:
        await bot.send_message(ANA, "x")
    assert retry.value.retry_after == 3
    assert emu.violations == 0  # scripted faults are not the bot's fault

    emu.delay_next("sendMessage", seconds=0.3)
    begin = time.monotonic()
    await bot.send_message(ANA, "slow")
    assert time.monotonic() - begin >= 0.3

    emu.fail_next("sendMessage", error_code=500, after_effect=True)
    with pytest.raises(TelegramServerError):
        await bot.send_message(ANA, "delivered anyway")
    assert emu.chat(ANA)[-1].text == "delivered anyway"
    failed = [c for c in emu.calls_of("sendMessage") if c.error_code is not None]
    assert [c.error_code for c in failed] == [502, 502, 429, 500]


async def test_an_outage_lasts_until_it_is_ended_and_a_scripted_fault_still_comes_first(
        emu: BotAPIEmulator, bot: Bot) -> None:
    await started(emu, bot, ANA)
    emu.outage("sendMessage")
    for _ in range(5):
        with pytest.raises(TelegramServerError, match="Bad Gateway"):
            await bot.send_message(ANA, "x")
    emu.fail_next("sendMessage", error_code=400, description="Bad Request: chat not found")
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.send_message(ANA, "x")
    with pytest.raises(TelegramServerError):
        await bot.send_message(ANA, "x")
    assert (await bot.get_me()).username  # only the named methods are down
    emu.end_outage()
    assert (await bot.send_message(ANA, "back")).text == "back"
    assert [m.text for m in emu.chat(ANA) if m.from_bot] == ["back"]


async def test_an_outage_answers_every_method_until_it_is_over(
        emu: BotAPIEmulator, bot: Bot) -> None:
    await started(emu, bot, ANA)
    emu.fail_for(0.4)
    begin = time.monotonic()
    with pytest.raises(TelegramServerError, match="Bad Gateway"):
        await bot.send_message(ANA, "x")
    with pytest.raises(TelegramServerError, match="Bad Gateway"):
        await bot.get_updates(timeout=0)
    with pytest.raises(TelegramServerError, match="Bad Gateway"):
        await bot.get_me()
    while emu.outage_active():  # the outage ends by itself, not before its time
        await asyncio.sleep(0.02)
    assert time.monotonic() - begin >= 0.4
    assert (await bot.send_message(ANA, "after")).text == "after"
    assert [m.text for m in emu.chat(ANA) if m.from_bot] == ["after"]

    emu.fail_for(60, error_code=429, methods=["sendMessage"], retry_after=7)
    with pytest.raises(TelegramRetryAfter) as retry:
        await bot.send_message(ANA, "x")
    assert retry.value.retry_after == 7
    assert (await bot.get_me()).username == emu.username  # other methods still answer
    assert emu.outage_active("sendMessage") and not emu.outage_active("getMe")
    emu.clear_faults()
    assert (await bot.send_message(ANA, "cleared")).text == "cleared"
    failed = [c.error_code for c in emu.calls if c.error_code is not None]
    assert failed == [502, 502, 502, 429]


async def test_limits_enforced() -> None:
    emu = BotAPIEmulator(token=TOKEN, enforce_limits=True)
    await emu.start()
    client = make_bot(emu)
    try:
        for user_id in range(1, 33):
            emu.person(user_id, f"P{user_id}")
            await emu.send_text(user_id, "hi")
        await client.send_message(1, "one")
        with pytest.raises(TelegramRetryAfter, match="Too Many Requests: retry after 1") as err:
            await client.send_message(1, "two")
        assert err.value.retry_after == 1
        assert emu.violations == 1
        for user_id in range(2, 31):
            await client.send_message(user_id, "burst")
        with pytest.raises(TelegramRetryAfter):
            await client.send_message(31, "31st in a second")
        assert emu.violations == 2
        await asyncio.sleep(1.0)
        assert (await client.send_message(1, "later")).text == "later"
    finally:
        await client.session.close()
        await emu.stop()


async def test_stop_and_start_on_the_same_port_keep_state(
    emu: BotAPIEmulator, bot: Bot
) -> None:
    await started(emu, bot, ANA)
    await bot.send_message(ANA, "before")
    port = emu.port
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.05)
    await emu.stop()
    assert await poll == []  # a waiting long poll ends when the server goes down
    with pytest.raises(TelegramNetworkError):
        await bot.get_me()
    await emu.start()
    assert emu.port == port
    after = await bot.send_message(ANA, "after")
    assert after.message_id == 3
    assert [m.text for m in emu.chat(ANA)] == ["/start", "before", "after"]


# ---------------------------------------------------------------- parse modes


def test_parse_modes_produce_telegram_entities() -> None:
    text, entities = parse_text('😀 <b>hi <i>you</i></b> <a href="https://x.y">l</a> &lt;3', "HTML")
    assert text == "😀 hi you l <3"
    # Offsets count UTF-16 code units: the emoji is two.
    assert entities == [
        {"type": "bold", "offset": 3, "length": 6},
        {"type": "italic", "offset": 6, "length": 3},
        {"type": "text_link", "offset": 10, "length": 1, "url": "https://x.y"},
    ]
    text, entities = parse_text(r"*Step 1\.* [plan](https://x.y/a\)b)", "MarkdownV2")
    assert text == "Step 1. plan"
    assert entities[1] == {"type": "text_link", "offset": 8, "length": 4,
                           "url": "https://x.y/a)b"}
    with pytest.raises(EntityParseError, match="Character '.' is reserved"):
        parse_text("Done.", "MarkdownV2")
    with pytest.raises(EntityParseError, match='Unsupported start tag "br"'):
        parse_text("a<br>b", "HTML")
