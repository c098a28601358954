"""The client's free journal: an entry written over several messages, and reading it back.

While an entry is open, its text lives only in the encrypted journal row (status "draft");
the conversation row remembers ids and a part count, never what was written.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from journal.clock import Clock
from journal.errors import DomainError, NotAllowed
from storage.records import Client, Conversation, JournalEntry
from storage.uow import Store, UnitOfWork

log = logging.getLogger(__name__)

JOURNAL_STATE = "journal"
# One Telegram message holds at most 4096 characters; an entry keeps up to five of them.
PART_LIMIT = 4096
ENTRY_LIMIT = 20_000
PART_SEPARATOR = "\n\n"
RECENT_ENTRIES = 5

# Called with the id of a message once the bot has sent it (see bot.outgoing).
SentHook = Callable[[int], Awaitable[None]]


class PartTooLong(DomainError):
    """One message is longer than a journal part may be."""

    key = "journal.part_too_long"


class EntryFull(DomainError):
    """The entry would grow beyond its limit."""

    key = "journal.entry_full"


class EntryEmpty(DomainError):
    """Done was pressed before anything was written."""

    key = "journal.empty"


class NoEntryOpen(NotAllowed):
    """No journal entry is open (key "journal.none"), or the button pressed belongs to one
    that is closed already (key "journal.closed")."""

    key = "journal.none"


@dataclass(frozen=True, slots=True)
class OpenEntry:
    """Where an entry stands, for the message that shows its progress."""

    entry_id: str
    parts: int
    status_message_id: int | None  # the bot's message with [Done] [Cancel], once known
    resumed: bool = False
    previous_status_message_id: int | None = None  # an older progress message to remove


@dataclass(frozen=True, slots=True)
class EntryView:
    """One saved entry as its author reads it: the local time it was saved, and its text."""

    written_at: datetime
    text: str


class JournalService:
    """Keyword-only: `store` opens the short transactions that run after a reply was sent
    (to remember a message id); `view_ttl` is how long the message
    showing entries stays; `hygiene` removes the client's journal messages once saved."""

    def __init__(self, *, clock: Clock, store: Store, view_ttl: timedelta, hygiene: bool = True,
                 part_limit: int = PART_LIMIT, entry_limit: int = ENTRY_LIMIT) -> None:
        self._clock = clock
        self._store = store
        self.view_ttl = view_ttl
        self.hygiene = hygiene
        self._part_limit = part_limit
        self._entry_limit = entry_limit

    # ------------------------------------------------------------------ writing

    async def open_entry(self, uow: UnitOfWork, client: Client) -> OpenEntry | None:
        """The entry this client is writing right now, if their conversation is the journal."""
        conversation = await self._conversation(uow, client)
        if conversation is None:
            return None
        draft = await uow.journal.draft(client.id)
        if draft is None or draft.id != conversation.data.get("entry"):
            return None  # a conversation left over from an entry closed meanwhile
        return _open(conversation)

    async def start(self, uow: UnitOfWork, client: Client) -> OpenEntry:
        """Open a new entry, or reopen an unfinished one (a check-in in between, a restart)."""
        now = self._clock.now()
        tid = _telegram_id(client)
        draft = await uow.journal.draft(client.id)
        conversation = await uow.conversations.get(tid)
        previous_status = None
        if draft is None:
            draft = await uow.journal.write(client_id=client.id, text="", status="draft", now=now)
            parts, resumed = 0, False
        else:
            parts, resumed = _parts_of(draft, conversation), True
            if conversation is not None and conversation.state == JOURNAL_STATE:
                previous_status = conversation.data.get("status")
        await uow.conversations.set(tid, JOURNAL_STATE, {"entry": draft.id, "parts": parts}, now)
        return OpenEntry(draft.id, parts, None, resumed=resumed,
                         previous_status_message_id=previous_status)

    async def append(self, uow: UnitOfWork, client: Client, text: str) -> OpenEntry:
        """Add one message to the open entry. Too long a text changes nothing and says so."""
        conversation = await self._conversation(uow, client)
        draft = await uow.journal.draft(client.id)
        if conversation is None or draft is None or draft.id != conversation.data.get("entry"):
            raise NoEntryOpen("no open journal entry to add to")
        if len(text) > self._part_limit:
            raise PartTooLong("journal part over the limit")
        body = draft.text + PART_SEPARATOR + text if draft.text else text
        if len(body) > self._entry_limit:
            raise EntryFull("journal entry over the limit")
        now = self._clock.now()
        await uow.journal.write(client_id=client.id, text=body, status="draft", now=now,
                                entry_id=draft.id)
        data = dict(conversation.data)
        data["parts"] = int(data.get("parts", 0)) + 1
        await uow.conversations.set(conversation.telegram_id, JOURNAL_STATE, data, now)
        return _open(Conversation(conversation.telegram_id, JOURNAL_STATE, data, now))

    async def finish(self, uow: UnitOfWork, client: Client, entry_id: str | None = None
                     ) -> OpenEntry:
        """Save the open entry (Done). `entry_id` comes from a button: an old button of an
        entry that is closed already changes nothing."""
        draft, conversation = await self._draft(uow, client, entry_id)
        if not draft.text.strip():
            raise EntryEmpty("nothing written yet")
        await uow.journal.write(client_id=client.id, text=draft.text, status="saved",
                                now=self._clock.now(), entry_id=draft.id)
        return await self._close(uow, client, draft, conversation)

    async def discard(self, uow: UnitOfWork, client: Client, entry_id: str | None = None
                      ) -> OpenEntry:
        """Throw the open entry away: the draft row is deleted, nothing of it is kept."""
        draft, conversation = await self._draft(uow, client, entry_id)
        await uow.journal.delete_draft(client.id, draft.id)
        return await self._close(uow, client, draft, conversation)

    async def parts(self, uow: UnitOfWork, client: Client, entry_id: str) -> int:
        """How many parts the open entry has; raises when the entry is closed."""
        draft, conversation = await self._draft(uow, client, entry_id)
        return _parts_of(draft, conversation)

    def remember_status_message(self, client: Client, entry_id: str) -> SentHook:
        """A hook for `out.send(on_sent=...)`: remember the progress message's id, so the
        next part edits it instead of adding messages to the chat."""
        tid = _telegram_id(client)

        async def remember(message_id: int) -> None:
            try:
                async with self._store.transaction() as uow:
                    conversation = await uow.conversations.get(tid)
                    if (conversation is None or conversation.state != JOURNAL_STATE
                            or conversation.data.get("entry") != entry_id):
                        return
                    data = dict(conversation.data, status=message_id)
                    await uow.conversations.set(tid, JOURNAL_STATE, data, self._clock.now())
            except Exception as exc:  # the next part then sends a fresh progress message
                log.warning("could not remember the journal progress message: %s",
                            type(exc).__name__)

        return remember

    # ------------------------------------------------------------------ reading

    async def recent(self, uow: UnitOfWork, client: Client, limit: int = RECENT_ENTRIES
                     ) -> list[EntryView]:
        """The client's own latest saved entries, newest first, in their local time.
        Not audited: the audit trail records staff views, and this is the author reading."""
        zone = _zone(client.timezone)
        entries = await uow.journal.recent(client.id, limit=limit)
        return [EntryView((e.saved_at or e.created_at).astimezone(zone), e.text)
                for e in entries]

    # ------------------------------------------------------------------ helpers

    @staticmethod
    async def _conversation(uow: UnitOfWork, client: Client) -> Conversation | None:
        conversation = await uow.conversations.get(_telegram_id(client))
        if conversation is None or conversation.state != JOURNAL_STATE:
            return None
        return conversation

    async def _draft(self, uow: UnitOfWork, client: Client, entry_id: str | None
                     ) -> tuple[JournalEntry, Conversation | None]:
        draft = await uow.journal.draft(client.id)
        if draft is None or (entry_id is not None and draft.id != entry_id):
            raise NoEntryOpen("the journal entry is closed",
                              key="journal.closed" if entry_id else "journal.none")
        return draft, await self._conversation(uow, client)

    @staticmethod
    async def _close(uow: UnitOfWork, client: Client, draft: JournalEntry,
                     conversation: Conversation | None) -> OpenEntry:
        status = None
        if conversation is not None and conversation.data.get("entry") == draft.id:
            status = conversation.data.get("status")
            await uow.conversations.clear(conversation.telegram_id)
        return OpenEntry(draft.id, _parts_of(draft, conversation), status)


def _open(conversation: Conversation) -> OpenEntry:
    data = conversation.data
    return OpenEntry(str(data.get("entry", "")), int(data.get("parts", 0)), data.get("status"))


def _parts_of(draft: JournalEntry, conversation: Conversation | None) -> int:
    if (conversation is not None and conversation.state == JOURNAL_STATE
            and conversation.data.get("entry") == draft.id):
        return int(conversation.data.get("parts", 0))
    # The count was lost with the conversation (a check-in took it over): estimate it.
    return draft.text.count(PART_SEPARATOR) + 1 if draft.text else 0


def _telegram_id(client: Client) -> int:
    if client.telegram_id is None:
        raise NotAllowed("the client has no Telegram account")
    return client.telegram_id


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")
