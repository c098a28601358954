"""The outbox of messages nobody waits on, and the staff e-mail fallback beside it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from storage.models import AlertCopyRow, AlertRow, ClinicianRow, OutboxRow, StaffEmailRow
from storage.records import (
    WAITING,
    AlertStatus,
    OutboxCounts,
    OutboxMessage,
    OutboxStatus,
    StaffEmail,
)
from storage.repositories.base import Repository, new_id

QUEUED = "outbox.queued"
"""Set in the session's info once a row was queued in its transaction."""


@dataclass(frozen=True, slots=True)
class NewMessage:
    """One message for `OutboxRepository.add_many`; the fields mean what `add`'s do."""

    chat_id: int
    kind: str
    method: str
    params: dict[str, Any]
    client_id: str | None = None
    dedupe_key: str | None = None
    useful_until: datetime | None = None


class OutboxRepository(Repository):
    """Messages to send. Payloads are sealed under the program's outbox key, the chat id
    with them; the row keeps only the chat's keyed index."""

    async def _seal(self, message_id: str, chat_id: int, method: str, params: dict[str, Any],
                    now: datetime) -> bytes:
        return await self.vault.seal_system_json(
            "outbox", "outbox.payload", message_id,
            {"chat_id": chat_id, "method": method, "params": params}, now)

    async def add_many(self, messages: Sequence[NewMessage], *, now: datetime) -> set[str]:
        """Queue many messages in one statement; returns the dedupe keys queued (a key
        queued before is skipped, as `add` would)."""
        keys = [m.dedupe_key for m in messages if m.dedupe_key is not None]
        taken = set(await self.session.scalars(
            select(OutboxRow.dedupe_key).where(OutboxRow.dedupe_key.in_(keys)))) if keys else set()
        rows: list[dict[str, Any]] = []
        queued: set[str] = set()
        for m in messages:
            if m.dedupe_key is not None:
                if m.dedupe_key in taken or m.dedupe_key in queued:
                    continue
                queued.add(m.dedupe_key)
            message_id = new_id()
            payload = await self._seal(message_id, m.chat_id, m.method, m.params, now)
            rows.append({"id": message_id,
                         "chat_index": await self.vault.telegram_index(m.chat_id),
                         "kind": m.kind,
                         "payload_ct": payload, "status": "queued", "attempts": 0,
                         "next_attempt_at": now, "dedupe_key": m.dedupe_key,
                         "client_id": m.client_id, "created_at": now,
                         "useful_until": m.useful_until})
        if rows:
            await self.session.execute(insert(OutboxRow), rows)
        return queued

    async def add(self, *, chat_id: int, kind: str, method: str, params: dict[str, Any],
                  now: datetime, due: datetime | None = None, client_id: str | None = None,
                  dedupe_key: str | None = None,
                  useful_until: datetime | None = None) -> str | None:
        """Queue a message; returns its id, or None when dedupe_key was queued before.

        `useful_until`: when the message stops being worth sending (it then expires instead
        of being retried); None keeps it until sent, or an alert copy until its alert is
        handled."""
        if dedupe_key is not None:
            exists = await self.session.scalar(
                select(OutboxRow.id).where(OutboxRow.dedupe_key == dedupe_key))
            if exists:
                return None
        message_id = new_id()
        payload = await self._seal(message_id, chat_id, method, params, now)
        row = OutboxRow(id=message_id, chat_index=await self.vault.telegram_index(chat_id),
                        kind=kind, payload_ct=payload,
                        status="queued", attempts=0, next_attempt_at=due or now,
                        dedupe_key=dedupe_key, client_id=client_id, created_at=now,
                        useful_until=useful_until)
        try:
            async with self.session.begin_nested():
                self.session.add(row)
                await self.session.flush()
        except IntegrityError:
            return None
        self.session.info[QUEUED] = True  # the unit of work wakes delivery on commit
        return message_id

    async def _record(self, row: OutboxRow, now: datetime) -> OutboxMessage:
        payload = await self.vault.open_system_json("outbox", "outbox.payload", row.id,
                                                    row.payload_ct, now)
        chat_id = int(payload.pop("chat_id"))
        return OutboxMessage(id=row.id, chat_id=chat_id, kind=row.kind, payload=payload,
                             status=row.status, attempts=row.attempts,
                             next_attempt_at=row.next_attempt_at, last_error=row.last_error,
                             client_id=row.client_id, sent_message_id=row.sent_message_id,
                             useful_until=row.useful_until, created_at=row.created_at)

    async def claim_due(self, now: datetime, *, limit: int, lease: timedelta
                        ) -> list[OutboxMessage]:
        """Claim due rows for one worker. SKIP LOCKED lets several workers share the table
        on PostgreSQL; the lease hands a row back if its worker dies mid-send."""
        # At most one message per chat per pass, oldest first: a chat may get one message a
        # second, so a batch full of one busy chat would hold everybody else back.
        ranked = (
            select(OutboxRow.id, OutboxRow.next_attempt_at,
                   func.row_number().over(partition_by=OutboxRow.chat_index,
                                          order_by=(OutboxRow.next_attempt_at,
                                                    OutboxRow.created_at)).label("rank"))
            .where(OutboxRow.status.in_(WAITING), OutboxRow.next_attempt_at <= now,
                   or_(OutboxRow.claimed_until.is_(None), OutboxRow.claimed_until < now))
            .subquery()
        )
        first_per_chat = (select(ranked.c.id).where(ranked.c.rank == 1)
                          .order_by(ranked.c.next_attempt_at).limit(limit))
        query = (
            select(OutboxRow).where(OutboxRow.id.in_(first_per_chat))
            .order_by(OutboxRow.next_attempt_at)
            .with_for_update(skip_locked=True)
        )
        rows = list(await self.session.scalars(query))
        for row in rows:
            row.claimed_until = now + lease
        await self.session.flush()
        return [await self._record(r, now) for r in rows]

    async def release_claims(self) -> int:
        """Hand every claimed, unsent row back to the queue (a new delivery holder taking
        over from one that died); returns how many."""
        result = await self.session.execute(
            update(OutboxRow).where(OutboxRow.claimed_until.is_not(None),
                                    OutboxRow.status.in_(WAITING))
            .values(claimed_until=None))
        return int(getattr(result, "rowcount", 0) or 0)

    async def get(self, message_id: str, now: datetime) -> OutboxMessage | None:
        row = await self.session.get(OutboxRow, message_id)
        return await self._record(row, now) if row else None

    async def mark_sent(self, message_id: str, *, now: datetime,
                        sent_message_id: int | None) -> None:
        await self.session.execute(
            update(OutboxRow).where(OutboxRow.id == message_id)
            .values(status=OutboxStatus.SENT, sent_at=now, sent_message_id=sent_message_id,
                    claimed_until=None, attempts=OutboxRow.attempts + 1))

    async def mark_retry(self, message_id: str, *, at: datetime, error: str,
                         dead: bool = False, count_attempt: bool = True) -> None:
        values: dict[str, Any] = {
            "status": OutboxStatus.DEAD if dead else OutboxStatus.RETRYING, "next_attempt_at": at,
            "last_error": error[:120], "claimed_until": None,
        }
        if count_attempt:
            values["attempts"] = OutboxRow.attempts + 1
        await self.session.execute(update(OutboxRow).where(OutboxRow.id == message_id)
                                   .values(**values))

    async def expire_stale(self, now: datetime) -> int:
        """Move every waiting row that stopped being useful to "expired": past its
        useful_until, or a copy of an alert that was acknowledged meanwhile. A row a worker
        is sending right now is left to that worker."""
        handled = (select(AlertCopyRow.id)
                   .join(AlertRow, AlertRow.id == AlertCopyRow.alert_id)
                   .where(AlertCopyRow.outbox_id == OutboxRow.id, AlertRow.status != AlertStatus.OPEN))
        waiting = (OutboxRow.status.in_(WAITING),
                   or_(OutboxRow.claimed_until.is_(None), OutboxRow.claimed_until < now),
                   or_(OutboxRow.useful_until < now, handled.exists()))
        # Look before writing: an UPDATE would take SQLite's write lock on every idle pass.
        stale = list(await self.session.scalars(select(OutboxRow.id).where(*waiting)))
        if not stale:
            return 0
        result = await self.session.execute(
            update(OutboxRow).where(OutboxRow.id.in_(stale), *waiting)
            .values(status=OutboxStatus.EXPIRED, claimed_until=None)
            .execution_options(synchronize_session=False))
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def cancel_pending(self, *, chat_id: int, kind: str, status: str = OutboxStatus.CANCELLED) -> int:
        """Stop every waiting row of `kind` for the chat: "cancelled" when a person's
        action made it wrong, "expired" when its time passed."""
        result = await self.session.execute(
            update(OutboxRow).where(OutboxRow.chat_index == await self.vault.telegram_index(chat_id),
                                    OutboxRow.kind == kind,
                                    OutboxRow.status.in_(("queued", "retrying")))
            .values(status=status, claimed_until=None))
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def cancel_to(self, *, chat_id: int, client_id: str | None = None,
                        kinds: Sequence[str] | None = None) -> int:
        """Cancel every waiting row to the chat (about one client, of some kinds): a
        person taken off a client's team receives nothing more, queued or not."""
        query = (update(OutboxRow)
                 .where(OutboxRow.chat_index == await self.vault.telegram_index(chat_id),
                        OutboxRow.status.in_(WAITING))
                 .values(status=OutboxStatus.CANCELLED, claimed_until=None)
                 .execution_options(synchronize_session=False))
        if client_id is not None:
            query = query.where(OutboxRow.client_id == client_id)
        if kinds is not None:
            query = query.where(OutboxRow.kind.in_(kinds))
        result = await self.session.execute(query)
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def counts(self) -> OutboxCounts:
        rows = await self.session.execute(
            select(OutboxRow.status, func.count()).group_by(OutboxRow.status))
        by = {status: int(n) for status, n in rows}
        return OutboxCounts(queued=by.get(OutboxStatus.QUEUED, 0),
                            retrying=by.get(OutboxStatus.RETRYING, 0),
                            sent=by.get(OutboxStatus.SENT, 0), dead=by.get(OutboxStatus.DEAD, 0),
                            expired=by.get(OutboxStatus.EXPIRED, 0))

    async def depth(self) -> list[tuple[str, str, int, datetime | None]]:
        """(kind, status, rows, oldest created_at) for each kind and status present, in one
        grouped query: read at scrape time, so every instance reports the same truth."""
        rows = await self.session.execute(
            select(OutboxRow.kind, OutboxRow.status, func.count(), func.min(OutboxRow.created_at))
            .group_by(OutboxRow.kind, OutboxRow.status))
        return [(kind, status, int(n), oldest) for kind, status, n, oldest in rows]

    async def dead(self, now: datetime, limit: int = 50) -> list[OutboxMessage]:
        rows = await self.session.scalars(
            select(OutboxRow).where(OutboxRow.status == OutboxStatus.DEAD)
            .order_by(OutboxRow.created_at.desc()).limit(limit))
        return [await self._record(r, now) for r in rows]

    async def purge_finished(self, before: datetime) -> int:
        """Delete sent, cancelled and expired rows finished before `before`. Alert copies
        stay: an acknowledgement edits every delivered copy through them. Dead rows stay for
        operators."""
        copied = select(AlertCopyRow.id).where(AlertCopyRow.outbox_id == OutboxRow.id)
        result = await self.session.execute(
            delete(OutboxRow).where(
                OutboxRow.status.in_((OutboxStatus.SENT, OutboxStatus.CANCELLED, OutboxStatus.EXPIRED)),
                func.coalesce(OutboxRow.sent_at, OutboxRow.created_at) < before,
                ~copied.exists())
            .execution_options(synchronize_session=False))
        return int(result.rowcount)  # type: ignore[attr-defined]


