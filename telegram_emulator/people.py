"""The test-driver API: simulated people who write, send files, press buttons, block the
bot, and groups and channels they bring the bot into."""

from __future__ import annotations

import asyncio
import mimetypes
import re
import secrets
import time
from dataclasses import replace
from typing import Any

from telegram_emulator.core import _Callback, _indent, _now
from telegram_emulator.formatting import utf16_len
from telegram_emulator.media import FAKE_VOICE, FAKE_WEBP, image_size, tiny_png
from telegram_emulator.models import ChatMessage, EmulatorAssertionError, Group, Person
from telegram_emulator.observe import Observation

_COMMAND_RE = re.compile(r"(?<!\S)/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,})?")


class People(Observation):
    """Plays the people on the other side of the bot; each action queues the update
    Telegram would send."""

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
