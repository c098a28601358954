"""One sender: each answer Telegram (the emulator, over HTTP) can give to a send, edit,
deletion, callback answer or menu, read once into what it means; a 429 waited out; each
request counted once; edits paced only against the bot's overall limit."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any

import pytest
from aiogram import Bot
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import ClientDecodeError
from aiogram.methods import (
    AnswerCallbackQuery,
    DeleteMessage,
    EditMessageReplyMarkup,
    EditMessageText,
    LeaveChat,
    SendMessage,
)
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from bot.menus import chat_menu, set_commands
from bot.ratelimit import RateLimiter
from bot.sender import Outcome, Sender, classify
from bot.telegram_session import TelegramSession
from journal import telemetry

SAM, ANNA, STRANGER = 8001, 8002, 8009


class Counts:
    """A telemetry sink that keeps what the sender counted."""

    def __init__(self) -> None:
        self.requests: Counter[tuple[str, str]] = Counter()

    def record(self, name: str, value: float, labels: Mapping[str, str]) -> None:
        if name == "telegram_requests":
            self.requests[(labels["method"], labels["outcome"])] += int(value)


@pytest.fixture
def counts() -> Iterator[Counts]:
    sink = Counts()
    previous = telemetry.install(sink)
    try:
        yield sink
    finally:  # the process's metrics (another test's) go on where they went
        telemetry.install(previous)


@pytest.fixture
async def sender(emulator: Any) -> AsyncIterator[Sender]:
    emulator.person(SAM, "Sam")
    await emulator.send_text(SAM, "/start")  # Sam's chat exists
    emulator.person(ANNA, "Anna")
    await emulator.send_text(ANNA, "/start")
    emulator.person(STRANGER, "Stranger")  # never talked to the bot
    bot = Bot(token=emulator.token, session=TelegramSession(
        api=TelegramAPIServer.from_base(emulator.base_url), timeout=2))
    try:
        yield Sender(bot, RateLimiter())
    finally:
        await bot.session.close()


async def sent_message_id(sender: Sender, chat: int, text: str = "Hello") -> int:
    sent = await sender.send(SendMessage(chat_id=chat, text=text))
    assert sent.outcome is Outcome.SENT and sent.message_id is not None
    return sent.message_id


# -- what each answer means --------------------------------------------------------------

async def test_a_message_telegram_took_is_sent_with_its_id(sender: Sender, emulator: Any,
                                                           counts: Counts) -> None:
    sent = await sender.send(SendMessage(chat_id=SAM, text="Time for your check-in"))
    assert sent.ok and sent.outcome is Outcome.SENT
    assert sent.message_id == emulator.chat(SAM)[-1].message_id
    assert counts.requests == {("sendMessage", "sent"): 1}


async def test_an_edit_to_the_same_text_and_an_already_deleted_message_are_done_already(
        sender: Sender, counts: Counts) -> None:
    message_id = await sent_message_id(sender, SAM, "Question 1")
    same = await sender.send(EditMessageText(chat_id=SAM, message_id=message_id,
                                             text="Question 1"))
    assert same.outcome is Outcome.DONE_ALREADY and same.ok
    no_buttons = await sender.send(EditMessageReplyMarkup(chat_id=SAM, message_id=message_id))
    assert no_buttons.outcome is Outcome.DONE_ALREADY
    assert (await sender.send(DeleteMessage(chat_id=SAM, message_id=message_id))).outcome \
        is Outcome.SENT
    again = await sender.send(DeleteMessage(chat_id=SAM, message_id=message_id))
    assert again.outcome is Outcome.DONE_ALREADY and again.ok
    assert counts.requests[("editMessageText", "done_already")] == 1
    assert counts.requests[("deleteMessage", "done_already")] == 1


async def test_a_request_telegram_refuses_as_such_is_permanent(
        sender: Sender, counts: Counts) -> None:
    message_id = await sent_message_id(sender, SAM)
    gone = await sent_message_id(sender, SAM)
    assert (await sender.send(DeleteMessage(chat_id=SAM, message_id=gone))).ok
    refusals: list[tuple[Any, str]] = [
        (SendMessage(chat_id=STRANGER, text="Hello"), "chat not found"),
        (EditMessageText(chat_id=SAM, message_id=message_id + 100, text="new"),
         "message to edit not found"),
        (EditMessageText(chat_id=SAM, message_id=gone, text="new"), "message to edit not found"),
        (DeleteMessage(chat_id=STRANGER, message_id=1), "chat not found"),
        (SendMessage(chat_id=SAM, text="x" * 4097), "message is too long"),
        (SendMessage(chat_id=SAM, text=""), "message text is empty"),
        (SendMessage(chat_id=SAM, text="<b>unclosed", parse_mode="HTML"),
         "can't parse entities"),
        (SendMessage(chat_id=SAM, text="Pick", reply_markup=InlineKeyboardMarkup(
            inline_keyboard=[[InlineKeyboardButton(text="A", callback_data="x" * 65)]])),
         "BUTTON_DATA_INVALID"),
        (AnswerCallbackQuery(callback_query_id="12345"), "query is too old"),
        (set_commands([("Not A Command!", "what")], chat_id=SAM), "BOT_COMMAND_INVALID"),
        (chat_menu(STRANGER, "client", "en"), "chat not found"),
    ]
    for call, reason in refusals:
        sent = await sender.send(call)
        assert sent.outcome is Outcome.PERMANENT and not sent.ok, (call, sent)
        assert sent.error == "TelegramBadRequest" and reason in sent.reason, (call, sent)
    assert sum(n for (_, outcome), n in counts.requests.items()
               if outcome == "permanent") == len(refusals)


async def test_a_person_who_blocked_the_bot_and_a_group_it_left_are_blocked(
        sender: Sender, emulator: Any) -> None:
    emulator.block(ANNA)
    sent = await sender.send(SendMessage(chat_id=ANNA, text="Time for your check-in"))
    assert sent.outcome is Outcome.BLOCKED and "blocked by the user" in sent.reason
    emulator.group(-1001, "Group", with_bot=False)
    left = await sender.send(SendMessage(chat_id=-1001, text="Private chats only"),
                             anywhere=True)
    assert left.outcome is Outcome.BLOCKED and left.error == "TelegramForbiddenError"


@pytest.mark.parametrize(("status", "outcome"), [
    (500, Outcome.TRANSIENT), (502, Outcome.TRANSIENT), (503, Outcome.TRANSIENT),
    (504, Outcome.TRANSIENT), (401, Outcome.TRANSIENT), (409, Outcome.TRANSIENT),
    (404, Outcome.PERMANENT), (413, Outcome.PERMANENT), (403, Outcome.BLOCKED),
    (400, Outcome.PERMANENT),
])
async def test_each_status_telegram_can_answer_has_one_meaning(
        sender: Sender, emulator: Any, status: int, outcome: Outcome) -> None:
    """5xx, a revoked token (401) and a conflict (409) are the program's trouble and pass;
    an unknown method (404) and a body too large (413) never will."""
    emulator.fail_next("sendMessage", error_code=status)
    sent = await sender.send(SendMessage(chat_id=SAM, text="Hello"))
    assert sent.outcome is outcome, sent
    assert [c.error_code for c in emulator.calls_of("sendMessage")] == [status]


async def test_an_edit_that_meets_a_server_error_is_transient_not_done(
        sender: Sender, emulator: Any) -> None:
    """Only Telegram's own "not modified" means done: an error's text is not guessed at."""
    message_id = await sent_message_id(sender, SAM, "Question 1")
    emulator.fail_next("editMessageText", error_code=502)
    sent = await sender.send(EditMessageText(chat_id=SAM, message_id=message_id, text="Q2"))
    assert sent.outcome is Outcome.TRANSIENT and sent.error == "TelegramServerError"


async def test_telegram_unreachable_or_too_slow_is_transient(
        sender: Sender, emulator: Any) -> None:
    emulator.delay_next("sendMessage", seconds=3.0)  # past the session's 2 s time-out
    slow = await sender.send(SendMessage(chat_id=SAM, text="Hello"))
    assert slow.outcome is Outcome.TRANSIENT, slow
    port = emulator.port
    await emulator.stop()
    try:
        down = await sender.send(SendMessage(chat_id=SAM, text="Hello"))
    finally:
        await emulator.start(port)
    assert down.outcome is Outcome.TRANSIENT and down.error == "TelegramNetworkError"


def test_an_answer_that_is_not_json_is_transient() -> None:
    """The emulator always answers JSON; a proxy's error page is not."""
    exc = ClientDecodeError("not JSON", ValueError("bad"), "<html>502</html>")
    assert classify("sendMessage", exc).outcome is Outcome.TRANSIENT


