"""Risk alerts and each client's risk threshold overrides."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from storage.crypto import KeyErasedError
from storage.models import (
    AlertCopyRow,
    AlertNoteRow,
    AlertRow,
    ClientRow,
    OutboxRow,
    RiskOverrideRow,
)
from storage.records import Alert, AlertCopy, AlertNote, AlertStatus
from storage.repositories.base import Repository, new_id


class RiskOverrideRepository(Repository):
    async def for_client(self, client_id: str) -> dict[str, int]:
        return (await self.for_clients([client_id]))[client_id]

    async def for_clients(self, client_ids: Sequence[str]) -> dict[str, dict[str, int]]:
        """for_client of each, in one statement (a client with none maps to {})."""
        found: dict[str, dict[str, int]] = {client_id: {} for client_id in client_ids}
        if client_ids:
            rows = await self.session.execute(
                select(RiskOverrideRow.client_id, RiskOverrideRow.rule_id,
                       RiskOverrideRow.threshold)
                .where(RiskOverrideRow.client_id.in_(client_ids)))
            for client_id, rule, threshold in rows:
                found[client_id][rule] = threshold
        return found

    async def set(self, client_id: str, rule_id: str, threshold: int, *, by: int,
                  now: datetime) -> None:
        row = await self.session.get(RiskOverrideRow, (client_id, rule_id))
        if row is None:
            self.session.add(RiskOverrideRow(client_id=client_id, rule_id=rule_id,
                                             threshold=threshold, set_by=by, set_at=now))
        else:
            row.threshold, row.set_by, row.set_at = threshold, by, now
        await self.session.flush()


@dataclass(frozen=True, slots=True)
class OpenAlertAge:
    """An open alert as the program page counts it: whose caseload, its level, when it
    was raised and whether it is past its escalation time. Nothing else is read."""

    clinician_id: int
    level: str
    created_at: datetime
    overdue: bool


class AlertRepository(Repository):
    async def _records(self, rows: Sequence[AlertRow], *, notes: bool = True) -> list[Alert]:
        """The alerts with their notes, read in one statement (an open alert has none:
        `notes=False` skips the read)."""
        found: dict[str, list[AlertNoteRow]] = {}
        if notes and rows:
            for note in await self.session.scalars(
                    select(AlertNoteRow).where(AlertNoteRow.alert_id.in_([r.id for r in rows]))
                    .order_by(AlertNoteRow.at, AlertNoteRow.id)):
                found.setdefault(note.alert_id, []).append(note)
        return [await self._record(row, found.get(row.id, ())) for row in rows]

    async def _record(self, row: AlertRow, notes: Sequence[AlertNoteRow] = ()) -> Alert:
        try:
            detail = await self.vault.open_json(row.client_id, "alerts.detail", row.id,
                                                row.detail_ct)
            texts = [await self.vault.open_json(row.client_id, "alerts.ack_note", n.id,
                                                n.text_ct) for n in notes]
        except KeyErasedError:
            detail, texts = {}, [None] * len(notes)
        return Alert(id=row.id, client_id=row.client_id, checkin_id=row.checkin_id,
                     level=await self._level(row.id, row.level_ct), status=row.status, detail=detail,
                     created_at=row.created_at, acknowledged_at=row.acknowledged_at,
                     acknowledged_by=row.acknowledged_by,
                     escalations=row.escalations, next_escalation_at=row.next_escalation_at,
                     notes=tuple(AlertNote(at=n.at, author_id=n.author_id, text=text)
                                 for n, text in zip(notes, texts, strict=True)))

    async def _level(self, alert_id: str, sealed: bytes) -> str:
        return str(await self.vault.open_person("alerts.level", alert_id, sealed))

    async def add(self, *, client_id: str, checkin_id: str | None, level: str,
                  detail: dict[str, Any], now: datetime,
                  next_escalation_at: datetime | None) -> Alert:
        alert_id = new_id()
        row = AlertRow(id=alert_id, client_id=client_id, checkin_id=checkin_id,
                       level_ct=await self.vault.seal_person("alerts.level", alert_id, level),
                       status="open",
                       detail_ct=await self.vault.seal_json(client_id, "alerts.detail", alert_id,
                                                            detail),
                       created_at=now, escalations=0, next_escalation_at=next_escalation_at)
        self.session.add(row)
        await self.session.flush()
        return await self._record(row)

    async def get(self, alert_id: str, *, lock: bool = False) -> Alert | None:
        row = await self.session.get(AlertRow, alert_id, with_for_update=lock)
        return (await self._records([row]))[0] if row else None

    async def for_checkin(self, checkin_id: str) -> list[Alert]:
        rows = (await self.session.scalars(
            select(AlertRow).where(AlertRow.checkin_id == checkin_id)
            .order_by(AlertRow.created_at))).all()
        return await self._records(rows)

    async def acknowledge(self, alert_id: str, *, by: int, now: datetime) -> bool:
        result = await self.session.execute(
            update(AlertRow).where(AlertRow.id == alert_id, AlertRow.status == AlertStatus.OPEN)
            .values(status=AlertStatus.ACKNOWLEDGED, acknowledged_at=now, acknowledged_by=by,
                    next_escalation_at=None))
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def add_note(self, alert_id: str, client_id: str, text: str, *, by: int,
                       now: datetime) -> None:
        """Add a note to the alert's list; the notes already there stay as they are."""
        note_id = new_id()
        self.session.add(AlertNoteRow(
            id=note_id, alert_id=alert_id, author_id=by, at=now,
            text_ct=await self.vault.seal_json(client_id, "alerts.ack_note", note_id, text)))
        await self.session.flush()

    async def open_for(self, client_ids: Sequence[str]) -> list[Alert]:
        if not client_ids:
            return []
        rows = await self.session.scalars(
            select(AlertRow).where(AlertRow.status == AlertStatus.OPEN, AlertRow.client_id.in_(client_ids))
            .order_by(AlertRow.created_at))
        return await self._records(rows.all(), notes=False)

    async def acknowledged_since(self, client_ids: Sequence[str], since: datetime
                                 ) -> list[Alert]:
        """The clients' alerts acknowledged at or after `since`, newest first, with notes."""
        if not client_ids:
            return []
        rows = await self.session.scalars(
            select(AlertRow).where(AlertRow.status == "acknowledged",
                                   AlertRow.client_id.in_(client_ids),
                                   AlertRow.acknowledged_at >= since)
            .order_by(AlertRow.acknowledged_at.desc()))
        return await self._records(rows.all())

    async def open_counts(self, client_ids: Sequence[str]) -> dict[str, dict[str, int]]:
        """{client id: {level: open alerts}}: one read of the open alerts' sealed levels
        (no details), each opened with the store's people key."""
        if not client_ids:
            return {}
        rows = await self.session.execute(
            select(AlertRow.client_id, AlertRow.id, AlertRow.level_ct)
            .where(AlertRow.status == "open", AlertRow.client_id.in_(client_ids)))
        counts: dict[str, dict[str, int]] = {}
        for client_id, alert_id, sealed in rows:
            level = await self._level(alert_id, sealed)
            by_level = counts.setdefault(client_id, {})
            by_level[level] = by_level.get(level, 0) + 1
        return counts

    async def open_ages(self, now: datetime) -> list[OpenAlertAge]:
        """Every open alert of the program, in one statement whatever the caseloads.

        The level is sealed, so each is opened, as open_counts() does, and that is cheap:
        under the program's one people key (its row read and unwrapped once per store),
        a few bytes of AES-GCM in memory per open alert, no client's key and no detail.
        Past its escalation time: escalated already, or due and not yet escalated."""
        rows = await self.session.execute(
            select(ClientRow.clinician_id, AlertRow.id, AlertRow.level_ct, AlertRow.created_at,
                   AlertRow.escalations, AlertRow.next_escalation_at)
            .join(ClientRow, ClientRow.id == AlertRow.client_id)
            .where(AlertRow.status == "open"))
        return [OpenAlertAge(clinician_id=clinician_id,
                             level=await self._level(alert_id, sealed), created_at=created_at,
                             overdue=escalations > 0 or (due is not None and due <= now))
                for clinician_id, alert_id, sealed, created_at, escalations, due in rows]

    async def due_escalations(self, now: datetime) -> list[Alert]:
        rows = await self.session.scalars(
            select(AlertRow).where(AlertRow.status == AlertStatus.OPEN,
                                   AlertRow.next_escalation_at.is_not(None),
                                   AlertRow.next_escalation_at <= now).with_for_update())
        return await self._records(rows.all(), notes=False)

    async def set_escalation(self, alert_id: str, *, escalations: int,
                             next_at: datetime | None) -> None:
        await self.session.execute(
            update(AlertRow).where(AlertRow.id == alert_id)
            .values(escalations=escalations, next_escalation_at=next_at))

    async def add_copy(self, alert_id: str, outbox_id: str, chat_id: int, *,
                       escalation: int = 0) -> None:
        self.session.add(AlertCopyRow(alert_id=alert_id, outbox_id=outbox_id, chat_id=chat_id,
                                      escalation=escalation))
        await self.session.flush()

    async def of_copy(self, outbox_id: str) -> Alert | None:
        """The alert an outbox row is a copy of, its row locked: an acknowledgement racing
        the copy's delivery then waits for it, or is waited for (see AlertService)."""
        row = await self.session.scalar(
            select(AlertRow).join(AlertCopyRow, AlertCopyRow.alert_id == AlertRow.id)
            .where(AlertCopyRow.outbox_id == outbox_id).with_for_update())
        return await self._record(row) if row is not None else None  # notes are not needed

    async def copies(self, alert_id: str) -> list[tuple[int, int | None]]:
        """(chat id, delivered message id) of every copy of the alert."""
        rows = await self.session.execute(
            select(AlertCopyRow.chat_id, OutboxRow.sent_message_id)
            .join(OutboxRow, OutboxRow.id == AlertCopyRow.outbox_id)
            .where(AlertCopyRow.alert_id == alert_id))
        return [(chat, message) for chat, message in rows]

    async def copy_states(self, alert_ids: Sequence[str]) -> dict[str, list[AlertCopy]]:
        """{alert id: its copies, oldest first, each with its outbox row's status}: one
        statement for all the alerts (an alert with no copy maps to [])."""
        found: dict[str, list[AlertCopy]] = {alert_id: [] for alert_id in alert_ids}
        if alert_ids:
            rows = await self.session.execute(
                select(AlertCopyRow.alert_id, AlertCopyRow.chat_id, AlertCopyRow.escalation,
                       OutboxRow.status, OutboxRow.created_at, OutboxRow.sent_at)
                .join(OutboxRow, OutboxRow.id == AlertCopyRow.outbox_id)
                .where(AlertCopyRow.alert_id.in_(list(alert_ids)))
                .order_by(AlertCopyRow.escalation, AlertCopyRow.id))
            for alert_id, chat, escalation, status, queued, sent in rows:
                found[alert_id].append(AlertCopy(alert_id=alert_id, chat_id=chat,
                                                 escalation=escalation, status=status,
                                                 queued_at=queued, sent_at=sent))
        return found

    async def recent(self, client_id: str, *, since: datetime) -> list[Alert]:
        rows = await self.session.scalars(
            select(AlertRow).where(AlertRow.client_id == client_id, AlertRow.created_at >= since)
            .order_by(AlertRow.created_at))
        return await self._records(rows.all())
