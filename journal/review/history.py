"""A client's history in pages: check-ins (answers in words) and journal entries, newest first."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any, Final, Literal
from zoneinfo import ZoneInfo

from journal.checkin.flow import answers_of, render_answer
from journal.checkin.questionnaire import Questionnaire
from journal.people import actor_of, visible_client
from journal.review.indicators import Indicators
from storage.records import OVER, CheckIn, Client, Clinician, DayStatus
from storage.uow import UnitOfWork

PAGE_SIZE: Final = 3  # history items a page; a check-in with its texts fills a third


@dataclass(frozen=True)
class HistoryItem:
    """One check-in day or one journal entry, decrypted, with answers in words."""

    kind: Literal["checkin", "missed", "journal"]
    day: date
    at: datetime | None = None  # a journal entry's local time
    level: str | None = None
    roll_ups: tuple[tuple[str, int], ...] = ()  # (the roll-up's short name, its value)
    answers: tuple[tuple[str, str], ...] = ()  # (question in short, answer)
    texts: tuple[tuple[str, str], ...] = ()  # free-text answers, last on the page
    text: str = ""  # a journal entry


@dataclass(frozen=True)
class HistoryPage:
    client: Client
    page: int  # 0 is the newest
    pages: int
    total: int
    items: tuple[HistoryItem, ...]


async def history_page(uow: UnitOfWork, clinician: Clinician, code: str, page: int, *,
                       now: datetime, questionnaire: Questionnaire, indicators: Indicators,
                       language: str) -> HistoryPage:
    """One page of check-ins and journal entries, newest first; only the page's items
    are decrypted. A page past the end shows the last page."""
    client = await visible_client(uow, clinician, code)
    index: list[tuple[datetime, str, Any]] = []
    for day in await uow.checkins.days(client.id):
        if day.status in OVER:
            # A missed day sorts at its end, after that day's journal entries.
            day_end = datetime.combine(day.local_date, time(23, 59),
                                       ZoneInfo(client.timezone))
            index.append((day.submitted_at or day_end, "checkin", day))
    for entry_id, at in await uow.journal.index(client.id):
        index.append((at, "journal", entry_id))
    index.sort(key=lambda row: row[0], reverse=True)
    pages = max(1, math.ceil(len(index) / PAGE_SIZE))
    page = min(max(page, 0), pages - 1)
    items = []
    plan = (await uow.plans.get(client.id)).coping_steps
    for _at, kind, ref in index[page * PAGE_SIZE:(page + 1) * PAGE_SIZE]:
        if kind == "journal":
            entry = await uow.journal.get(ref)
            if entry is not None:
                local = entry.created_at.astimezone(ZoneInfo(client.timezone))
                items.append(HistoryItem(kind="journal", day=local.date(), at=local,
                                         text=entry.text))
        elif ref.status == DayStatus.MISSED:
            items.append(HistoryItem(kind="missed", day=ref.local_date))
        else:
            checkin = await uow.checkins.get(ref.id)
            if checkin is not None:
                items.append(_checkin_item(checkin, plan, questionnaire, indicators,
                                           language))
    await uow.audit(at=now, actor=actor_of(clinician), action="client.history",
                    client_id=client.id, detail=f"client {client.code} page {page + 1}")
    return HistoryPage(client=client, page=page, pages=pages, total=len(index),
                       items=tuple(items))


def _checkin_item(checkin: CheckIn, plan: Sequence[str], questionnaire: Questionnaire,
                  indicators: Indicators, language: str) -> HistoryItem:
    answers = answers_of(checkin.state) if checkin.state else {}
    shown: list[tuple[str, str]] = []
    texts: list[tuple[str, str]] = []
    for item in questionnaire.items:
        if item.id not in answers:
            continue
        pair = (item.short.get(language),
                render_answer(item, answers[item.id], language, plan))
        (texts if item.kind == "text" and isinstance(answers[item.id], str)
         else shown).append(pair)
    values = indicators.of(checkin, answers)
    roll_ups = tuple((r.short.get(language), values[r.id]) for r in questionnaire.roll_ups
                     if r.id in values)
    return HistoryItem(kind="checkin", day=checkin.local_date, level=checkin.risk_level,
                       roll_ups=roll_ups, answers=tuple(shown),
                       texts=tuple(texts))


__all__ = ["PAGE_SIZE", "HistoryItem", "HistoryPage", "history_page"]
