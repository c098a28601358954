"""Telegram Bot API emulator: serves the real bot over HTTP on 127.0.0.1 for tests and the demo."""

from bot.emulator.limits import FloodControl
from bot.emulator.models import (
    Button,
    CallbackAnswer,
    ChatMessage,
    EmulatorAssertionError,
    Group,
    Person,
    RecordedCall,
    StoredFile,
)
from bot.emulator.server import BotAPIEmulator, WebhookAttempt

__all__ = [
    "BotAPIEmulator",
    "Button",
    "CallbackAnswer",
    "ChatMessage",
    "EmulatorAssertionError",
    "FloodControl",
    "Group",
    "Person",
    "RecordedCall",
    "StoredFile",
    "WebhookAttempt",
]