async def test_anything_but_a_private_chat_is_refused_before_it_is_sent(
        sender: Sender, emulator: Any, counts: Counts) -> None:
    emulator.group(-1001, "Group", with_bot=True)
    for call, person in ((SendMessage(chat_id=-1001, text="a client's summary"), None),
                         (SendMessage(chat_id=ANNA, text="Sam's reply"), SAM),
                         (chat_menu(-1001, "clinician", "en"), None)):
        sent = await sender.send(call, reply=True, person=person)
        assert sent.outcome is Outcome.PERMANENT and sent.error == "NotPrivateChat"
    assert [c for c in emulator.calls if c.method != "getUpdates"] == []
    assert (await sender.send(LeaveChat(chat_id=-1001), anywhere=True)).ok  # the one exception


# -- 429 ---------------------------------------------------------------------------------

async def test_a_429_is_waited_out_by_the_whole_bot_and_the_call_made_again(
        sender: Sender, emulator: Any, counts: Counts) -> None:
    emulator.fail_next("sendMessage", error_code=429, retry_after=1)
    loop = asyncio.get_running_loop()
    began = loop.time()
    sent, other = await asyncio.gather(
        sender.send(SendMessage(chat_id=SAM, text="Hello")),
        _after(0.2, sender.send(SendMessage(chat_id=ANNA, text="Hello"))))
    assert sent.outcome is Outcome.SENT and other.outcome is Outcome.SENT
    calls = emulator.calls_of("sendMessage")
    assert [c.error_code for c in calls] == [429, None, None]
    assert min(c.time for c in calls[1:]) - calls[0].time >= 1.0  # nobody sent meanwhile
    assert loop.time() - began >= 1.0
    assert counts.requests == {("sendMessage", "rate_limited"): 1, ("sendMessage", "sent"): 2}


