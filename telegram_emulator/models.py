"""Plain data the Bot API emulator keeps and hands to tests: people, messages, files, calls."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ApiError",
    "Button",
    "CallbackAnswer",
    "ChatMessage",
    "EmulatorAssertionError",
    "Group",
    "Person",
    "RecordedCall",
    "StoredFile",
]


class EmulatorAssertionError(AssertionError):
    """A test drove the emulator into something that cannot happen (or waited in vain)."""


class ApiError(Exception):
    """An error answer of the Bot API: HTTP status, Telegram's description, parameters."""

    def __init__(
        self, code: int, description: str, parameters: dict[str, Any] | None = None
    ) -> None:
        super().__init__(f"{code} {description}")
        self.code = code
        self.description = description
        self.parameters = parameters or {}


@dataclass
class Person:
    """A simulated Telegram user talking to the bot in a private chat (chat id == user id)."""

    user_id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None
    blocked: bool = False
    # Telegram only knows a private chat once the person has written to the bot.
    has_chat: bool = False

    @property
    def display_name(self) -> str:
        return self.first_name

    def user_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.user_id, "is_bot": False, "first_name": self.first_name}
        if self.last_name:
            data["last_name"] = self.last_name
        if self.username:
            data["username"] = self.username
        if self.language_code:
            data["language_code"] = self.language_code
        return data

    def chat_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.user_id, "type": "private",
                                "first_name": self.first_name}
        if self.last_name:
            data["last_name"] = self.last_name
        if self.username:
            data["username"] = self.username
        return data


@dataclass
class Group:
    """A group, supergroup or channel (negative chat id) that people and the bot may be in."""

    chat_id: int
    title: str
    type: str = "group"  # "group", "supergroup" or "channel"
    bot_status: str = "left"  # "member", "administrator", "left" or "kicked"

    @property
    def bot_is_member(self) -> bool:
        return self.bot_status in ("member", "administrator")

    def chat_json(self) -> dict[str, Any]:
        return {"id": self.chat_id, "type": self.type, "title": self.title}


@dataclass(frozen=True)
class Button:
    """One inline keyboard button as the person sees it."""

    text: str
    callback_data: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class StoredFile:
    """A file held by the emulator: uploaded by the bot or sent by a simulated person."""

    file_id: str
    file_unique_id: str
    file_path: str
    file_name: str | None
    mime_type: str | None
    data: bytes = field(repr=False)
    width: int | None = None
    height: int | None = None
    duration: int | None = None

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass
class ChatMessage:
    """A message in a chat as the emulator holds it; tests receive copies."""

    chat_id: int
    message_id: int
    from_bot: bool
    date: int
    kind: str  # "text", "document", "photo", "sticker", "voice"
    text: str = ""  # the text, or the caption of a media message
    entities: list[dict[str, Any]] = field(default_factory=list)
    reply_markup: dict[str, Any] | None = None
    buttons: list[list[Button]] = field(default_factory=list)
    file: StoredFile | None = None
    sticker_emoji: str | None = None
    edited: bool = False
    edit_date: int | None = None
    deleted: bool = False
    reply_to_message_id: int | None = None
    sender_id: int | None = None  # who wrote it in a group (None: the bot, or a channel)

    @property
    def document(self) -> StoredFile | None:
        return self.file if self.kind == "document" else None

    @property
    def photo(self) -> StoredFile | None:
        return self.file if self.kind == "photo" else None

    @property
    def button_texts(self) -> list[str]:
        return [b.text for row in self.buttons for b in row]


@dataclass(frozen=True)
class CallbackAnswer:
    """What the bot said in answerCallbackQuery."""

    text: str
    show_alert: bool
    url: str | None


@dataclass
class RecordedCall:
    """One Bot API call the bot made, with its parsed parameters and outcome."""

    method: str
    params: dict[str, Any]
    time: float
    chat_id: int | None
    error_code: int | None = None  # None while running and after success
    description: str | None = None
    source: str = "http"  # "http", or "webhook-reply" for a method answered to a webhook push
