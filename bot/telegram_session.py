"""The bot's HTTP session to Telegram: aiogram's own, with calls sent as JSON and its answer
models kept alive.

A call without a file goes as one `application/json` body (the Bot API reads JSON as well
as forms): aiogram's session builds a form for every call, walking the method's fields,
writing each nested value (a keyboard) as a JSON string of its own and url-encoding the
lot, a good part of what a reply costs. A call carrying a file (a chart, a report) still
goes as aiogram's multipart form.

aiogram checks every answer against `Response[T]`, T being what the method returns.
pydantic keeps parametrised models in a weak cache only, so once the last `Response[T]`
of a call is collected the next call builds the model (and its validator) again: a few
milliseconds per call. Holding each one here makes the next call find it in pydantic's
cache.
"""

from __future__ import annotations

import datetime
import json
from enum import Enum
from typing import Any, Final, cast

from aiogram import Bot
from aiogram.client.default import Default
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.exceptions import TelegramNetworkError
from aiogram.methods import TelegramMethod
from aiogram.methods.base import Response, TelegramType
from aiogram.types import InputFile
from aiohttp import ClientError, ClientTimeout

# One per return type, for the life of the process (a few dozen at most).
_RESPONSE_TYPES: dict[Any, type[Response[Any]]] = {}

_JSON: Final = {"Content-Type": "application/json"}


def response_type(returning: Any) -> type[Response[Any]]:
    """`Response[returning]`, built once and kept."""
    kept = _RESPONSE_TYPES.get(returning)
    if kept is None:
        kept = _RESPONSE_TYPES[returning] = Response[returning]
    return kept


class _HasFile(Exception):
    """The call carries a file: it goes as a multipart form."""


def _plain(value: Any, bot: Bot) -> Any:
    """A dumped method's value as JSON holds it, the way aiogram's form has it: the bot's
    defaults filled in, None left out (of objects and lists alike), a time as a Unix
    timestamp, an enum as its value."""
    if isinstance(value, dict):
        return {key: item for key, raw in value.items()
                if (item := _plain(raw, bot)) is not None}
    if isinstance(value, list):
        return [item for raw in value if (item := _plain(raw, bot)) is not None]
    if value is None or isinstance(value, str | int | float):  # bool is an int
        return value
    if isinstance(value, Default):
        return _plain(bot.default[value.name], bot)
    if isinstance(value, InputFile):
        raise _HasFile
    if isinstance(value, datetime.timedelta):
        value = datetime.datetime.now() + value  # noqa: DTZ005 (as aiogram counts it)
    if isinstance(value, datetime.datetime):
        return round(value.timestamp())
    if isinstance(value, Enum):
        return _plain(value.value, bot)
    return value


def json_body(bot: Bot, method: TelegramMethod[Any]) -> bytes | None:
    """The call as a JSON body, or None when it carries a file. An empty string is left
    out at the top, as aiogram's form leaves it out."""
    try:
        fields = _plain(method.model_dump(warnings=False), bot)
    except _HasFile:
        return None
    return json.dumps({key: value for key, value in fields.items() if value != ""},
                      ensure_ascii=False, separators=(",", ":")).encode()


class TelegramSession(AiohttpSession):
    async def make_request(self, bot: Bot, method: TelegramMethod[TelegramType],
                           timeout: int | None = None  # noqa: ASYNC109 (aiogram's signature)
                           ) -> TelegramType:
        body = json_body(bot, method)
        if body is None:
            return await super().make_request(bot, method, timeout)
        session = await self.create_session()
        url = self.api.api_url(token=bot.token, method=method.__api_method__)
        try:
            async with session.post(url, data=body, headers=_JSON, timeout=ClientTimeout(
                    total=self.timeout if timeout is None else timeout)) as resp:
                raw_result = await resp.text()
        except TimeoutError as exc:
            raise TelegramNetworkError(method=method, message="Request timeout error") from exc
        except ClientError as exc:
            raise TelegramNetworkError(method=method,
                                       message=f"{type(exc).__name__}: {exc}") from exc
        response = self.check_response(bot=bot, method=method, status_code=resp.status,
                                       content=raw_result)
        return cast(TelegramType, response.result)

    def check_response(self, bot: Bot, method: TelegramMethod[TelegramType], status_code: int,
                       content: str) -> Response[TelegramType]:
        response_type(method.__returning__)  # so that aiogram's own Response[T] is a hit
        return super().check_response(bot, method, status_code, content)
