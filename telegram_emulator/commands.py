"""The bot's own profile: the command menus it sets per scope and language, and its
descriptions."""

from __future__ import annotations

import re
from typing import Any

from telegram_emulator.core import CHAT_NOT_FOUND, EmulatorCore
from telegram_emulator.models import ApiError
from telegram_emulator.params import _Params

_BOT_COMMAND_RE = re.compile(r"[a-z0-9_]{1,32}")


class CommandMethods(EmulatorCore):
    """setMyCommands and its siblings; `commands_for` reads the result as a person sees it."""

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