async def test_a_second_429_in_a_row_is_handed_to_the_caller_with_its_wait(
        sender: Sender, emulator: Any) -> None:
    emulator.fail_next("sendMessage", count=2, error_code=429, retry_after=1)
    sent = await sender.send(SendMessage(chat_id=SAM, text="Hello"))
    assert sent.outcome is Outcome.RATE_LIMITED and sent.retry_after == 1
    assert len(emulator.calls_of("sendMessage")) == 2


async def _after(seconds: float, call: Any) -> Any:
    await asyncio.sleep(seconds)
    return await call


# -- pacing ------------------------------------------------------------------------------

async def test_an_edit_and_a_deletion_do_not_wait_for_the_chats_one_second(
        sender: Sender, emulator: Any) -> None:
    loop = asyncio.get_running_loop()
    message_id = await sent_message_id(sender, SAM, "Question 1")
    began = loop.time()
    await sender.send(EditMessageText(chat_id=SAM, message_id=message_id, text="Question 2"),
                      reply=True)
    await sender.send(DeleteMessage(chat_id=SAM, message_id=message_id), reply=True)
    assert loop.time() - began < 0.5
    await sent_message_id(sender, SAM, "a new message")  # this one keeps the interval
    assert loop.time() - began >= 0.9


async def test_a_callback_answer_waits_for_no_limit(sender: Sender, emulator: Any) -> None:
    pick = await sender.send(SendMessage(chat_id=SAM, text="Pick", reply_markup=(
        InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="Yes",
                                                                    callback_data="y")]]))))
    assert pick.message_id is not None
    query = await emulator.press_button(SAM, pick.message_id, text="Yes")
    sender.limiter.pause(5)  # a 429 elsewhere: sends wait, a pop-up must not
    loop = asyncio.get_running_loop()
    began = loop.time()
    sent = await sender.send(AnswerCallbackQuery(callback_query_id=query, text="Saved"))
    assert sent.outcome is Outcome.SENT and loop.time() - began < 1.0