class StaffEmailRepository(Repository):
    """The e-mail fallback's ledger: one row per outbox row that went out by e-mail too."""

    FALLBACK_KINDS = ("alert", "dead-letter")

    async def open_overdue(self, now: datetime, *, after: timedelta) -> int:
        """Start a fallback for every alert copy or dead-letter notice that has waited
        longer than `after` for Telegram and is addressed to a staff member with an
        e-mail address. The unique outbox id makes a second worker's insert a no-op."""
        taken = select(StaffEmailRow.id).where(StaffEmailRow.outbox_id == OutboxRow.id)
        rows = await self.session.execute(
            select(OutboxRow.id, ClinicianRow.id, AlertCopyRow.alert_id)
            .join(ClinicianRow, ClinicianRow.telegram_index == OutboxRow.chat_index)
            .outerjoin(AlertCopyRow, AlertCopyRow.outbox_id == OutboxRow.id)
            .outerjoin(AlertRow, AlertRow.id == AlertCopyRow.alert_id)
            .where(OutboxRow.kind.in_(self.FALLBACK_KINDS),
                   OutboxRow.status.in_((*WAITING, OutboxStatus.DEAD)),
                   OutboxRow.created_at <= now - after,
                   ClinicianRow.active.is_(True), ClinicianRow.email_ct.is_not(None),
                   or_(AlertRow.id.is_(None), AlertRow.status == AlertStatus.OPEN),
                   ~taken.exists()))
        opened = 0
        for outbox_id, clinician_id, alert_id in rows.all():
            try:
                async with self.session.begin_nested():
                    self.session.add(StaffEmailRow(
                        id=new_id(), outbox_id=outbox_id, clinician_id=clinician_id,
                        alert_id=alert_id, status="pending", attempts=0, next_attempt_at=now,
                        created_at=now))
                    await self.session.flush()
            except IntegrityError:
                continue  # another worker opened it first
            opened += 1
        return opened

    async def claim_due(self, now: datetime, *, limit: int, lease: timedelta
                        ) -> list[StaffEmail]:
        rows = list(await self.session.scalars(
            select(StaffEmailRow).where(
                StaffEmailRow.status == "pending", StaffEmailRow.next_attempt_at <= now,
                or_(StaffEmailRow.claimed_until.is_(None), StaffEmailRow.claimed_until < now))
            .order_by(StaffEmailRow.next_attempt_at).limit(limit)
            .with_for_update(skip_locked=True)))
        claimed = []
        for row in rows:
            row.claimed_until = now + lease
            escalation = await self.session.scalar(
                select(AlertCopyRow.escalation).where(AlertCopyRow.outbox_id == row.outbox_id))
            claimed.append(StaffEmail(id=row.id, outbox_id=row.outbox_id,
                                      clinician_id=row.clinician_id, alert_id=row.alert_id,
                                      escalation=escalation or 0, attempts=row.attempts))
        await self.session.flush()
        return claimed

    async def still_needed(self, mail: StaffEmail) -> bool:
        """False once Telegram delivered the message or its alert was handled."""
        status = await self.session.scalar(
            select(OutboxRow.status).where(OutboxRow.id == mail.outbox_id))
        if status not in (*WAITING, OutboxStatus.DEAD):
            return False
        if mail.alert_id is None:
            return True
        return await self.session.scalar(
            select(AlertRow.status).where(AlertRow.id == mail.alert_id)) == AlertStatus.OPEN

    async def mark(self, mail_id: str, *, status: str, now: datetime,
                   error: str | None = None, retry_at: datetime | None = None) -> None:
        values: dict[str, Any] = {"status": status, "claimed_until": None}
        if status == OutboxStatus.SENT:
            values["sent_at"] = now
        if error is not None:
            values.update(last_error=error[:120], attempts=StaffEmailRow.attempts + 1,
                          next_attempt_at=retry_at or now)
        await self.session.execute(update(StaffEmailRow).where(StaffEmailRow.id == mail_id)
                                   .values(**values))

    async def counts(self) -> dict[str, int]:
        rows = await self.session.execute(
            select(StaffEmailRow.status, func.count()).group_by(StaffEmailRow.status))
        return {status: int(n) for status, n in rows}
