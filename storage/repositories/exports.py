"""What leaves the program in an export, read a slice of clients at a time.

Each method streams its rows (the driver hands them over in batches) and opens each sealed
value as it goes, so an export's memory does not grow with the program; the caller reads
the clients a slice at a time, each slice in a short transaction of its own, so an export
of a large program never holds SQLite's one write lock for long. Columns are read with
Core statements, not as mapped objects, so the session's identity map stays empty.

A client's Telegram id is never read here: an export has no use for it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Integer, cast, func, literal, select
from sqlalchemy.sql.elements import ColumnElement

from storage.audit import SEALED_PLACE
from storage.crypto import KeyErasedError
from storage.models import (
    AlertRow,
    AuditEventRow,
    CheckInRow,
    ClientKeyRow,
    ClientRow,
    JournalEntryRow,
    OutboxRow,
    PlanRow,
    StaffEmailRow,
)
from storage.records import AuditEvent
from storage.repositories.base import Repository

_BATCH = 500
WEEK_ZERO = date(2000, 1, 3)  # a Monday: week n runs from WEEK_ZERO + 7n days


@dataclass(frozen=True, slots=True)
class ExportClient:
    """A client as an export sees them: plaintext columns only."""

    id: str
    code: str
    clinician_id: int
    status: str
    language: str
    timezone: str
    created_at: datetime
    enrolled_at: datetime | None
    discharged_at: datetime | None
    paused_at: datetime | None


@dataclass(frozen=True, slots=True)
class ExportCheckIn:
    client_id: str
    id: str
    local_date: date
    status: str
    questionnaire_id: str
    questionnaire_version: str
    state: Any  # the sealed flow state, opened (None: never started, or the key is erased)
    scores: Any
    risk_level: str | None
    started_at: datetime | None
    submitted_at: datetime | None


@dataclass(frozen=True, slots=True)
class ExportAlert:
    client_id: str
    id: str
    checkin_id: str | None
    level: str
    status: str
    detail: Any  # reasons, rule ids and the answers behind them (None: key erased)
    created_at: datetime
    acknowledged_at: datetime | None
    escalations: int


@dataclass(frozen=True, slots=True)
class ExportEntry:
    client_id: str
    id: str
    text: str
    saved_at: datetime


class ExportRepository(Repository):
    async def clients(self, *, statuses: Sequence[str] | None = None,
                      code: str | None = None) -> list[ExportClient]:
        """Every client but the erased ones and those never enrolled (or the one with
        `code`), in a stable order. Plaintext columns, no key opened."""
        query = select(ClientRow.id, ClientRow.code, ClientRow.clinician_id, ClientRow.status,
                       ClientRow.language, ClientRow.timezone, ClientRow.created_at,
                       ClientRow.enrolled_at, ClientRow.discharged_at, ClientRow.paused_at)
        if code is not None:
            query = query.where(ClientRow.code == code)
        query = query.where(ClientRow.status.in_(
            statuses or ("active", "paused", "discharged"))).order_by(ClientRow.id)
        return [ExportClient(id=r[0], code=r[1], clinician_id=r[2], status=r[3], language=r[4],
                             timezone=r[5], created_at=r[6], enrolled_at=r[7],
                             discharged_at=r[8], paused_at=r[9])
                for r in (await self.session.execute(query)).all()]

    async def count_checkins(self, client_ids: Sequence[str] | None, since: date,
                             until: date) -> int:
        """How many check-in rows an export of these days reads (None: every client)."""
        query = select(func.count()).select_from(CheckInRow).where(
            CheckInRow.local_date >= since, CheckInRow.local_date <= until)
        if client_ids is not None:
            query = query.where(CheckInRow.client_id.in_(client_ids))
        return int(await self.session.scalar(query) or 0)

    async def _known_keys(self, client_ids: Sequence[str]) -> None:
        """The slice's data keys in one statement, unwrapped when first used."""
        rows = await self.session.execute(
            select(ClientKeyRow.client_id, ClientKeyRow.id, ClientKeyRow.master_key_id,
                   ClientKeyRow.wrapped).where(ClientKeyRow.client_id.in_(client_ids)))
        for client_id, key_id, master_id, wrapped in rows:
            self.vault.known_client_key(client_id, key_id, master_id, wrapped)

    async def checkins(self, client_ids: Sequence[str], since: date, until: date,
                       *, open_state: bool = True) -> AsyncIterator[ExportCheckIn]:
        """The slice's check-ins of these local days, by client and day, opened."""
        if not client_ids:
            return
        await self._known_keys(client_ids)
        query = (select(CheckInRow.client_id, CheckInRow.id, CheckInRow.local_date,
                        CheckInRow.status, CheckInRow.questionnaire_id,
                        CheckInRow.questionnaire_version, CheckInRow.state_ct,
                        CheckInRow.scores_ct, CheckInRow.risk_level_ct, CheckInRow.started_at,
                        CheckInRow.submitted_at)
                 .where(CheckInRow.client_id.in_(client_ids), CheckInRow.local_date >= since,
                        CheckInRow.local_date <= until)
                 .order_by(CheckInRow.client_id, CheckInRow.local_date)
                 .execution_options(yield_per=_BATCH))
        result = await self.session.stream(query)
        erased: set[str] = set()
        async for (client_id, row_id, day, status, q_id, q_version, state_ct, scores_ct,
                   level_ct, started_at, submitted_at) in result:
            state = scores = None
            if open_state and client_id not in erased:
                try:
                    if state_ct is not None:
                        state = await self.vault.open_json(client_id, "checkins.state", row_id,
                                                           state_ct)
                    if scores_ct is not None:
                        scores = await self.vault.open_json(client_id, "checkins.scores",
                                                            row_id, scores_ct)
                except KeyErasedError:
                    erased.add(client_id)
                    state = scores = None
            level = None if level_ct is None else str(await self.vault.open_person(
                "checkins.risk_level", row_id, level_ct))
            yield ExportCheckIn(client_id, row_id, day, status, q_id, q_version, state,
                                scores, level, started_at, submitted_at)

    async def alerts(self, client_ids: Sequence[str], since: datetime, until: datetime,
                     *, open_detail: bool = True) -> AsyncIterator[ExportAlert]:
        """The slice's alerts raised in [since, until), by client and time."""
        if not client_ids:
            return
        if open_detail:
            await self._known_keys(client_ids)
        query = (select(AlertRow.client_id, AlertRow.id, AlertRow.checkin_id,
                        AlertRow.level_ct, AlertRow.status, AlertRow.detail_ct,
                        AlertRow.created_at, AlertRow.acknowledged_at, AlertRow.escalations)
                 .where(AlertRow.client_id.in_(client_ids), AlertRow.created_at >= since,
                        AlertRow.created_at < until)
                 .order_by(AlertRow.client_id, AlertRow.created_at, AlertRow.id)
                 .execution_options(yield_per=_BATCH))
        result = await self.session.stream(query)
        async for (client_id, row_id, checkin_id, level_ct, status, detail_ct, created_at,
                   acknowledged_at, escalations) in result:
            detail = None
            if open_detail:
                try:
                    detail = await self.vault.open_json(client_id, "alerts.detail", row_id,
                                                        detail_ct)
                except KeyErasedError:
                    detail = None
            level = str(await self.vault.open_person("alerts.level", row_id, level_ct))
            yield ExportAlert(client_id, row_id, checkin_id, level, status, detail, created_at,
                              acknowledged_at, escalations)

    async def journal(self, client_ids: Sequence[str], since: datetime, until: datetime
                      ) -> AsyncIterator[ExportEntry]:
        """The slice's saved journal entries of [since, until), opened: free text."""
        if not client_ids:
            return
        await self._known_keys(client_ids)
        query = (select(JournalEntryRow.client_id, JournalEntryRow.id, JournalEntryRow.body_ct,
                        JournalEntryRow.saved_at)
                 .where(JournalEntryRow.client_id.in_(client_ids),
                        JournalEntryRow.status == "saved",
                        JournalEntryRow.saved_at >= since, JournalEntryRow.saved_at < until)
                 .order_by(JournalEntryRow.client_id, JournalEntryRow.saved_at)
                 .execution_options(yield_per=_BATCH))
        result = await self.session.stream(query)
        async for client_id, row_id, body_ct, saved_at in result:
            try:
                text = await self.vault.open_json(client_id, "journal_entries.body", row_id,
                                                  body_ct)
            except KeyErasedError:
                continue
            if saved_at is not None:
                yield ExportEntry(client_id, row_id, str(text), saved_at)

    async def plan_updated(self, client_ids: Sequence[str]) -> dict[str, datetime]:
        """When each client's plan last changed (nothing opened)."""
        if not client_ids:
            return {}
        rows = await self.session.execute(select(PlanRow.client_id, PlanRow.updated_at)
                                          .where(PlanRow.client_id.in_(client_ids)))
        return {client_id: at for client_id, at in rows}

    # -- the program's figures: grouped, nothing of a client's opened ----------------------
    async def status_counts(self) -> dict[str, int]:
        rows = await self.session.execute(select(ClientRow.status, func.count())
                                          .group_by(ClientRow.status))
        return {status: int(n) for status, n in rows}

    def _week(self) -> ColumnElement[int]:
        """The check-in's week as a number (weeks since WEEK_ZERO), in SQL."""
        if self.session.get_bind().dialect.name == "sqlite":
            days = func.julianday(CheckInRow.local_date) - func.julianday(
                WEEK_ZERO.isoformat())
            return cast(func.floor(days / 7), Integer)
        return cast(func.floor((CheckInRow.local_date - literal(WEEK_ZERO)) / 7), Integer)

    async def weekly_statuses(self, since: date, until: date
                              ) -> list[tuple[str, int, str, int]]:
        """(client id, week number, status, days) of check-ins in [since, until], one
        grouped statement: how each client's weeks went, without opening a row."""
        week = self._week().label("week")
        rows = await self.session.execute(
            select(CheckInRow.client_id, week, CheckInRow.status, func.count())
            .where(CheckInRow.local_date >= since, CheckInRow.local_date <= until,
                   CheckInRow.status.in_(("submitted", "missed")))
            .group_by(CheckInRow.client_id, week, CheckInRow.status))
        return [(client_id, int(w), status, int(n)) for client_id, w, status, n in rows]

    async def alert_times(self, since: datetime, until: datetime
                          ) -> AsyncIterator[tuple[datetime, datetime | None, str, int, int]]:
        """(raised, acknowledged, level, escalations, the client's clinician) of every
        alert raised in [since, until): the level is opened under the program's people
        key, no client key is."""
        query = (select(AlertRow.id, AlertRow.created_at, AlertRow.acknowledged_at,
                        AlertRow.level_ct, AlertRow.escalations, ClientRow.clinician_id)
                 .join(ClientRow, ClientRow.id == AlertRow.client_id)
                 .where(AlertRow.created_at >= since, AlertRow.created_at < until)
                 .execution_options(yield_per=_BATCH))
        result = await self.session.stream(query)
        async for (row_id, created_at, acknowledged_at, level_ct, escalations,
                   clinician_id) in result:
            level = str(await self.vault.open_person("alerts.level", row_id, level_ct))
            yield created_at, acknowledged_at, level, int(escalations or 0), clinician_id

    async def email_counts(self, since: datetime) -> dict[str, int]:
        """Staff e-mail fallbacks made since then, by status (sent, pending, skipped)."""
        rows = await self.session.execute(
            select(StaffEmailRow.status, func.count()).where(StaffEmailRow.created_at >= since)
            .group_by(StaffEmailRow.status))
        return {status: int(n) for status, n in rows}

    async def dead_letters(self, since: datetime) -> int:
        """Messages Telegram never took (dead), queued since then."""
        return int(await self.session.scalar(
            select(func.count()).select_from(OutboxRow).where(
                OutboxRow.status == "dead", OutboxRow.created_at >= since)) or 0)

    async def last_event_at(self, client_id: str, action: str) -> datetime | None:
        """When the latest audit event of this action about this client was written (the
        action and time are plaintext; nothing is opened)."""
        return await self.session.scalar(
            select(func.max(AuditEventRow.at)).where(
                AuditEventRow.client_index == await self.vault.client_index(client_id),
                AuditEventRow.action == action))

    async def audit_events(self, client_id: str | None) -> AsyncIterator[AuditEvent]:
        """The audit events about one client (or about any client: None), oldest first,
        streamed and opened one by one."""
        query = select(AuditEventRow.seq, AuditEventRow.at, AuditEventRow.action,
                       AuditEventRow.sealed)
        if client_id is None:
            query = query.where(AuditEventRow.client_index.is_not(None))
        else:
            query = query.where(AuditEventRow.client_index
                                == await self.vault.client_index(client_id))
        result = await self.session.stream(query.order_by(AuditEventRow.seq)
                                           .execution_options(yield_per=_BATCH))
        async for seq, at, action, sealed in result:
            actor, about, detail = await self.vault.open_person(SEALED_PLACE, str(seq), sealed)
            yield AuditEvent(seq=seq, at=at, actor=actor, action=action, client_id=about,
                             detail=detail)


__all__ = ["WEEK_ZERO", "ExportAlert", "ExportCheckIn", "ExportClient", "ExportEntry", "ExportRepository"]
