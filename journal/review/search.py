"""A search over everything a client wrote in their own words: journal entries, check-in
notes and the details of high-risk situations (the questionnaire's [review] part names
which items are the note and the situation detail).

Every text is sealed, so no index can find a word in it: a search opens the newest
journal entries and submitted check-ins a batch at a time (SEARCH_BATCH each), merged
newest first, matches case-insensitively after decryption, keeps the text of only the
matches on the page asked for, and stops once it knows whether a next page exists or after
SEARCH_LIMIT records, saying so. The query is never written anywhere."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any, Final
from zoneinfo import ZoneInfo

from journal.checkin.flow import answers_of
from journal.checkin.questionnaire import Questionnaire
from storage.records import Client
from storage.uow import UnitOfWork

SEARCH_LIMIT: Final = 2000  # records (entries and check-ins) a search opens at most
SEARCH_BATCH: Final = 100
PAGE_SIZE: Final = 10
SOURCES: Final = ("journal", "note", "situation")  # where a hit comes from


@dataclass(frozen=True)
class SearchHit:
    """One text holding the query, and where it came from."""

    source: str  # one of SOURCES
    day: date  # the client's own day it was written
    at: datetime | None  # a journal entry's moment (None for a check-in's text)
    text: str


@dataclass(frozen=True)
class SearchResult:
    hits: tuple[SearchHit, ...]  # the page asked for, newest first
    matches: int | None  # matches found in what was read (None: more than were read)
    has_next: bool
    searched: int  # records opened
    complete: bool  # False: SEARCH_LIMIT stopped the search


@dataclass(frozen=True)
class _Record:
    at: datetime  # for the newest-first merge
    hits: tuple[SearchHit, ...]  # every text of the record, matched or not


Fetch = Callable[[int, int], Awaitable[list[_Record]]]  # (limit, offset) -> records


class _Stream:
    """One source read newest first, a batch at a time, as the merge asks for it."""

    def __init__(self, fetch: Fetch) -> None:
        self._fetch = fetch
        self._buffer: list[_Record] = []
        self._offset = 0
        self.done = False

    async def head(self, budget: int) -> tuple[_Record | None, int]:
        """The newest unread record, and how many records were opened to find it."""
        opened = 0
        if not self._buffer and not self.done and budget > 0:
            batch = await self._fetch(min(SEARCH_BATCH, budget), self._offset)
            opened = len(batch)
            self._offset += opened
            self._buffer = batch
            self.done = opened < min(SEARCH_BATCH, budget)
        return (self._buffer[0] if self._buffer else None), opened

    def pop(self) -> None:
        self._buffer.pop(0)

    @property
    def drained(self) -> bool:
        return self.done and not self._buffer


def _texts(q: Questionnaire, state: Any, day: date) -> Iterator[SearchHit]:
    if not state:
        return
    answers = answers_of(state)
    for source, part in (("note", "note"), ("situation", "situation_detail")):
        value = q.review.answer(answers, part)
        if isinstance(value, str) and value.strip():
            yield SearchHit(source=source, day=day, at=None, text=value)


async def search(uow: UnitOfWork, q: Questionnaire, client: Client, query: str, *,
                 page: int = 1) -> SearchResult:
    """Page `page` of the client's texts holding `query` (already trimmed), newest first."""
    needle = query.casefold()
    zone = ZoneInfo(client.timezone)

    async def journal(limit: int, offset: int) -> list[_Record]:
        entries = await uow.journal.recent(client.id, limit=limit, offset=offset)
        return [_Record(e.created_at, (SearchHit("journal", e.created_at.astimezone(zone).date(),
                                                 e.created_at, e.text),))
                for e in entries]

    async def checkins(limit: int, offset: int) -> list[_Record]:
        rows = await uow.checkins.answered(client.id, limit=limit, offset=offset)
        return [_Record(at or datetime.combine(day, time(23, 59), zone).astimezone(UTC),
                        tuple(_texts(q, state, day)))
                for day, at, state in rows]

    streams: Sequence[_Stream] = (_Stream(journal), _Stream(checkins))
    skip = (page - 1) * PAGE_SIZE
    found: list[SearchHit] = []
    matches = read = 0
    more = cut = False
    while not more:
        heads = []
        for stream in streams:
            record, opened = await stream.head(SEARCH_LIMIT - read)
            read += opened
            if record is not None:
                heads.append((record.at, stream, record))
            elif not stream.drained:
                cut = True  # the limit stopped this source
        if not heads:
            break
        _at, stream, record = max(heads, key=lambda h: h[0])
        stream.pop()
        for hit in record.hits:
            if needle not in hit.text.casefold():
                continue
            matches += 1
            if matches > skip + PAGE_SIZE:
                more = True
                break
            if matches > skip:
                found.append(hit)
    complete = more or not cut
    return SearchResult(hits=tuple(found), matches=None if more else matches, has_next=more,
                        searched=read, complete=complete)


__all__ = ["PAGE_SIZE", "SEARCH_BATCH", "SEARCH_LIMIT", "SOURCES", "SearchHit", "SearchResult",
           "search"]
