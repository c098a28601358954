"""One update, one transaction: record the update id with its effects, then reply."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.types import TelegramObject, Update, User
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from bot.outgoing import Outgoing
from bot.texts import error_text
from journal.clock import Clock
from journal.errors import DomainError, safe_trace
from journal.i18n import current_language
from journal.people import identify
from storage.uow import Store

log = logging.getLogger(__name__)

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class TransientFailure(Exception):
    """The database could not be reached: the update must be delivered again later."""


def _language(person: Any, user: User | None) -> str:
    if person.client is not None:
        return str(person.client.language)
    code = (user.language_code or "") if user else ""
    return "es" if code.startswith("es") else "en"


class UnitOfWorkMiddleware(BaseMiddleware):
    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        assert isinstance(event, Update)
        bot: Bot = data["bot"]
        user: User | None = data.get("event_from_user")
        chat_id = user.id if user else None
        out = Outgoing(callback_query_id=event.callback_query.id if event.callback_query else None)
        token = current_language.set("en")
        try:
            async with self._store.unit_of_work() as uow:
                if not await uow.updates.record(event.update_id, self._clock.now()):
                    log.info("update %s was handled before; skipped", event.update_id)
                    await uow.rollback()
                    return None
                person = await identify(uow, user.id) if user else None
                if person is not None:
                    current_language.set(_language(person, user))
                data.update(uow=uow, person=person, out=out)
                try:
                    result = await handler(event, data)
                except DomainError as exc:
                    await uow.rollback()
                    out.actions.clear()
                    if out.callback_query_id:
                        out.answer(error_text(exc.key), alert=True)
                    elif chat_id is not None:
                        out.send(chat_id, error_text(exc.key))
                    result = None
                else:
                    await uow.commit()
        except (OperationalError, InterfaceError, ConnectionError, OSError) as exc:
            log.error("database unavailable while handling update %s: %s", event.update_id,
                      type(exc).__name__)
            raise TransientFailure(type(exc).__name__) from None
        except Exception as exc:
            if isinstance(exc, DBAPIError) and exc.connection_invalidated:
                raise TransientFailure(type(exc).__name__) from None
            log.error("update %s failed: %s", event.update_id, safe_trace(exc))
            out = Outgoing(callback_query_id=out.callback_query_id)
            if chat_id is not None:
                out.send(chat_id, error_text("error.generic"))
            result = None
        try:
            await out.flush(bot)
        finally:
            current_language.reset(token)
        return result
