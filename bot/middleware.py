"""One update, one transaction: record the update id with its effects, then reply."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.methods import AnswerCallbackQuery, LeaveChat, SendMessage
from aiogram.types import Chat, TelegramObject, Update, User
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from app import logs
from bot.outgoing import Outgoing
from bot.sender import Sender, Sent
from bot.texts import PRIVATE_CHAT_ONLY, error_text
from journal import telemetry
from journal.clock import Clock
from journal.errors import DomainError, InvalidInput, safe_trace
from journal.i18n import _, current_language
from journal.people import identify
from storage.uow import Store

log = logging.getLogger(__name__)

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class TransientFailure(Exception):
    """The database could not be reached: the update must be delivered again later."""


def _language(person: Any, user: User | None, staff_default: str | None = None) -> str:
    """A client's language; a staff member's own, else the program's (so their replies
    read like their alerts); anyone else's Telegram language."""
    if person is not None and person.client is not None:
        return str(person.client.language)
    if person is not None and person.clinician is not None:
        if person.clinician.language:
            return str(person.clinician.language)
        if staff_default:
            return staff_default
    code = (user.language_code or "") if user else ""
    return "es" if code.startswith("es") else "en"


def _update_type(update: Update) -> str | None:
    try:
        return update.event_type
    except Exception:  # a type this aiogram does not know yet
        return None


def own_private_chat(update: Update, user: User | None, chat: Chat | None) -> bool:
    """The one check on the way in: a known kind of update, from a person, in the private
    chat with that very person (whose id is the chat's). Nothing else reaches a handler."""
    return (_update_type(update) is not None and user is not None and not user.is_bot
            and chat is not None and chat.type == "private" and chat.id == user.id)


def _unreadable(value: Any) -> bool:
    """Text that is not valid Unicode (a lone surrogate such as "\\ud83d"): it can be
    neither stored nor shown, so the person is asked to send it again."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_unreadable(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_unreadable(v) for v in value)
    return False


class _Outcome:
    """How an update ended, for the metrics: handled, duplicate (its id was recorded
    before), refused (a domain error answered), failed, transient (to be delivered again)
    or elsewhere (not from a person's own private chat)."""

    name = "handled"


class UnitOfWorkMiddleware(BaseMiddleware):
    def __init__(self, store: Store, clock: Clock, *, sender: Sender,
                 staff_language: str | None = None) -> None:
        """`sender`: the bot's one way to Telegram, shared with delivery, that replies go
        through first. `staff_language`: the program's DEFAULT_LANGUAGE, for staff who
        chose none."""
        self._store = store
        self._clock = clock
        self._sender = sender
        self._staff_language = staff_language

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        """The update handled, timed and counted by outcome; while it is, log lines name its
        id (and the client's code once known)."""
        assert isinstance(event, Update)
        started = time.perf_counter()
        outcome = _Outcome()
        marks = (logs.update_id.set(event.update_id), logs.client_code.set(None))
        try:
            return await self._handle(handler, event, data, outcome)
        except TransientFailure:
            outcome.name = "transient"
            raise
        finally:
            seconds = time.perf_counter() - started
            log.debug("update %s %s in %.0f ms", event.update_id, outcome.name, seconds * 1000)
            logs.client_code.reset(marks[1])
            logs.update_id.reset(marks[0])
            telemetry.count("updates_handled", outcome=outcome.name)
            telemetry.observe("update_seconds", seconds, outcome=outcome.name)

    async def _handle(self, handler: Handler, event: Update, data: dict[str, Any],
                      outcome: _Outcome) -> Any:
        user: User | None = data.get("event_from_user")
        if not own_private_chat(event, user, data.get("event_chat")):
            outcome.name = "elsewhere"
            await self._elsewhere(event, user, data.get("event_chat"))
            return None
        assert user is not None
        chat_id = user.id
        out = Outgoing(person=user.id,
                       callback_query_id=event.callback_query.id if event.callback_query else None)
        token = current_language.set("en")
        try:
            async with self._store.unit_of_work() as uow:
                # One person's updates one at a time, each update's effects once.
                if not await uow.claim_update(event.update_id, user.id, self._clock.now()):
                    log.info("update %s was handled before; skipped", event.update_id)
                    outcome.name = "duplicate"
                    await uow.rollback()
                    return None
                person = await identify(uow, user.id) if user else None
                if person is not None:
                    current_language.set(_language(person, user, self._staff_language))
                    if person.client is not None:
                        logs.client_code.set(person.client.code)
                data.update(uow=uow, person=person, out=out)
                try:
                    if _unreadable(event.model_dump(exclude_none=True)):
                        raise InvalidInput("text that is not valid Unicode")
                    result = await handler(event, data)
                except DomainError as exc:
                    outcome.name = "refused"
                    await uow.rollback()
                    out.actions.clear()
                    if out.callback_query_id:
                        out.answer(error_text(exc.key), alert=True)
                    else:
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
            outcome.name = "failed"
            out = Outgoing(person=user.id, callback_query_id=out.callback_query_id)
            out.send(chat_id, error_text("error.generic"))
            result = None
        try:
            await out.flush(self._sender)
        finally:
            current_language.reset(token)
        return result

    async def _elsewhere(self, update: Update, user: User | None,
                         chat: Chat | None) -> None:
        """An update from outside a person's own private chat: nothing is stored and no
        handler runs. In a group, supergroup or channel the bot says one neutral line (not
        in a channel, where it would be published) and leaves."""
        kind = _update_type(update) or "unknown"
        if chat is None or chat.type == "private":
            log.info("update %s (%s) is not from a person's own private chat; ignored",
                     update.update_id, kind)
            return
        member = update.my_chat_member
        if member is not None and member.new_chat_member.status in ("left", "kicked"):
            return  # the bot is out already (its own leaveChat is reported this way too)
        log.info("update %s (%s) came from a %s chat; leaving it", update.update_id, kind,
                 chat.type)
        token = current_language.set(await self._language_of(user))
        try:
            line = _(PRIVATE_CHAT_ONLY)
        finally:
            current_language.reset(token)
        said: Sent[Any] | None = None
        if update.callback_query is not None:  # a pop-up only the presser sees
            said = await self._sender.send(AnswerCallbackQuery(
                callback_query_id=update.callback_query.id, text=line))
        elif chat.type != "channel":
            said = await self._sender.send(SendMessage(chat_id=chat.id, text=line),
                                           reply=True, anywhere=True)
        if said is not None and not said.ok:
            log.info("no neutral line in that chat: %s", said.error)
        left = await self._sender.send(LeaveChat(chat_id=chat.id), reply=True, anywhere=True)
        if not left.ok:
            log.info("could not leave that chat: %s", left.error)

    async def _language_of(self, user: User | None) -> str:
        """The person's own language if we know them, else their Telegram's."""
        person = None
        if user is not None:
            try:
                async with self._store.unit_of_work() as uow:
                    person = await identify(uow, user.id)
            except Exception as exc:  # a neutral line in English beats none at all
                log.info("could not look the person up: %s", type(exc).__name__)
        return _language(person, user, self._staff_language)
