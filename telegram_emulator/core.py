"""The state every part of the emulator shares, and the helpers that read and change it."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import re
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web

from telegram_emulator.limits import FloodControl
from telegram_emulator.models import (
    Button,
    CallbackAnswer,
    ChatMessage,
    Group,
    Person,
    RecordedCall,
    StoredFile,
)

if TYPE_CHECKING:
    from telegram_emulator.faults import _Fault, _Outage
    from telegram_emulator.params import _Params
    from telegram_emulator.webhook import WebhookAttempt, _Webhook

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
# Without allowed_updates Telegram sends every type except these.
_OPT_IN_UPDATES = {"chat_member", "message_reaction", "message_reaction_count"}
_FILE_PREFIX = {"document": "BQACAgIAAxkBAAI", "photo": "AgACAgIAAxkBAAI",
                "voice": "AwACAgIAAxkBAAI", "sticker": "CAACAgIAAxkBAAI"}
_FILE_FOLDER = {"document": "documents", "photo": "photos", "voice": "voice",
                "sticker": "stickers"}


@dataclass
class _Callback:
    chat_id: int
    message_id: int
    created: float
    answer: CallbackAnswer | None = None


def _now() -> int:
    return int(time.time())


def _update_type(update: dict[str, Any]) -> str:
    return next((key for key in update if key != "update_id"), "")


def _indent(text: str) -> str:
    return text.replace("\n", "\n    ")


def _button_lines(buttons: list[list[Button]]) -> str:
    rows = [
        " ".join(f"[{b.text} ↗]" if b.url else f"[{b.text}]" for b in row) for row in buttons
    ]
    return "".join(f"\n    {row}" for row in rows if row)


class EmulatorCore:
    """The emulator's state: people, chats, files, queued updates, scripts, the server.

    The other parts (people, observation, faults, Bot API methods, the webhook pump, the
    HTTP surface) are mixins over this state, composed in `server.BotAPIEmulator`.
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

    def _canonical(self, method: str) -> str:
        try:
            return _CANONICAL[method.lower()]
        except KeyError:
            raise ValueError(f"the emulator does not implement {method!r}") from None

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
