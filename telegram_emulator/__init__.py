"""Telegram Bot API emulator: serves the real bot over HTTP on 127.0.0.1 for tests and the demo."""

from telegram_emulator.limits import FloodControl
from telegram_emulator.models import (
    Button,
    CallbackAnswer,
    ChatMessage,
    EmulatorAssertionError,
    Group,
    Person,
    RecordedCall,
    StoredFile,
)
from telegram_emulator.server import BotAPIEmulator, WebhookAttempt

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
