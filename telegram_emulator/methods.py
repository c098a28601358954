"""The Bot API methods of messages and updates, with Telegram's checks and answers."""

from __future__ import annotations

import mimetypes
import re
import time
from dataclasses import dataclass
from typing import Any

from telegram_emulator.core import (
    BLOCKED,
    CHAT_NOT_FOUND,
    DELETE_NOT_FOUND,
    EDIT_NOT_FOUND,
    NOT_MODIFIED,
    POLL_CONFLICT,
    QUERY_TOO_OLD,
    WEBHOOK_CONFLICT,
    EmulatorCore,
    _button_lines,
    _indent,
    _now,
)
from telegram_emulator.formatting import EntityParseError, parse_text, utf16_len
from telegram_emulator.media import image_size
from telegram_emulator.models import (
    ApiError,
    Button,
    CallbackAnswer,
    ChatMessage,
    Group,
    Person,
    StoredFile,
)
from telegram_emulator.params import _MAX_UPLOAD, _Params, _Upload

# New messages count against both flood limits; edits only against the global one, because
# Telegram tolerates a bot editing in place in reply to each button press.
_PER_CHAT_LIMITED = {"sendMessage", "sendDocument", "sendPhoto"}
_GLOBAL_LIMITED = {"editMessageText", "editMessageReplyMarkup", "editMessageCaption"}
_MAX_DOWNLOAD = 20 * 1024 * 1024
_MAX_PHOTO = 10 * 1024 * 1024


@dataclass(frozen=True)
class _Body:
    """A message's text or caption: the fields it travels in and Telegram's answers to it."""

    field: str
    entities_field: str
    limit: int
    too_long: str
    empty: str | None  # None: may be empty


_TEXT = _Body("text", "entities", 4096, "Bad Request: message is too long",
              "Bad Request: message text is empty")
_CAPTION = _Body("caption", "caption_entities", 1024,
                 "Bad Request: message caption is too long", None)


def _human_size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / 1024 / 1024:.1f} MB"


class BotApiMethods(EmulatorCore):
    """getMe, getUpdates, sending, editing and deleting messages, callback answers, files,
    leaving a group; each `_api_*` method answers one Bot API method."""

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

    def _render(self, params: _Params, body: _Body) -> tuple[str, list[dict[str, Any]]]:
        text = params.get_str(body.field) or ""
        entities = params.get_json(body.entities_field)
        if entities is not None:
            if not isinstance(entities, list):
                raise ApiError(400, f"Bad Request: can't parse {body.entities_field} JSON object")
            rendered = text, [e for e in entities if isinstance(e, dict)]
        else:
            mode = params.get_str("parse_mode")
            try:
                rendered = parse_text(text, mode)
            except EntityParseError as exc:
                if mode and mode.lower() not in ("html", "markdown", "markdownv2"):
                    raise ApiError(400, "Bad Request: unsupported parse_mode") from None
                raise ApiError(400, f"Bad Request: can't parse entities: {exc}") from None
        if body.empty is not None and not rendered[0].strip():
            raise ApiError(400, body.empty)
        if utf16_len(rendered[0]) > body.limit:
            raise ApiError(400, body.too_long)
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
        text, entities = self._render(params, _TEXT)
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
        caption, entities = self._render(params, _CAPTION)
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
        return self._edit(params, "editMessageText", _TEXT)

    async def _api_edit_message_caption(self, params: _Params) -> Any:
        return self._edit(params, "editMessageCaption", _CAPTION)

    async def _api_edit_message_reply_markup(self, params: _Params) -> Any:
        return self._edit(params, "editMessageReplyMarkup", None)

    def _edit(self, params: _Params, method: str, body: _Body | None) -> Any:
        """Edit one of the bot's own messages: its text or caption (`body`) and its buttons,
        or only its buttons (`body` None), with Telegram's checks in Telegram's order."""
        msg = self._editable(params, EDIT_NOT_FOUND)
        if not msg.from_bot:
            raise ApiError(400, "Bad Request: message can't be edited")
        text, entities = msg.text, msg.entities
        if body is not None:
            if (msg.kind == "text") != (body is _TEXT):
                raise ApiError(400, f"Bad Request: there is no {body.field} in the message to edit")
            text, entities = self._render(params, body)
        markup, buttons = self._markup(params)
        if (text, entities, markup) == (msg.text, msg.entities, msg.reply_markup):
            raise ApiError(400, NOT_MODIFIED)
        self._limit(method, msg.chat_id)
        msg.text, msg.entities, msg.reply_markup, msg.buttons = text, entities, markup, buttons
        msg.edited, msg.edit_date = True, _now()
        name = self._name(msg.chat_id)
        if body is _TEXT:
            line = (f"Bot edited message {msg.message_id} for {name}: "
                    f"{_indent(text)}{_button_lines(buttons)}")
        elif body is _CAPTION:
            line = (f"Bot edited the caption of message {msg.message_id} for {name}: "
                    f"{_indent(text)}{_button_lines(buttons)}")
        elif buttons:
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

    async def _api_get_file(self, params: _Params) -> Any:
        stored = self._files.get(params.get_str("file_id") or "")
        if stored is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        if stored.size > _MAX_DOWNLOAD:
            raise ApiError(400, "Bad Request: file is too big")
        return {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id,
                "file_size": stored.size, "file_path": stored.file_path}
