"""Faithful Telegram Bot API emulator served over HTTP on 127.0.0.1, with controls for tests."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import itertools
import json
import logging
import math
import mimetypes
import re
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, replace
from types import TracebackType
from typing import Any, Self

import aiohttp
from aiohttp import web

from telegram_emulator.formatting import EntityParseError, parse_text, utf16_len
from telegram_emulator.limits import FloodControl
from telegram_emulator.media import FAKE_VOICE, FAKE_WEBP, image_size, tiny_png
from telegram_emulator.models import (
    ApiError,
    Button,
    CallbackAnswer,
    ChatMessage,
    EmulatorAssertionError,
    Group,
    Person,
    RecordedCall,
    StoredFile,
)

__all__ = ["BotAPIEmulator", "WebhookAttempt"]

log = logging.getLogger(__name__)

# Descriptions exactly as Telegram writes them (see TELEGRAM.md).
BLOCKED = "Forbidden: bot was blocked by the user"
CHAT_NOT_FOUND = "Bad Request: chat not found"
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
EDIT_NOT_FOUND = "Bad Request: message to edit not found"
DELETE_NOT_FOUND = "Bad Request: message to delete not found"
QUERY_TOO_OLD = (
    "Bad Request: query is too old and response timeout expired or query ID is invalid"
)
WEBHOOK_CONFLICT = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)
POLL_CONFLICT = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)

_DEFAULT_DESCRIPTIONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    413: "Request Entity Too Large",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}

_METHODS = (
    "getMe",
    "getUpdates",
    "sendMessage",
    "editMessageText",
    "editMessageReplyMarkup",
    "editMessageCaption",
    "deleteMessage",
    "answerCallbackQuery",
    "sendDocument",
    "sendPhoto",
    "sendChatAction",
    "setMyCommands",
    "getMyCommands",
    "deleteMyCommands",
    "setMyDescription",
    "getMyDescription",
    "setMyShortDescription",
    "getMyShortDescription",
    "setWebhook",
    "deleteWebhook",
    "getWebhookInfo",
    "getFile",
    "leaveChat",
)
_CANONICAL = {name.lower(): name for name in _METHODS}
# New messages count against both flood limits; edits only against the global one, because
# Telegram tolerates a bot editing in place in reply to each button press.
_PER_CHAT_LIMITED = {"sendMessage", "sendDocument", "sendPhoto"}
_GLOBAL_LIMITED = {"editMessageText", "editMessageReplyMarkup", "editMessageCaption"}
# Without allowed_updates Telegram sends every type except these.
_OPT_IN_UPDATES = {"chat_member", "message_reaction", "message_reaction_count"}
_JSON_FIELDS = {
    "reply_markup", "entities", "caption_entities", "allowed_updates", "scope", "commands",
    "link_preview_options", "reply_parameters",
}
_MAX_UPLOAD = 50 * 1024 * 1024
_MAX_DOWNLOAD = 20 * 1024 * 1024
_MAX_PHOTO = 10 * 1024 * 1024
_COMMAND_RE = re.compile(r"(?<!\S)/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,})?")
_BOT_COMMAND_RE = re.compile(r"[a-z0-9_]{1,32}")
_SECRET_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")
_FILE_PREFIX = {"document": "BQACAgIAAxkBAAI", "photo": "AgACAgIAAxkBAAI",
                "voice": "AwACAgIAAxkBAAI", "sticker": "CAACAgIAAxkBAAI"}
_FILE_FOLDER = {"document": "documents", "photo": "photos", "voice": "voice",
                "sticker": "stickers"}


@dataclass(frozen=True)
class _Upload:
    filename: str | None
    content_type: str | None
    data: bytes


@dataclass(frozen=True)
class _Fault:
    error_code: int
    description: str
    retry_after: int | None
    after_effect: bool


@dataclass(frozen=True)
class _Outage:
    until: float  # time.monotonic(); math.inf until end_outage()
    fault: _Fault
    methods: frozenset[str] | None  # None: every method


@dataclass
class _Webhook:
    url: str
    secret_token: str | None
    max_connections: int
    ip_address: str | None
    last_error_date: int | None = None
    last_error_message: str | None = None


@dataclass
class _Callback:
    chat_id: int
    message_id: int
    created: float
    answer: CallbackAnswer | None = None


@dataclass(frozen=True)
class WebhookAttempt:
    """One push of an update to the webhook: HTTP status, or the connection error."""

    update_id: int
    status: int | None
    error: str | None
    time: float

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class _Params:
    """Parameters of one call, from a form, multipart body, JSON body or query string."""

    def __init__(self, values: dict[str, Any], files: dict[str, _Upload]) -> None:
        self.values = values
        self.files = files

    def raw(self, name: str) -> Any:
        value = self.values.get(name)
        return None if value == "" else value

    def get_str(self, name: str) -> str | None:
        value = self.raw(name)
        return None if value is None else str(value)

    def get_int(
        self, name: str, *, missing: str | None = None, invalid: str | None = None
    ) -> int | None:
        value = self.raw(name)
        if value is None:
            if missing is not None:
                raise ApiError(400, missing)
            return None
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ApiError(400, invalid or f"Bad Request: invalid {name} specified") from None

    def get_bool(self, name: str) -> bool:
        value = self.raw(name)
        if isinstance(value, bool):
            return value
        return str(value).lower() in ("true", "1") if value is not None else False

    def get_json(self, name: str) -> Any:
        value = self.raw(name)
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                raise ApiError(400, f"Bad Request: can't parse {name} JSON object") from None
        return value

    def file(self, name: str) -> _Upload | str | None:
        """An uploaded file (field `attach://x` or the field itself), or a file_id/URL string."""
        value = self.raw(name)
        if isinstance(value, str) and value.startswith("attach://"):
            upload = self.files.get(value.removeprefix("attach://"))
            if upload is None:
                raise ApiError(400, f"Bad Request: file {value} not found in the request")
            return upload
        if name in self.files:
            return self.files[name]
        return None if value is None else str(value)

    def recorded(self) -> dict[str, Any]:
        """The parameters as tests read them: nested JSON decoded, uploads described."""
        out: dict[str, Any] = {}
        for key, value in self.values.items():
            if key in _JSON_FIELDS and isinstance(value, str):
                try:
                    out[key] = json.loads(value)
                except ValueError:
                    out[key] = value
            else:
                out[key] = value
        for key, upload in self.files.items():
            out[key] = {"file_name": upload.filename, "mime_type": upload.content_type,
                        "size": len(upload.data)}
        return out


def _now() -> int:
    return int(time.time())


def _update_type(update: dict[str, Any]) -> str:
    return next((key for key in update if key != "update_id"), "")


def _update_chat_key(update: dict[str, Any]) -> int:
    """The chat an update belongs to (webhook pushes are ordered per chat); 0 when an
    injected, malformed update names none."""
    body: Any = update.get(_update_type(update))
    try:
        if "chat" in body:
            return int(body["chat"]["id"])
        if "message" in body:
            return int(body["message"]["chat"]["id"])
        return int(body.get("from", {}).get("id", 0))
    except (TypeError, ValueError, KeyError, AttributeError):
        return 0


def _indent(text: str) -> str:
    return text.replace("\n", "\n    ")


def _button_lines(buttons: list[list[Button]]) -> str:
    rows = [
        " ".join(f"[{b.text} ↗]" if b.url else f"[{b.text}]" for b in row) for row in buttons
    ]
    return "".join(f"\n    {row}" for row in rows if row)


def _human_size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / 1024 / 1024:.1f} MB"


class BotAPIEmulator:
    """A Telegram Bot API server for one bot, with simulated people and fault scripts.

    All state lives on the event loop that runs the server; every control method must be
    called from that loop (tests and the demo do so naturally).
    """

    def __init__(
        self,
        token: str = "123456:TEST-TOKEN",
        username: str = "steadfast_test_bot",
        *,
        first_name: str = "Steadfast",
        enforce_limits: bool = False,
        host: str = "127.0.0.1",
        port: int = 0,
        webhook_retry_delay: float = 0.5,
        webhook_timeout: float = 10.0,
        callback_query_timeout: float = 15.0,
        first_update_id: int | None = None,
        flood_control: FloodControl | None = None,
    ) -> None:
        bot_id, sep, secret = token.partition(":")
        if not (bot_id.isdigit() and sep and secret):
            raise ValueError("token must look like '<digits>:<text>'")
        self.token = token
        self.username = username
        self.first_name = first_name
        self.bot_id = int(bot_id)
        self.enforce_limits = enforce_limits
        self.host = host
        self.port = port
        self.webhook_retry_delay = webhook_retry_delay
        self.webhook_timeout = webhook_timeout
        self.callback_query_timeout = callback_query_timeout
        self.flood = flood_control or FloodControl()
        self.violations = 0
        self.calls: list[RecordedCall] = []
        self.webhook_attempts: list[WebhookAttempt] = []

        self._persons: dict[int, Person] = {}
        self._groups: dict[int, Group] = {}
        self._chats: dict[int, list[ChatMessage]] = {}
        self._next_message_id: dict[int, int] = {}
        self._files: dict[str, StoredFile] = {}
        self._files_by_path: dict[str, StoredFile] = {}
        self._file_counter = itertools.count(1)
        self._callbacks: dict[str, _Callback] = {}
        self._commands: dict[tuple[tuple[Any, ...], str], list[dict[str, str]]] = {}
        self._descriptions: dict[tuple[str, str], str] = {}
        self._transcript: list[tuple[int | None, str]] = []
        self._faults: dict[str, deque[_Fault]] = {}
        self._delays: dict[str, deque[float]] = {}
        self._outages: list[_Outage] = []

        # Real update ids start anywhere; a random start catches bots that assume 1.
        self._next_update_id = first_update_id or 100_000_000 + secrets.randbelow(800_000_000)
        self._pending: list[dict[str, Any]] = []
        self._allowed_updates: list[str] | None = None
        self._poll_generation = 0
        self._changed = asyncio.Event()

        self._webhook: _Webhook | None = None
        self._pump: asyncio.Task[None] | None = None
        self._inflight: dict[int, asyncio.Task[None]] = {}

        self._runner: web.AppRunner | None = None
        self._client: aiohttp.ClientSession | None = None
        self._running = False
        self._handlers: dict[str, Callable[[_Params], Awaitable[Any]]] = {
            name: getattr(self, "_api_" + re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower())
            for name in _METHODS
        }

    # ------------------------------------------------------------------ lifecycle

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._running

    async def start(self, port: int | None = None) -> None:
        """Serve on host:port (0 = ephemeral); after stop(), the same port is reused."""
        if self._running:
            raise RuntimeError("emulator already running")
        if port is not None:
            self.port = port
        # A fresh event binds to the loop now running, should an earlier start use another.
        self._changed = asyncio.Event()
        app = web.Application(client_max_size=_MAX_UPLOAD + 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_method)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        # access_log=None: request lines contain the bot token.
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port, reuse_address=True)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self.port = int(runner.addresses[0][1])
        self._runner = runner
        self._client = aiohttp.ClientSession()
        self._running = True
        self._ensure_pump()

    async def stop(self) -> None:
        """Stop serving (connections refused from now on); all state is kept for start()."""
        if not self._running:
            return
        self._running = False
        self._notify()  # pending long polls return at once
        tasks = [t for t in (self._pump, *self._inflight.values()) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._pump = None
        self._inflight.clear()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # ------------------------------------------------------------------ people

    def person(
        self,
        user_id: int,
        first_name: str = "User",
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "en",
    ) -> Person:
        """Register (or update) a simulated person; their private chat id equals user_id."""
        existing = self._persons.get(user_id)
        if existing is not None:
            existing.first_name = first_name
            existing.last_name = last_name
            existing.username = username
            existing.language_code = language_code
            return existing
        person = Person(user_id, first_name, last_name, username, language_code)
        self._persons[user_id] = person
        self._chats[user_id] = []
        self._next_message_id[user_id] = 1
        return person

    async def send_text(self, user_id: int, text: str) -> ChatMessage:
        """The person types a message; commands in it get bot_command entities."""
        msg = self._person_message(user_id, "text", text=text,
                                   entities=self._command_entities(text))
        self._say(user_id, f"{self._name(user_id)}: {_indent(text)}")
        return await self._enqueue_message(msg)

    async def send_command(self, user_id: int, command: str) -> ChatMessage:
        """The person sends a command such as '/start abc123' (a deep link opens this way)."""
        if not command.startswith("/"):
            raise EmulatorAssertionError(f"a command starts with '/': {command!r}")
        return await self.send_text(user_id, command)

    async def send_sticker(self, user_id: int, emoji: str = "👍") -> ChatMessage:
        stored = self._store_file("sticker", FAKE_WEBP, None, "image/webp", width=512, height=512)
        msg = self._person_message(user_id, "sticker", file=stored, sticker_emoji=emoji)
        self._say(user_id, f"{self._name(user_id)}: [sticker {emoji}]")
        return await self._enqueue_message(msg)

    async def send_photo(
        self, user_id: int, data: bytes | None = None, caption: str | None = None
    ) -> ChatMessage:
        data = data if data is not None else tiny_png()
        size = image_size(data)
        if size is None:
            raise EmulatorAssertionError("send_photo needs PNG, JPEG, GIF or WebP bytes")
        stored = self._store_file("photo", data, None, None, width=size[0], height=size[1])
        msg = self._person_message(user_id, "photo", text=caption or "", file=stored)
        self._say(user_id, f"{self._name(user_id)}: [photo]" + (f" {caption}" if caption else ""))
        return await self._enqueue_message(msg)

    async def send_voice(
        self, user_id: int, data: bytes | None = None, duration: int = 2
    ) -> ChatMessage:
        stored = self._store_file(
            "voice", data if data is not None else FAKE_VOICE, None, "audio/ogg",
            duration=duration,
        )
        msg = self._person_message(user_id, "voice", file=stored)
        self._say(user_id, f"{self._name(user_id)}: [voice message, {duration} s]")
        return await self._enqueue_message(msg)

    async def send_document(
        self,
        user_id: int,
        data: bytes,
        file_name: str,
        mime_type: str | None = None,
        caption: str | None = None,
    ) -> ChatMessage:
        mime = mime_type or mimetypes.guess_type(file_name)[0] or "application/octet-stream"
        stored = self._store_file("document", data, file_name, mime)
        msg = self._person_message(user_id, "document", text=caption or "", file=stored)
        self._say(user_id, f"{self._name(user_id)}: [document {file_name}]")
        return await self._enqueue_message(msg)

    async def press_button(
        self,
        user_id: int,
        message_id: int,
        *,
        text: str | None = None,
        callback_data: str | None = None,
    ) -> str:
        """The person taps an inline button; returns the callback query id."""
        if (text is None) == (callback_data is None):
            raise EmulatorAssertionError("press_button needs exactly one of text= or callback_data=")
        person = self._active_person(user_id)
        msg = self._find_visible(user_id, message_id)
        if msg is None:
            raise EmulatorAssertionError(
                f"message {message_id} is not visible in the chat with {person.first_name}; "
                "chat:\n" + "\n".join(self.transcript(user_id))
            )
        wanted = text if text is not None else callback_data
        button = next(
            (b for row in msg.buttons for b in row
             if (b.text if text is not None else b.callback_data) == wanted),
            None,
        )
        if button is None or not msg.from_bot:
            raise EmulatorAssertionError(
                f"message {message_id} for {person.first_name} has no button {wanted!r}; "
                f"its buttons: {msg.button_texts}"
            )
        if button.callback_data is None:
            raise EmulatorAssertionError(
                f"button [{button.text}] opens {button.url!r}; the bot gets no update for it"
            )
        query_id = str(secrets.randbits(62))
        self._callbacks[query_id] = _Callback(user_id, message_id, time.monotonic())
        query = {
            "id": query_id,
            "from": person.user_json(),
            "message": self._message_json(msg),
            # Stable per chat, like Telegram's opaque chat_instance.
            "chat_instance": str((self.bot_id << 24) ^ user_id),
            "data": button.callback_data,
        }
        self._say(user_id, f"{person.first_name} pressed [{button.text}]")
        self._enqueue({"callback_query": query})
        await asyncio.sleep(0)
        return query_id

    # `timeout` is the test API's name for a deadline in seconds, not a cancel scope.
    async def callback_answer(self, query_id: str, timeout: float = 20.0) -> str:  # noqa: ASYNC109
        """Wait for the bot's answerCallbackQuery to this query; return its text ('' if none)."""
        callback = self._callbacks.get(query_id)
        if callback is None:
            raise EmulatorAssertionError(f"unknown callback query id {query_id!r}")
        if not await self._wait_for(lambda: callback.answer is not None, timeout):
            raise EmulatorAssertionError(
                f"the bot did not answer callback query {query_id} within {timeout} s"
            )
        assert callback.answer is not None
        return callback.answer.text

    def callback_answer_details(self, query_id: str) -> CallbackAnswer | None:
        """The full answer (text, show_alert, url) once the bot has answered, else None."""
        callback = self._callbacks.get(query_id)
        return callback.answer if callback else None

    def block(self, user_id: int) -> None:
        """The person blocks the bot: sends to them fail with 403; the bot gets my_chat_member."""
        person = self._require_person(user_id)
        if person.blocked:
            return
        person.blocked = True
        self._say(user_id, f"{person.first_name} blocked the bot")
        self._member_update(person, "member", "kicked")

    def unblock(self, user_id: int) -> None:
        person = self._require_person(user_id)
        if not person.blocked:
            return
        person.blocked = False
        self._say(user_id, f"{person.first_name} unblocked the bot")
        self._member_update(person, "kicked", "member")

    def group(self, chat_id: int, title: str = "Group", *, kind: str = "group",
              with_bot: bool = False) -> Group:
        """Register a group, supergroup or channel (a negative chat id). with_bot=True: the
        bot is in it already (added before, without an update the bot still has to see)."""
        if chat_id >= 0 or kind not in ("group", "supergroup", "channel"):
            raise EmulatorAssertionError(
                "a group needs a negative id and kind group, supergroup or channel")
        group = self._groups.get(chat_id)
        if group is None:
            group = self._groups[chat_id] = Group(chat_id, title, kind)
            self._chats[chat_id] = []
            self._next_message_id[chat_id] = 1
        if with_bot:
            group.bot_status = "administrator" if kind == "channel" else "member"
        return group

    def add_bot_to_group(self, chat_id: int, by: int) -> None:
        """Person `by` adds the bot to the group (or makes it a channel's administrator):
        the bot gets my_chat_member, as on Telegram."""
        group, person = self._require_group(chat_id), self._require_person(by)
        old = group.bot_status
        group.bot_status = "administrator" if group.type == "channel" else "member"
        self._say(chat_id, f"{person.first_name} added the bot to {group.title}")
        self._group_member_update(group, person.user_json(), old, group.bot_status)

    async def send_group_text(self, chat_id: int, user_id: int, text: str) -> ChatMessage:
        """The person writes in a group; the bot gets the update only while it is a member
        (as if it could read every message there)."""
        group, person = self._require_group(chat_id), self._active_person(user_id)
        if group.type == "channel":
            raise EmulatorAssertionError("people do not write in a channel; use channel_post")
        msg = self._new_message(chat_id, from_bot=False, kind="text", text=text,
                                entities=self._command_entities(text), sender_id=user_id)
        self._say(chat_id, f"{person.first_name} in {group.title}: {_indent(text)}")
        if group.bot_is_member:
            self._enqueue({"message": self._message_json(msg)})
        await asyncio.sleep(0)
        return replace(msg)

    async def channel_post(self, chat_id: int, text: str) -> ChatMessage:
        """A post in a channel; the bot, while an administrator there, gets channel_post."""
        group = self._require_group(chat_id)
        if group.type != "channel":
            raise EmulatorAssertionError(f"{group.title} is not a channel")
        msg = self._new_message(chat_id, from_bot=False, kind="text", text=text)
        self._say(chat_id, f"{group.title} posted: {_indent(text)}")
        if group.bot_is_member:
            self._enqueue({"channel_post": self._message_json(msg)})
        await asyncio.sleep(0)
        return replace(msg)

    def inject_update(self, raw: dict[str, Any]) -> int:
        """Queue an update exactly as given (malformed ones included) for getUpdates and the
        webhook; an update_id is added when missing. allowed_updates does not filter it, and
        a callback_query's id in it can be answered. Returns the update id."""
        update = {"update_id": self._next_update_id, **raw}
        if isinstance(update["update_id"], int):
            self._next_update_id = max(self._next_update_id, update["update_id"]) + 1
        query = update.get("callback_query")
        if isinstance(query, dict) and isinstance(query.get("id"), str):
            message: Any = query.get("message")
            message = message if isinstance(message, dict) else {}
            chat: Any = message.get("chat")
            chat = chat if isinstance(chat, dict) else {}
            self._callbacks[query["id"]] = _Callback(
                int(chat.get("id", 0) or 0), int(message.get("message_id", 0) or 0),
                time.monotonic())
        self._pending.append(update)
        self._notify()
        return int(update["update_id"]) if isinstance(update["update_id"], int) else -1

    # ------------------------------------------------------------------ observation

    def chat(self, chat_id: int) -> list[ChatMessage]:
        """Messages visible in the chat, oldest first (copies)."""
        return [replace(m) for m in self._chats.get(chat_id, []) if not m.deleted]

    def deleted(self, chat_id: int) -> list[ChatMessage]:
        """Messages deleted from the chat, in chat order (copies)."""
        return [replace(m) for m in self._chats.get(chat_id, []) if m.deleted]

    async def wait_for_message(
        self,
        chat_id: int,
        contains: str | None = None,
        *,
        timeout: float = 20.0,  # noqa: ASYNC109 - part of the test API, a deadline in seconds
        from_bot: bool | None = True,
        after: int | None = None,
    ) -> ChatMessage:
        """Wait until a visible message matches; return the newest match.

        `after` restricts to message ids above it, so a repeated text is not matched by an
        older message.
        """

        def match() -> ChatMessage | None:
            for m in reversed(self._chats.get(chat_id, [])):
                if m.deleted or (from_bot is not None and m.from_bot != from_bot):
                    continue
                if after is not None and m.message_id <= after:
                    continue
                if contains is None or contains in m.text:
                    return m
            return None

        if not await self._wait_for(lambda: match() is not None, timeout):
            who = "bot " if from_bot else "person's " if from_bot is False else ""
            what = f" containing {contains!r}" if contains is not None else ""
            raise EmulatorAssertionError(
                f"no {who}message{what} in chat {chat_id} within {timeout} s; chat so far:\n"
                + ("\n".join(self.transcript(chat_id)) or "(empty)")
            )
        found = match()
        assert found is not None
        return replace(found)

    def transcript(self, chat_id: int | None = None) -> list[str]:
        """The conversation as readable lines, optionally for one chat only."""
        return [line for cid, line in self._transcript if chat_id is None or cid == chat_id]

    def commands_for(self, chat_id: int, language_code: str | None = None) -> list[str]:
        """Command names the person in this private chat sees, resolved as Telegram does."""
        person = self._persons.get(chat_id)
        if language_code is None:
            language_code = person.language_code if person else None
        lang = language_code or ""
        for scope in (("chat", chat_id), ("all_private_chats",), ("default",)):
            for code in dict.fromkeys((lang, "")):
                commands = self._commands.get((scope, code))
                if commands:
                    return [c["command"] for c in commands]
        return []

    def file(self, file_id: str) -> StoredFile:
        try:
            return self._files[file_id]
        except KeyError:
            raise EmulatorAssertionError(f"no stored file {file_id!r}") from None

    @property
    def files(self) -> list[StoredFile]:
        return list(self._files.values())

    @property
    def pending_update_count(self) -> int:
        return len(self._pending)

    @property
    def webhook_url(self) -> str | None:
        return self._webhook.url if self._webhook else None

    def calls_of(self, method: str) -> list[RecordedCall]:
        name = self._canonical(method)
        return [c for c in self.calls if c.method == name]

    # ------------------------------------------------------------------ fault scripts

    def fail_next(
        self,
        method: str,
        count: int = 1,
        error_code: int = 502,
        description: str | None = None,
        retry_after: int | None = None,
        *,
        after_effect: bool = False,
    ) -> None:
        """Answer the next `count` calls of `method` with an error.

        after_effect=True applies the call before answering the error, like a reply lost on
        its way back from Telegram (the message is delivered, the bot sees a failure).
        """
        fault = self._make_fault(error_code, description, retry_after,
                                 after_effect=after_effect)
        self._faults.setdefault(self._canonical(method), deque()).extend([fault] * count)

    def fail_for(
        self,
        seconds: float,
        error_code: int = 502,
        methods: Iterable[str] | None = None,
        description: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        """Answer every call (or every call of `methods`) with an error until `seconds` have
        passed, like Telegram being down: getUpdates included, so nothing reaches the bot
        either. Overlapping outages add up; clear_faults() ends them all. A scripted
        fail_next() fault still answers first."""
        if seconds <= 0:
            raise ValueError("an outage lasts a positive number of seconds")
        names = None if methods is None else frozenset(self._canonical(m) for m in methods)
        fault = self._make_fault(error_code, description, retry_after, after_effect=False)
        self._outages.append(_Outage(time.monotonic() + seconds, fault, names))

    def outage_active(self, method: str | None = None) -> bool:
        """Whether an outage answers `method` (any method if None) right now."""
        return self._outage_for(None if method is None else self._canonical(method)) is not None

    def _outage_for(self, method: str | None) -> _Fault | None:
        now = time.monotonic()
        self._outages = [o for o in self._outages if o.until > now]
        for outage in self._outages:
            if method is None or outage.methods is None or method in outage.methods:
                return outage.fault
        return None

    @staticmethod
    def _make_fault(error_code: int, description: str | None, retry_after: int | None, *,
                    after_effect: bool) -> _Fault:
        if error_code == 429 and retry_after is None:
            retry_after = 1
        if description is None:
            if retry_after is not None:
                description = f"Too Many Requests: retry after {retry_after}"
            else:
                description = _DEFAULT_DESCRIPTIONS.get(error_code, "Error")
        return _Fault(error_code, description, retry_after, after_effect)

    def delay_next(self, method: str, count: int = 1, seconds: float = 2.0) -> None:
        """Hold the next `count` calls of `method` for `seconds` before handling them."""
        self._delays.setdefault(self._canonical(method), deque()).extend([seconds] * count)

    def outage(self, *methods: str, error_code: int = 502) -> None:
        """Answer every call of `methods` (of every method if none are named) with
        `error_code` until end_outage(): Telegram down for as long as a test wants."""
        fault = self._make_fault(error_code, None, None, after_effect=False)
        names = frozenset(self._canonical(m) for m in methods) if methods else None
        self._outages.append(_Outage(math.inf, fault, names))

    def end_outage(self) -> None:
        """End every outage begun with outage(); timed ones from fail_for() run their course."""
        self._outages = [o for o in self._outages if o.until != math.inf]

    def clear_faults(self) -> None:
        self._faults.clear()
        self._delays.clear()
        self._outages.clear()

    # ------------------------------------------------------------------ HTTP surface

    async def _handle_method(self, request: web.Request) -> web.Response:
        if not hmac.compare_digest(request.match_info["token"].encode(), self.token.encode()):
            return self._error_response(ApiError(401, "Unauthorized"))
        method = _CANONICAL.get(request.match_info["method"].lower())
        if method is None:
            return self._error_response(ApiError(404, "Not Found"))
        try:
            params = await self._read_params(request)
        except ApiError as exc:
            return self._error_response(exc)
        body, status = await self._invoke(method, params, source="http")
        return web.json_response(body, status=status)

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        if not hmac.compare_digest(request.match_info["token"].encode(), self.token.encode()):
            return self._error_response(ApiError(401, "Unauthorized"))
        stored = self._files_by_path.get(request.match_info["path"])
        if stored is None:
            return self._error_response(ApiError(404, "Not Found"))
        return web.Response(
            body=stored.data, content_type=stored.mime_type or "application/octet-stream"
        )

    @staticmethod
    def _error_response(exc: ApiError) -> web.Response:
        return web.json_response(BotAPIEmulator._error_body(exc), status=exc.code)

    @staticmethod
    def _error_body(exc: ApiError) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": False, "error_code": exc.code,
                                "description": exc.description}
        if exc.parameters:
            body["parameters"] = exc.parameters
        return body

    async def _read_params(self, request: web.Request) -> _Params:
        values: dict[str, Any] = dict(request.query)
        files: dict[str, _Upload] = {}
        if request.method == "POST" and request.can_read_body:
            if request.content_type == "application/json":
                try:
                    body = await request.json()
                except ValueError:
                    raise ApiError(400, "Bad Request: can't parse JSON request") from None
                if not isinstance(body, dict):
                    raise ApiError(400, "Bad Request: can't parse JSON request")
                values.update(body)
            else:
                try:
                    form = await request.post()
                except web.HTTPRequestEntityTooLarge:
                    raise ApiError(413, "Request Entity Too Large") from None
                for key, value in form.items():
                    if isinstance(value, web.FileField):
                        files[key] = _Upload(value.filename, value.content_type,
                                             value.file.read())
                    elif isinstance(value, bytes):
                        values[key] = value.decode("utf-8", errors="replace")
                    else:
                        values[key] = value
        return _Params(values, files)

    async def _invoke(self, method: str, params: _Params, *, source: str) -> tuple[Any, int]:
        """Run one call with its fault script; return (JSON body, HTTP status)."""
        chat_id: int | None = None
        with contextlib.suppress(TypeError, ValueError):
            chat_id = int(params.values["chat_id"]) if "chat_id" in params.values else None
        call = RecordedCall(method, params.recorded(), time.monotonic(), chat_id, source=source)
        self.calls.append(call)
        delays = self._delays.get(method)
        if delays:
            await asyncio.sleep(delays.popleft())
        faults = self._faults.get(method)
        fault = faults.popleft() if faults else None
        # A scripted fault comes first, so a test can make one call fail its own way mid-outage.
        if fault is None:
            fault = self._outage_for(method)
        result: Any = None
        try:
            if fault is not None and not fault.after_effect:
                raise self._fault_error(fault)
            result = await self._handlers[method](params)
            if fault is not None:
                raise self._fault_error(fault)
        except ApiError as exc:
            call.error_code, call.description = exc.code, exc.description
            return self._error_body(exc), exc.code
        except Exception:
            # An emulator bug must look like a Telegram hiccup, not hang the bot.
            log.exception("emulator failed handling %s", method)
            call.error_code, call.description = 500, "Internal Server Error"
            return self._error_body(ApiError(500, "Internal Server Error")), 500
        finally:
            self._notify()
        body: dict[str, Any] = {"ok": True, "result": result}
        if method == "setWebhook":
            body["description"] = "Webhook was set" if self._webhook else "Webhook was deleted"
        elif method == "deleteWebhook":
            body["description"] = "Webhook was deleted"
        return body, 200

    @staticmethod
    def _fault_error(fault: _Fault) -> ApiError:
        parameters = {"retry_after": fault.retry_after} if fault.retry_after is not None else None
        return ApiError(fault.error_code, fault.description, parameters)

    def _canonical(self, method: str) -> str:
        try:
            return _CANONICAL[method.lower()]
        except KeyError:
            raise ValueError(f"the emulator does not implement {method!r}") from None

    # ------------------------------------------------------------------ shared helpers

    def _notify(self) -> None:
        """Wake everything waiting for a state change (long polls, waits, the webhook pump)."""
        self._changed.set()
        self._changed = asyncio.Event()

    async def _wait_for(self, predicate: Callable[[], bool], seconds: float) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while True:
            event = self._changed
            if predicate():
                return True
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)

    def _say(self, chat_id: int | None, line: str) -> None:
        self._transcript.append((chat_id, line))

    def _name(self, user_id: int) -> str:
        person = self._persons.get(user_id)
        return person.first_name if person else str(user_id)

    @staticmethod
    def _command_entities(text: str) -> list[dict[str, Any]]:
        return [
            {"type": "bot_command", "offset": utf16_len(text[: m.start()]),
             "length": utf16_len(m.group(0))}
            for m in _COMMAND_RE.finditer(text)
        ]

    def _require_group(self, chat_id: int) -> Group:
        group = self._groups.get(chat_id)
        if group is None:
            raise EmulatorAssertionError(f"no group {chat_id}; register it with emu.group()")
        return group

    def _group_member_update(self, group: Group, by: dict[str, Any], old: str,
                             new: str) -> None:
        def member(status: str) -> dict[str, Any]:
            data: dict[str, Any] = {"status": status, "user": self._bot_user_json()}
            if status == "kicked":
                data["until_date"] = 0
            if status == "administrator":
                data.update(can_be_edited=False, is_anonymous=False, can_manage_chat=True,
                            can_delete_messages=True, can_manage_video_chats=False,
                            can_restrict_members=False, can_promote_members=False,
                            can_change_info=False, can_invite_users=False,
                            can_post_stories=False, can_edit_stories=False,
                            can_delete_stories=False, can_post_messages=True)
            return data

        self._enqueue({"my_chat_member": {
            "chat": group.chat_json(), "from": by, "date": _now(),
            "old_chat_member": member(old), "new_chat_member": member(new),
        }})

    def _require_person(self, user_id: int) -> Person:
        person = self._persons.get(user_id)
        if person is None:
            raise EmulatorAssertionError(f"no person {user_id}; register them with emu.person()")
        return person

    def _active_person(self, user_id: int) -> Person:
        person = self._require_person(user_id)
        if person.blocked:
            raise EmulatorAssertionError(
                f"{person.first_name} blocked the bot; call emu.unblock({user_id}) first"
            )
        return person

    def _find_visible(self, chat_id: int, message_id: int) -> ChatMessage | None:
        return next(
            (m for m in self._chats.get(chat_id, [])
             if m.message_id == message_id and not m.deleted),
            None,
        )

    def _bot_user_json(self) -> dict[str, Any]:
        return {"id": self.bot_id, "is_bot": True, "first_name": self.first_name,
                "username": self.username}

    def _new_message(self, chat_id: int, *, from_bot: bool, kind: str, **fields: Any) -> ChatMessage:
        message_id = self._next_message_id[chat_id]
        self._next_message_id[chat_id] = message_id + 1
        msg = ChatMessage(chat_id=chat_id, message_id=message_id, from_bot=from_bot,
                          date=_now(), kind=kind, **fields)
        self._chats[chat_id].append(msg)
        return msg

    def _person_message(self, user_id: int, kind: str, **fields: Any) -> ChatMessage:
        person = self._active_person(user_id)
        person.has_chat = True
        return self._new_message(user_id, from_bot=False, kind=kind, **fields)

    async def _enqueue_message(self, msg: ChatMessage) -> ChatMessage:
        self._enqueue({"message": self._message_json(msg)})
        await asyncio.sleep(0)
        return replace(msg)

    def _member_update(self, person: Person, old: str, new: str) -> None:
        def member(status: str) -> dict[str, Any]:
            data: dict[str, Any] = {"status": status, "user": self._bot_user_json()}
            if status == "kicked":
                data["until_date"] = 0
            return data

        self._enqueue({"my_chat_member": {
            "chat": person.chat_json(), "from": person.user_json(), "date": _now(),
            "old_chat_member": member(old), "new_chat_member": member(new),
        }})

    def _allowed(self, update_type: str) -> bool:
        if not self._allowed_updates:
            return update_type not in _OPT_IN_UPDATES
        return update_type in self._allowed_updates

    def _enqueue(self, update: dict[str, Any]) -> None:
        # allowed_updates filters when an update is created, as Telegram documents.
        if not self._allowed(_update_type(update)):
            return
        self._pending.append({"update_id": self._next_update_id, **update})
        self._next_update_id += 1
        self._notify()

    def _store_file(
        self,
        kind: str,
        data: bytes,
        file_name: str | None,
        mime_type: str | None,
        **extra: Any,
    ) -> StoredFile:
        number = next(self._file_counter)
        if file_name and "." in file_name:
            ext = file_name.rsplit(".", 1)[1].lower()
        else:
            ext = {"photo": "jpg", "voice": "oga", "sticker": "webp"}.get(kind, "bin")
        stored = StoredFile(
            file_id=_FILE_PREFIX[kind] + secrets.token_urlsafe(24),
            file_unique_id="AgAD" + secrets.token_urlsafe(9),
            file_path=f"{_FILE_FOLDER[kind]}/file_{number}.{ext}",
            file_name=file_name,
            mime_type=mime_type,
            data=data,
            **extra,
        )
        self._files[stored.file_id] = stored
        self._files_by_path[stored.file_path] = stored
        return stored

    def _message_json(self, msg: ChatMessage, *, with_reply: bool = True) -> dict[str, Any]:
        group = self._groups.get(msg.chat_id)
        data: dict[str, Any] = {"message_id": msg.message_id}
        if group is None:
            person = self._persons[msg.chat_id]
            data["from"] = self._bot_user_json() if msg.from_bot else person.user_json()
            data["chat"] = person.chat_json()
        else:
            if msg.from_bot:
                data["from"] = self._bot_user_json()
            elif msg.sender_id is not None:
                data["from"] = self._persons[msg.sender_id].user_json()
            else:  # a channel's own post
                data["sender_chat"] = group.chat_json()
            data["chat"] = group.chat_json()
        data["date"] = msg.date
        stored = msg.file
        text_key, entities_key = ("text", "entities") if msg.kind == "text" else (
            "caption", "caption_entities")
        if stored is not None:
            base = {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id,
                    "file_size": stored.size}
            if msg.kind == "document":
                data["document"] = {**base, "file_name": stored.file_name,
                                    "mime_type": stored.mime_type}
            elif msg.kind == "photo":
                data["photo"] = [{**base, "width": stored.width, "height": stored.height}]
            elif msg.kind == "voice":
                data["voice"] = {**base, "duration": stored.duration or 0,
                                 "mime_type": stored.mime_type}
            elif msg.kind == "sticker":
                data["sticker"] = {**base, "type": "regular", "width": stored.width,
                                   "height": stored.height, "is_animated": False,
                                   "is_video": False, "emoji": msg.sticker_emoji}
        if msg.text or msg.kind == "text":
            data[text_key] = msg.text
        if msg.entities:
            data[entities_key] = msg.entities
        if msg.edit_date is not None:
            data["edit_date"] = msg.edit_date
        if msg.reply_markup is not None:
            data["reply_markup"] = msg.reply_markup
        if with_reply and msg.reply_to_message_id is not None:
            original = next((m for m in self._chats[msg.chat_id]
                             if m.message_id == msg.reply_to_message_id), None)
            if original is not None and not original.deleted:
                data["reply_to_message"] = self._message_json(original, with_reply=False)
        return data

    # ------------------------------------------------------------------ validation helpers

    def _target(self, params: _Params) -> Person:
        """The private chat a send/edit addresses, with Telegram's 400/403 answers."""
        raw = params.raw("chat_id")
        if raw is None:
            raise ApiError(400, "Bad Request: chat_id is empty")
        try:
            chat_id = int(raw)
        except (TypeError, ValueError):
            raise ApiError(400, CHAT_NOT_FOUND) from None
        group = self._groups.get(chat_id)
        if group is not None:
            self._require_member(group)
            # Only sendMessage, sendPhoto and sendDocument are emulated in groups.
            raise ApiError(400, "Bad Request: message to edit not found")
        person = self._persons.get(chat_id)
        if person is None or not person.has_chat:
            raise ApiError(400, CHAT_NOT_FOUND)
        if person.blocked:
            raise ApiError(403, BLOCKED)
        return person

    def _group_target(self, params: _Params) -> Group | None:
        """The group a send addresses (the bot must be in it), or None for a private chat."""
        try:
            group = self._groups.get(int(params.raw("chat_id")))
        except (TypeError, ValueError):
            return None
        if group is not None:
            self._require_member(group)
        return group

    @staticmethod
    def _require_member(group: Group) -> None:
        if not group.bot_is_member:
            kind = "group" if group.type == "group" else group.type
            raise ApiError(403, f"Forbidden: bot is not a member of the {kind} chat")

    def _render(
        self,
        params: _Params,
        text_field: str,
        entities_field: str,
        *,
        limit: int,
        too_long: str,
        empty: str | None,
    ) -> tuple[str, list[dict[str, Any]]]:
        text = params.get_str(text_field) or ""
        entities = params.get_json(entities_field)
        if entities is not None:
            if not isinstance(entities, list):
                raise ApiError(400, f"Bad Request: can't parse {entities_field} JSON object")
            rendered = text, [e for e in entities if isinstance(e, dict)]
        else:
            mode = params.get_str("parse_mode")
            try:
                rendered = parse_text(text, mode)
            except EntityParseError as exc:
                if mode and mode.lower() not in ("html", "markdown", "markdownv2"):
                    raise ApiError(400, "Bad Request: unsupported parse_mode") from None
                raise ApiError(400, f"Bad Request: can't parse entities: {exc}") from None
        if empty is not None and not rendered[0].strip():
            raise ApiError(400, empty)
        if utf16_len(rendered[0]) > limit:
            raise ApiError(400, too_long)
        return rendered

    def _markup(self, params: _Params) -> tuple[dict[str, Any] | None, list[list[Button]]]:
        """Validate reply_markup; only an inline keyboard is echoed back in the Message."""
        markup = params.get_json("reply_markup")
        if markup is None:
            return None, []
        if not isinstance(markup, dict):
            raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
        rows = markup.get("inline_keyboard")
        if rows is None:
            return None, []
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise ApiError(400, "Bad Request: can't parse inline keyboard markup JSON object")
        buttons: list[list[Button]] = []
        for row in rows:
            parsed: list[Button] = []
            for raw in row:
                if not isinstance(raw, dict) or not str(raw.get("text", "")).strip():
                    raise ApiError(400, "Bad Request: BUTTON_TEXT_INVALID")
                data, url = raw.get("callback_data"), raw.get("url")
                if data is not None and not 1 <= len(str(data).encode("utf-8")) <= 64:
                    raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
                if url is not None and not re.match(r"(https?|tg)://\S+$", str(url)):
                    raise ApiError(400, "Bad Request: BUTTON_URL_INVALID")
                if data is None and url is None and not (set(raw) - {"text"}):
                    raise ApiError(400, "Bad Request: can't parse inline keyboard button: "
                                        "Text buttons are unallowed in the inline keyboard")
                parsed.append(Button(str(raw["text"]), None if data is None else str(data),
                                     None if url is None else str(url)))
            buttons.append(parsed)
        return {"inline_keyboard": rows}, buttons

    def _limit(self, method: str, chat_id: int) -> None:
        if not self.enforce_limits:
            return
        if method in _PER_CHAT_LIMITED:
            retry = self.flood.acquire(chat_id, per_chat=True)
        elif method in _GLOBAL_LIMITED:
            retry = self.flood.acquire(chat_id, per_chat=False)
        else:
            return
        if retry is not None:
            self.violations += 1
            raise ApiError(429, f"Too Many Requests: retry after {retry}",
                           {"retry_after": retry})

    def _reply_to(self, params: _Params, chat_id: int) -> int | None:
        reply = params.get_json("reply_parameters")
        message_id = params.get_int("reply_to_message_id")
        allow_missing = params.get_bool("allow_sending_without_reply")
        if isinstance(reply, dict):
            message_id = int(reply.get("message_id", 0)) or None
            allow_missing = bool(reply.get("allow_sending_without_reply", allow_missing))
        if message_id is None:
            return None
        if self._find_visible(chat_id, message_id) is None:
            if allow_missing:
                return None
            raise ApiError(400, "Bad Request: message to be replied not found")
        return message_id

    def _editable(self, params: _Params, not_found: str) -> ChatMessage:
        if params.raw("inline_message_id") is not None:
            raise ApiError(400, not_found)  # inline mode is not emulated
        person = self._target(params)
        message_id = params.get_int("message_id", missing="Bad Request: message identifier is not "
                                "specified", invalid=not_found)
        assert message_id is not None
        msg = self._find_visible(person.user_id, message_id)
        if msg is None:
            raise ApiError(400, not_found)
        return msg

    # ------------------------------------------------------------------ Bot API methods

    async def _api_get_me(self, params: _Params) -> Any:
        return {**self._bot_user_json(), "can_join_groups": True,
                "can_read_all_group_messages": False, "supports_inline_queries": False,
                "can_connect_to_business": False, "has_main_web_app": False}

    async def _api_get_updates(self, params: _Params) -> Any:
        if self._webhook is not None:
            raise ApiError(409, WEBHOOK_CONFLICT)
        offset = params.get_int("offset") or 0
        limit = min(max(params.get_int("limit") or 100, 1), 100)
        timeout = max(params.get_int("timeout") or 0, 0)
        allowed = params.get_json("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = [str(a) for a in allowed]
        # A newer getUpdates ends an older one that is still waiting, as on Telegram.
        self._poll_generation += 1
        generation = self._poll_generation
        self._notify()
        if offset > 0:
            self._pending = [u for u in self._pending if u["update_id"] >= offset]
        elif offset < 0:
            self._pending = self._pending[offset:]
        await self._wait_for(
            lambda: bool(self._pending) or generation != self._poll_generation
            or not self._running or self._webhook is not None,
            timeout,
        )
        if generation != self._poll_generation:
            raise ApiError(409, POLL_CONFLICT)
        if self._webhook is not None:
            raise ApiError(409, WEBHOOK_CONFLICT)
        return [dict(u) for u in self._pending[:limit]]

    async def _api_send_message(self, params: _Params) -> Any:
        group = self._group_target(params)
        person = self._target(params) if group is None else None
        text, entities = self._render(params, "text", "entities", limit=4096,
                                      too_long="Bad Request: message is too long",
                                      empty="Bad Request: message text is empty")
        markup, buttons = self._markup(params)
        if group is not None:
            msg = self._new_message(group.chat_id, from_bot=True, kind="text", text=text,
                                    entities=entities, reply_markup=markup, buttons=buttons)
            self._say(group.chat_id,
                      f"Bot in {group.title}: {_indent(text)}{_button_lines(buttons)}")
            return self._message_json(msg)
        assert person is not None
        reply_to = self._reply_to(params, person.user_id)
        self._limit("sendMessage", person.user_id)
        msg = self._new_message(person.user_id, from_bot=True, kind="text", text=text,
                                entities=entities, reply_markup=markup, buttons=buttons,
                                reply_to_message_id=reply_to)
        self._say(person.user_id,
                  f"Bot → {person.first_name}: {_indent(text)}{_button_lines(buttons)}")
        return self._message_json(msg)

    async def _send_media(self, params: _Params, kind: str, method: str) -> Any:
        group = self._group_target(params)
        person = self._target(params) if group is None else None
        source = params.file(kind)
        if source is None:
            raise ApiError(400, f"Bad Request: there is no {kind} in the request")
        if isinstance(source, str):
            stored = self._files.get(source)
            if stored is None:
                if source.startswith(("http://", "https://")):
                    raise ApiError(400, "Bad Request: failed to get HTTP URL content")
                raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
        else:
            stored = self._store_upload(kind, source)
        caption, entities = self._render(params, "caption", "caption_entities", limit=1024,
                                         too_long="Bad Request: message caption is too long",
                                         empty=None)
        markup, buttons = self._markup(params)
        if group is not None:
            msg = self._new_message(group.chat_id, from_bot=True, kind=kind, text=caption,
                                    entities=entities, reply_markup=markup, buttons=buttons,
                                    file=stored)
            self._say(group.chat_id, f"Bot in {group.title}: [{kind}] {_indent(caption)}")
            return self._message_json(msg)
        assert person is not None
        reply_to = self._reply_to(params, person.user_id)
        self._limit(method, person.user_id)
        msg = self._new_message(person.user_id, from_bot=True, kind=kind, text=caption,
                                entities=entities, reply_markup=markup, buttons=buttons,
                                file=stored, reply_to_message_id=reply_to)
        label = (f"[document {stored.file_name}, {_human_size(stored.size)}]"
                 if kind == "document" else "[photo]")
        caption_part = f" {_indent(caption)}" if caption else ""
        self._say(person.user_id,
                  f"Bot → {person.first_name}: {label}{caption_part}{_button_lines(buttons)}")
        return self._message_json(msg)

    async def _api_leave_chat(self, params: _Params) -> Any:
        chat_id = params.get_int("chat_id", missing="Bad Request: chat_id is empty",
                                 invalid=CHAT_NOT_FOUND)
        assert chat_id is not None
        group = self._groups.get(chat_id)
        if group is None:
            if chat_id in self._persons:
                raise ApiError(400, "Bad Request: chat member status can't be changed in "
                                    "private chats")
            raise ApiError(400, CHAT_NOT_FOUND)
        self._require_member(group)
        old, group.bot_status = group.bot_status, "left"
        self._say(chat_id, f"Bot left {group.title}")
        self._group_member_update(group, self._bot_user_json(), old, "left")
        return True

    def _store_upload(self, kind: str, upload: _Upload) -> StoredFile:
        if len(upload.data) > _MAX_UPLOAD:
            raise ApiError(413, "Request Entity Too Large")
        if not upload.data:
            raise ApiError(400, "Bad Request: file must be non-empty")
        if kind == "photo":
            if len(upload.data) > _MAX_PHOTO:
                raise ApiError(400, "Bad Request: PHOTO_INVALID_DIMENSIONS")
            size = image_size(upload.data)
            if size is None:
                raise ApiError(400, "Bad Request: IMAGE_PROCESS_FAILED")
            mime = mimetypes.guess_type(upload.filename or "")[0] or "image/jpeg"
            return self._store_file("photo", upload.data, upload.filename, mime,
                                    width=size[0], height=size[1])
        name = upload.filename or "document"
        doc_mime: str | None = mimetypes.guess_type(name)[0]
        if doc_mime is None and upload.content_type not in (None, "application/octet-stream"):
            doc_mime = upload.content_type
        return self._store_file(
            "document", upload.data, name, doc_mime or "application/octet-stream"
        )

    async def _api_send_document(self, params: _Params) -> Any:
        return await self._send_media(params, "document", "sendDocument")

    async def _api_send_photo(self, params: _Params) -> Any:
        return await self._send_media(params, "photo", "sendPhoto")

    async def _api_send_chat_action(self, params: _Params) -> Any:
        self._target(params)
        return True

    async def _api_edit_message_text(self, params: _Params) -> Any:
        msg = self._editable(params, EDIT_NOT_FOUND)
        if not msg.from_bot:
            raise ApiError(400, "Bad Request: message can't be edited")
        if msg.kind != "text":
            raise ApiError(400, "Bad Request: there is no text in the message to edit")
        text, entities = self._render(params, "text", "entities", limit=4096,
                                      too_long="Bad Request: message is too long",
                                      empty="Bad Request: message text is empty")
        markup, buttons = self._markup(params)
        if (text, entities, markup) == (msg.text, msg.entities, msg.reply_markup):
            raise ApiError(400, NOT_MODIFIED)
        self._limit("editMessageText", msg.chat_id)
        msg.text, msg.entities, msg.reply_markup, msg.buttons = text, entities, markup, buttons
        msg.edited, msg.edit_date = True, _now()
        self._say(msg.chat_id, f"Bot edited message {msg.message_id} for "
                  f"{self._name(msg.chat_id)}: {_indent(text)}{_button_lines(buttons)}")
        return self._message_json(msg)

    async def _api_edit_message_caption(self, params: _Params) -> Any:
        msg = self._editable(params, EDIT_NOT_FOUND)
        if not msg.from_bot:
            raise ApiError(400, "Bad Request: message can't be edited")
        if msg.kind == "text":
            raise ApiError(400, "Bad Request: there is no caption in the message to edit")
        caption, entities = self._render(params, "caption", "caption_entities", limit=1024,
                                         too_long="Bad Request: message caption is too long",
                                         empty=None)
        markup, buttons = self._markup(params)
        if (caption, entities, markup) == (msg.text, msg.entities, msg.reply_markup):
            raise ApiError(400, NOT_MODIFIED)
        self._limit("editMessageCaption", msg.chat_id)
        msg.text, msg.entities, msg.reply_markup, msg.buttons = caption, entities, markup, buttons
        msg.edited, msg.edit_date = True, _now()
        self._say(msg.chat_id, f"Bot edited the caption of message {msg.message_id} for "
                  f"{self._name(msg.chat_id)}: {_indent(caption)}{_button_lines(buttons)}")
        return self._message_json(msg)

    async def _api_edit_message_reply_markup(self, params: _Params) -> Any:
        msg = self._editable(params, EDIT_NOT_FOUND)
        if not msg.from_bot:
            raise ApiError(400, "Bad Request: message can't be edited")
        markup, buttons = self._markup(params)
        if markup == msg.reply_markup:
            raise ApiError(400, NOT_MODIFIED)
        self._limit("editMessageReplyMarkup", msg.chat_id)
        msg.reply_markup, msg.buttons = markup, buttons
        msg.edited, msg.edit_date = True, _now()
        name = self._name(msg.chat_id)
        if buttons:
            line = (f"Bot changed the buttons of message {msg.message_id} for {name}:"
                    f"{_button_lines(buttons)}")
        else:
            line = f"Bot removed the buttons of message {msg.message_id} for {name}"
        self._say(msg.chat_id, line)
        return self._message_json(msg)

    async def _api_delete_message(self, params: _Params) -> Any:
        msg = self._editable(params, DELETE_NOT_FOUND)
        # In private chats a bot may delete any message, but only within 48 hours.
        if _now() - msg.date > 48 * 3600:
            raise ApiError(400, "Bad Request: message can't be deleted for everyone")
        msg.deleted = True
        self._say(msg.chat_id,
                  f"Bot deleted message {msg.message_id} for {self._name(msg.chat_id)}")
        return True

    async def _api_answer_callback_query(self, params: _Params) -> Any:
        query_id = params.get_str("callback_query_id") or ""
        callback = self._callbacks.get(query_id)
        expired = (callback is not None
                   and time.monotonic() - callback.created > self.callback_query_timeout)
        if callback is None or callback.answer is not None or expired:
            raise ApiError(400, QUERY_TOO_OLD)
        text = params.get_str("text") or ""
        if len(text) > 200:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        show_alert = params.get_bool("show_alert")
        callback.answer = CallbackAnswer(text, show_alert, params.get_str("url"))
        if text:
            style = "popup" if show_alert else "notification"
            self._say(callback.chat_id,
                      f"Bot → {self._name(callback.chat_id)} ({style}): {_indent(text)}")
        return True

    def _scope_key(self, params: _Params) -> tuple[Any, ...]:
        scope = params.get_json("scope") or {"type": "default"}
        if not isinstance(scope, dict):
            raise ApiError(400, "Bad Request: can't parse scope JSON object")
        kind = scope.get("type")
        if kind in ("default", "all_private_chats", "all_group_chats",
                    "all_chat_administrators"):
            return (kind,)
        if kind in ("chat", "chat_administrators", "chat_member"):
            try:
                chat_id = int(scope["chat_id"])
            except (KeyError, TypeError, ValueError):
                raise ApiError(400, CHAT_NOT_FOUND) from None
            person = self._persons.get(chat_id)
            if person is None or not person.has_chat:
                raise ApiError(400, CHAT_NOT_FOUND)
            if kind == "chat_member":
                return (kind, chat_id, int(scope.get("user_id", 0)))
            return (kind, chat_id)
        raise ApiError(400, "Bad Request: wrong scope type specified")

    async def _api_set_my_commands(self, params: _Params) -> Any:
        commands = params.get_json("commands")
        if not isinstance(commands, list):
            raise ApiError(400, "Bad Request: can't parse commands JSON object")
        if len(commands) > 100:
            raise ApiError(400, "Bad Request: too many commands specified")
        cleaned: list[dict[str, str]] = []
        for item in commands:
            if not isinstance(item, dict):
                raise ApiError(400, "Bad Request: can't parse BotCommand JSON object")
            name = str(item.get("command", "")).removeprefix("/")
            description = str(item.get("description", "")).strip()
            if not _BOT_COMMAND_RE.fullmatch(name):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(description) <= 256:
                raise ApiError(400, "Bad Request: command description is empty"
                               if not description else "Bad Request: BOT_COMMAND_INVALID")
            cleaned.append({"command": name, "description": description})
        key = (self._scope_key(params), params.get_str("language_code") or "")
        if cleaned:
            self._commands[key] = cleaned
        else:
            self._commands.pop(key, None)
        return True

    async def _api_get_my_commands(self, params: _Params) -> Any:
        key = (self._scope_key(params), params.get_str("language_code") or "")
        return [dict(c) for c in self._commands.get(key, [])]

    async def _api_delete_my_commands(self, params: _Params) -> Any:
        self._commands.pop((self._scope_key(params), params.get_str("language_code") or ""), None)
        return True

    async def _api_set_my_description(self, params: _Params) -> Any:
        self._descriptions[("description", params.get_str("language_code") or "")] = (
            params.get_str("description") or "")
        return True

    async def _api_get_my_description(self, params: _Params) -> Any:
        lang = params.get_str("language_code") or ""
        return {"description": self._descriptions.get(("description", lang), "")}

    async def _api_set_my_short_description(self, params: _Params) -> Any:
        self._descriptions[("short", params.get_str("language_code") or "")] = (
            params.get_str("short_description") or "")
        return True

    async def _api_get_my_short_description(self, params: _Params) -> Any:
        lang = params.get_str("language_code") or ""
        return {"short_description": self._descriptions.get(("short", lang), "")}

    async def _api_get_file(self, params: _Params) -> Any:
        stored = self._files.get(params.get_str("file_id") or "")
        if stored is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        if stored.size > _MAX_DOWNLOAD:
            raise ApiError(400, "Bad Request: file is too big")
        return {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id,
                "file_size": stored.size, "file_path": stored.file_path}

    # ------------------------------------------------------------------ webhook

    async def _api_set_webhook(self, params: _Params) -> Any:
        url = params.get_str("url") or ""
        if params.get_bool("drop_pending_updates"):
            self._pending.clear()
        allowed = params.get_json("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = [str(a) for a in allowed]
        if not url:
            await self._remove_webhook()
            return True
        if not re.match(r"https?://[^\s/]+", url):
            raise ApiError(400, "Bad Request: bad webhook: An HTTPS URL must be provided for "
                           "webhook")
        secret = params.get_str("secret_token")
        if secret is not None and not _SECRET_RE.fullmatch(secret):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        max_connections = params.get_int("max_connections") or 40
        if not 1 <= max_connections <= 100:
            raise ApiError(400, "Bad Request: bad webhook: max_connections must be in 1..100")
        self._webhook = _Webhook(url, secret, max_connections, params.get_str("ip_address"))
        # Any getUpdates still waiting ends with 409 now; the pump takes over.
        self._ensure_pump()
        return True

    async def _api_delete_webhook(self, params: _Params) -> Any:
        if params.get_bool("drop_pending_updates"):
            self._pending.clear()
        await self._remove_webhook()
        return True

    async def _api_get_webhook_info(self, params: _Params) -> Any:
        info: dict[str, Any] = {"url": "", "has_custom_certificate": False,
                                "pending_update_count": len(self._pending)}
        hook = self._webhook
        if hook is not None:
            info["url"] = hook.url
            info["max_connections"] = hook.max_connections
            if hook.ip_address:
                info["ip_address"] = hook.ip_address
            if hook.last_error_date is not None:
                info["last_error_date"] = hook.last_error_date
                info["last_error_message"] = hook.last_error_message
        if self._allowed_updates:
            info["allowed_updates"] = list(self._allowed_updates)
        return info

    async def _remove_webhook(self) -> None:
        self._webhook = None
        current = asyncio.current_task()
        tasks = [t for t in (self._pump, *self._inflight.values())
                 if t is not None and t is not current]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._pump = None
        self._inflight = {k: t for k, t in self._inflight.items() if t is current}

    def _ensure_pump(self) -> None:
        if self._running and self._webhook is not None and (
                self._pump is None or self._pump.done()):
            self._pump = asyncio.create_task(self._webhook_pump(), name="emulator-webhook")

    async def _webhook_pump(self) -> None:
        """Start one delivery per chat at a time, oldest update first, as Telegram does."""
        while self._running and self._webhook is not None:
            event = self._changed
            hook = self._webhook
            seen: set[int] = set()
            for update in self._pending:
                key = _update_chat_key(update)
                if key in seen:
                    continue
                seen.add(key)
                if key in self._inflight:
                    continue
                if len(self._inflight) >= hook.max_connections:
                    break
                self._inflight[key] = asyncio.create_task(self._deliver(update, key))
            await event.wait()

    async def _deliver(self, update: dict[str, Any], key: int) -> None:
        try:
            while self._running and self._webhook is not None and self._client is not None:
                hook = self._webhook
                headers = {"Content-Type": "application/json"}
                if hook.secret_token:
                    headers["X-Telegram-Bot-Api-Secret-Token"] = hook.secret_token
                status: int | None = None
                error: str | None = None
                try:
                    async with self._client.post(
                        hook.url, data=json.dumps(update).encode(), headers=headers,
                        timeout=aiohttp.ClientTimeout(total=self.webhook_timeout),
                    ) as resp:
                        status = resp.status
                        if 200 <= status < 300:
                            await self._webhook_reply(resp)
                        else:
                            error = f"Wrong response from the webhook: {status} {resp.reason}"
                except (aiohttp.ClientError, TimeoutError) as exc:
                    error = ("Read timeout expired" if isinstance(exc, TimeoutError)
                             else "Connection refused")
                self.webhook_attempts.append(
                    WebhookAttempt(update["update_id"], status, error, time.monotonic()))
                if error is None:
                    self._pending = [u for u in self._pending
                                     if u["update_id"] != update["update_id"]]
                    return
                hook.last_error_date, hook.last_error_message = _now(), error
                await asyncio.sleep(self.webhook_retry_delay)
        finally:
            if self._inflight.get(key) is asyncio.current_task():
                del self._inflight[key]
            self._notify()

    async def _webhook_reply(self, resp: aiohttp.ClientResponse) -> None:
        """Run a method the bot put in its webhook answer (aiogram can reply that way)."""
        values: dict[str, Any] = {}
        files: dict[str, _Upload] = {}
        try:
            if resp.content_type == "multipart/form-data":
                reader = aiohttp.MultipartReader(resp.headers, resp.content)
                while True:
                    part = await reader.next()
                    if part is None:
                        break
                    if not isinstance(part, aiohttp.BodyPartReader) or part.name is None:
                        continue
                    data = await part.read(decode=True)
                    if part.filename:
                        files[part.name] = _Upload(part.filename, None, bytes(data))
                    else:
                        values[part.name] = bytes(data).decode("utf-8")
            elif resp.content_type == "application/json":
                body = await resp.json()
                if isinstance(body, dict):
                    values = body
            else:
                await resp.read()
        except (aiohttp.ClientError, ValueError):
            log.warning("emulator could not read a webhook answer body")
            return
        method = _CANONICAL.get(str(values.pop("method", "")).lower())
        if method is not None:
            # Telegram reports nothing back about such a call; record it like any other.
            await self._invoke(method, _Params(values, files), source="webhook-reply")
