"""Repositories: one per aggregate, encrypting on write and decrypting on read. Never commit."""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.crypto import KeyErasedError
from storage.models import (
    AlertCopyRow,
    AlertRow,
    CheckInRow,
    ClientRow,
    ClinicianRow,
    ConversationRow,
    EnrolmentAttemptRow,
    InviteRow,
    JournalEntryRow,
    OutboxRow,
    PlanRow,
    ProcessedUpdateRow,
    RiskOverrideRow,
    StaffEmailRow,
)
from storage.records import (
    Alert,
    CheckIn,
    CheckInDay,
    Client,
    Clinician,
    Conversation,
    Invite,
    JournalEntry,
    OutboxCounts,
    OutboxMessage,
    Plan,
    ScheduledDay,
    StaffEmail,
)
from storage.vault import Vault

# Client codes avoid look-alike characters (0/O, 1/I/L) so they can be read aloud.
_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


def new_id() -> str:
    return uuid.uuid4().hex


def new_client_code() -> str:
    pick = [secrets.choice(_CODE_ALPHABET) for _ in range(5)]
    return "".join(pick[:3]) + "-" + "".join(pick[3:])


class DuplicateError(Exception):
    """A unique fact already exists (same Telegram account, same day's check-in...)."""


def _clinician(row: ClinicianRow) -> Clinician:
    return Clinician(id=row.id, telegram_id=row.telegram_id, name=row.name, role=row.role,
                     active=row.active, contact=row.contact, has_email=row.email_ct is not None)


def _client(row: ClientRow) -> Client:
    return Client(
        id=row.id, code=row.code, telegram_id=row.telegram_id, clinician_id=row.clinician_id,
        status=row.status, language=row.language, timezone=row.timezone,
        checkin_time=row.checkin_time, checkin_days=row.checkin_days,
        pause_reason=row.pause_reason, unreachable=row.unreachable, created_at=row.created_at,
        enrolled_at=row.enrolled_at, discharged_at=row.discharged_at, paused_at=row.paused_at,
        resumed_at=row.resumed_at,
        window_start=row.window_start, window_end=row.window_end, erase_after=row.erase_after,
    )


class Repository:
    def __init__(self, session: AsyncSession, vault: Vault) -> None:
        self.session = session
        self.vault = vault


class ClinicianRepository(Repository):
    async def add(self, *, telegram_id: int, name: str, role: str, now: datetime,
                  contact: str = "", email: str | None = None) -> Clinician:
        row = ClinicianRow(telegram_id=telegram_id, name=name, role=role, active=True,
                           contact=contact, created_at=now)
        self.session.add(row)
        try:
            await self.session.flush()
        except IntegrityError:
            raise DuplicateError(f"a clinician with Telegram id {telegram_id} exists") from None
        if email:
            row.email_ct = await self._seal_email(row.id, email, now)
            await self.session.flush()
        return _clinician(row)

    async def _seal_email(self, clinician_id: int, email: str, now: datetime) -> bytes:
        # The row id is in the seal's associated data: an address moved to another
        # clinician's row does not open.
        return await self.vault.seal_system_json("staff", "clinicians.email", str(clinician_id),
                                                 email, now)

    async def set_email(self, clinician_id: int, email: str | None, now: datetime
                        ) -> Clinician | None:
        row = await self.session.get(ClinicianRow, clinician_id)
        if row is None:
            return None
        row.email_ct = await self._seal_email(row.id, email, now) if email else None
        await self.session.flush()
        return _clinician(row)

    async def email(self, clinician_id: int, now: datetime) -> str | None:
        row = await self.session.get(ClinicianRow, clinician_id)
        if row is None or row.email_ct is None:
            return None
        value = await self.vault.open_system_json("staff", "clinicians.email", str(row.id),
                                                  row.email_ct, now)
        return str(value)

    async def by_telegram_id(self, telegram_id: int) -> Clinician | None:
        row = await self.session.scalar(
            select(ClinicianRow).where(ClinicianRow.telegram_id == telegram_id,
                                       ClinicianRow.active.is_(True)))
        return _clinician(row) if row else None

    async def get(self, clinician_id: int) -> Clinician | None:
        row = await self.session.get(ClinicianRow, clinician_id)
        return _clinician(row) if row else None

    async def everyone(self) -> list[Clinician]:
        rows = await self.session.scalars(select(ClinicianRow).order_by(ClinicianRow.id))
        return [_clinician(r) for r in rows]

    async def supervisors(self) -> list[Clinician]:
        rows = await self.session.scalars(
            select(ClinicianRow).where(ClinicianRow.role == "supervisor",
                                       ClinicianRow.active.is_(True)).order_by(ClinicianRow.id))
        return [_clinician(r) for r in rows]


class ClientRepository(Repository):
    async def add_invited(self, *, clinician_id: int, language: str, timezone: str,
                          checkin_time: str, now: datetime) -> Client:
        """A client record waiting for its invite to be used; its data key exists already,
        so the clinician's private note can be sealed under it."""
        for _ in range(20):
            code = new_client_code()
            exists = await self.session.scalar(select(ClientRow.id).where(ClientRow.code == code))
            if not exists:
                break
        row = ClientRow(id=new_id(), code=code, telegram_id=None, clinician_id=clinician_id,
                        status="invited", language=language, timezone=timezone,
                        checkin_time=checkin_time, checkin_days="0123456", unreachable=False,
                        created_at=now)
        self.session.add(row)
        await self.session.flush()
        await self.vault.create_client_key(row.id, now)
        return _client(row)

    async def get(self, client_id: str) -> Client | None:
        row = await self.session.get(ClientRow, client_id)
        return _client(row) if row else None

    async def by_code(self, code: str) -> Client | None:
        row = await self.session.scalar(select(ClientRow).where(ClientRow.code == code.upper()))
        return _client(row) if row else None

    async def by_telegram_id(self, telegram_id: int) -> Client | None:
        row = await self.session.scalar(
            select(ClientRow).where(ClientRow.telegram_id == telegram_id,
                                    ClientRow.status.in_(("active", "paused"))))
        return _client(row) if row else None

    async def update(self, client_id: str, **values: Any) -> Client:
        row = await self.session.get(ClientRow, client_id, with_for_update=True)
        if row is None:
            raise LookupError(f"no client {client_id}")
        for name, value in values.items():
            setattr(row, name, value)
        try:
            await self.session.flush()
        except IntegrityError:
            raise DuplicateError("that Telegram account is already enrolled") from None
        return _client(row)

    async def for_clinician(self, clinician_id: int | None) -> list[Client]:
        query = select(ClientRow).where(ClientRow.status.in_(("active", "paused")))
        if clinician_id is not None:
            query = query.where(ClientRow.clinician_id == clinician_id)
        return [_client(r) for r in await self.session.scalars(query.order_by(ClientRow.code))]

    async def active(self) -> list[Client]:
        rows = await self.session.scalars(select(ClientRow).where(ClientRow.status == "active"))
        return [_client(r) for r in rows]

    async def erase(self, client_id: str, now: datetime) -> bool:
        """Crypto-shred: destroy the data key and forget the Telegram account.

        Whatever names the client outside their sealed records goes too: open invites are
        revoked (their notes were sealed under the destroyed key), every outbox row about
        them or addressed to their chat is deleted, dead letters included (payloads hold the
        client code, with ALERT_DETAIL=full the reasons, and rows hold the Telegram id), a
        half-finished conversation is forgotten, and open alerts are closed so that they no
        longer escalate about a person who is gone."""
        row = await self.session.get(ClientRow, client_id, with_for_update=True)
        telegram_id = row.telegram_id if row is not None else None
        destroyed = await self.vault.destroy_client_key(client_id, now)
        await self.session.execute(
            update(ClientRow).where(ClientRow.id == client_id)
            .values(status="erased", telegram_id=None, erased_at=now))
        await self.session.execute(delete(PlanRow).where(PlanRow.client_id == client_id))
        await self.session.execute(
            update(InviteRow).where(InviteRow.client_id == client_id).values(note_ct=None))
        await self.session.execute(
            update(InviteRow).where(InviteRow.client_id == client_id, InviteRow.used_at.is_(None),
                                    InviteRow.expires_at > now)
            .values(expires_at=now))
        await self.session.execute(
            update(AlertRow).where(AlertRow.client_id == client_id, AlertRow.status == "open")
            .values(status="closed", next_escalation_at=None))
        about = OutboxRow.client_id == client_id
        if telegram_id is not None:
            about = or_(about, OutboxRow.chat_id == telegram_id)
            await self.session.execute(
                delete(ConversationRow).where(ConversationRow.telegram_id == telegram_id))
        doomed = select(OutboxRow.id).where(about)
        for table in (AlertCopyRow, StaffEmailRow):
            await self.session.execute(
                delete(table).where(table.outbox_id.in_(doomed))
                .execution_options(synchronize_session=False))
        await self.session.execute(
            delete(OutboxRow).where(about).execution_options(synchronize_session=False))
        return destroyed

    async def due_for_erasure(self, now: datetime) -> list[Client]:
        """Discharged clients whose retention period ended (erase_after has passed)."""
        rows = await self.session.scalars(
            select(ClientRow).where(ClientRow.status == "discharged",
                                    ClientRow.erase_after.is_not(None),
                                    ClientRow.erase_after <= now).order_by(ClientRow.erase_after))
        return [_client(r) for r in rows]


class InviteRepository(Repository):
    async def add(self, *, code_hash: str, clinician_id: int, client_id: str, note: str | None,
                  now: datetime, ttl: timedelta) -> Invite:
        invite_id = new_id()
        note_ct = (await self.vault.seal_json(client_id, "invites.note", invite_id, note)
                   if note else None)
        row = InviteRow(id=invite_id, code_hash=code_hash, clinician_id=clinician_id,
                        client_id=client_id, note_ct=note_ct, created_at=now,
                        expires_at=now + ttl)
        self.session.add(row)
        await self.session.flush()
        return self._record(row)

    @staticmethod
    def _record(row: InviteRow) -> Invite:
        return Invite(id=row.id, clinician_id=row.clinician_id, client_id=row.client_id,
                      created_at=row.created_at, expires_at=row.expires_at, used_at=row.used_at)

    async def by_code_hash(self, code_hash: str, *, lock: bool = False) -> Invite | None:
        query = select(InviteRow).where(InviteRow.code_hash == code_hash)
        if lock:
            query = query.with_for_update()
        row = await self.session.scalar(query)
        return self._record(row) if row else None

    async def get(self, invite_id: str) -> Invite | None:
        row = await self.session.get(InviteRow, invite_id)
        return self._record(row) if row else None

    async def note(self, invite: Invite) -> str | None:
        row = await self.session.get(InviteRow, invite.id)
        if row is None or row.note_ct is None:
            return None
        value = await self.vault.open_json(invite.client_id, "invites.note", invite.id, row.note_ct)
        return str(value)

    async def mark_used(self, invite_id: str, now: datetime) -> bool:
        result = await self.session.execute(
            update(InviteRow).where(InviteRow.id == invite_id, InviteRow.used_at.is_(None))
            .values(used_at=now))
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def record_failure(self, telegram_id: int, now: datetime) -> int:
        """Record a wrong code and return how many this account made in the last hour."""
        self.session.add(EnrolmentAttemptRow(telegram_id=telegram_id, at=now))
        await self.session.flush()
        return await self.failures(telegram_id, now)

    async def failures(self, telegram_id: int, now: datetime) -> int:
        """Wrong codes from this account in the hour up to `now`."""
        since = now - timedelta(hours=1)
        await self.session.execute(
            delete(EnrolmentAttemptRow).where(EnrolmentAttemptRow.at < now - timedelta(hours=3)))
        return int(await self.session.scalar(
            select(func.count()).select_from(EnrolmentAttemptRow)
            .where(EnrolmentAttemptRow.telegram_id == telegram_id,
                   EnrolmentAttemptRow.at >= since, EnrolmentAttemptRow.at <= now)) or 0)

    async def last_failure(self, telegram_id: int) -> datetime | None:
        return await self.session.scalar(
            select(func.max(EnrolmentAttemptRow.at))
            .where(EnrolmentAttemptRow.telegram_id == telegram_id))


class ConversationRepository(Repository):
    async def get(self, telegram_id: int) -> Conversation | None:
        row = await self.session.get(ConversationRow, telegram_id)
        if row is None:
            return None
        return Conversation(telegram_id=row.telegram_id, state=row.state,
                            data=json.loads(row.data), updated_at=row.updated_at)

    async def set(self, telegram_id: int, state: str, data: dict[str, Any], now: datetime) -> None:
        row = await self.session.get(ConversationRow, telegram_id)
        if row is None:
            self.session.add(ConversationRow(telegram_id=telegram_id, state=state,
                                             data=json.dumps(data), updated_at=now))
        else:
            row.state, row.data, row.updated_at = state, json.dumps(data), now
        await self.session.flush()

    async def clear(self, telegram_id: int) -> None:
        await self.session.execute(
            delete(ConversationRow).where(ConversationRow.telegram_id == telegram_id))


class CheckInRepository(Repository):
    async def _record(self, row: CheckInRow) -> CheckIn:
        state = scores = None
        try:
            if row.state_ct is not None:
                state = await self.vault.open_json(row.client_id, "checkins.state", row.id,
                                                   row.state_ct)
            if row.scores_ct is not None:
                scores = await self.vault.open_json(row.client_id, "checkins.scores", row.id,
                                                    row.scores_ct)
        except KeyErasedError:
            state = scores = None
        return CheckIn(
            id=row.id, client_id=row.client_id, local_date=row.local_date, status=row.status,
            questionnaire_id=row.questionnaire_id,
            questionnaire_version=row.questionnaire_version,
            item_ids=tuple(i for i in row.item_ids.split(",") if i), state=state, scores=scores,
            risk_level=row.risk_level, message_id=row.message_id, prompted_at=row.prompted_at,
            reminded_at=row.reminded_at, started_at=row.started_at,
            submitted_at=row.submitted_at,
        )

    async def get(self, checkin_id: str, *, lock: bool = False) -> CheckIn | None:
        row = await self.session.get(CheckInRow, checkin_id, with_for_update=lock)
        return await self._record(row) if row else None

    async def for_day(self, client_id: str, local_date: date, *, lock: bool = False
                      ) -> CheckIn | None:
        query = select(CheckInRow).where(CheckInRow.client_id == client_id,
                                         CheckInRow.local_date == local_date)
        if lock:
            query = query.with_for_update()
        row = await self.session.scalar(query)
        return await self._record(row) if row else None

    async def create(self, *, client_id: str, local_date: date, status: str,
                     questionnaire_id: str, questionnaire_version: str,
                     item_ids: Sequence[str], now: datetime,
                     prompted_at: datetime | None = None) -> CheckIn:
        """Create the day's check-in; the unique (client, date) makes a second one fail."""
        row = CheckInRow(id=new_id(), client_id=client_id, local_date=local_date, status=status,
                         questionnaire_id=questionnaire_id,
                         questionnaire_version=questionnaire_version,
                         item_ids=",".join(item_ids), created_at=now, prompted_at=prompted_at)
        try:
            async with self.session.begin_nested():
                self.session.add(row)
                await self.session.flush()
        except IntegrityError:
            raise DuplicateError("this day's check-in exists already") from None
        return await self._record(row)

    async def save(self, checkin_id: str, *, state: dict[str, Any] | None = None,
                   scores: dict[str, Any] | None = None, **values: Any) -> CheckIn:
        row = await self.session.get(CheckInRow, checkin_id)
        if row is None:
            raise LookupError(f"no check-in {checkin_id}")
        if state is not None:
            row.state_ct = await self.vault.seal_json(row.client_id, "checkins.state", row.id, state)
        if scores is not None:
            row.scores_ct = await self.vault.seal_json(row.client_id, "checkins.scores", row.id,
                                                       scores)
        for name, value in values.items():
            setattr(row, name, value)
        await self.session.flush()
        return await self._record(row)

    async def recent(self, client_id: str, *, since: date, until: date | None = None
                     ) -> list[CheckIn]:
        query = select(CheckInRow).where(CheckInRow.client_id == client_id,
                                         CheckInRow.local_date >= since)
        if until is not None:
            query = query.where(CheckInRow.local_date <= until)
        rows = await self.session.scalars(query.order_by(CheckInRow.local_date))
        return [await self._record(r) for r in rows]

    async def statuses(self, client_id: str, *, since: date) -> dict[date, str]:
        rows = await self.session.execute(
            select(CheckInRow.local_date, CheckInRow.status)
            .where(CheckInRow.client_id == client_id, CheckInRow.local_date >= since))
        return {d: s for d, s in rows}

    async def days(self, client_id: str, *, since: date | None = None,
                   until: date | None = None) -> list[CheckInDay]:
        """Outlines in date order; nothing is decrypted."""
        query = select(CheckInRow.id, CheckInRow.local_date, CheckInRow.status,
                       CheckInRow.risk_level, CheckInRow.submitted_at
                       ).where(CheckInRow.client_id == client_id)
        if since is not None:
            query = query.where(CheckInRow.local_date >= since)
        if until is not None:
            query = query.where(CheckInRow.local_date <= until)
        rows = await self.session.execute(query.order_by(CheckInRow.local_date))
        return [CheckInDay(*row) for row in rows]

    async def latest_day(self, client_id: str, *, status: str = "submitted") -> CheckInDay | None:
        row = (await self.session.execute(
            select(CheckInRow.id, CheckInRow.local_date, CheckInRow.status,
                   CheckInRow.risk_level, CheckInRow.submitted_at)
            .where(CheckInRow.client_id == client_id, CheckInRow.status == status)
            .order_by(CheckInRow.local_date.desc()).limit(1))).first()
        return CheckInDay(*row) if row else None

    async def scheduled_days(self, client_ids: Sequence[str], *, since: date
                             ) -> list[ScheduledDay]:
        """Recent days of many clients in one query, for the scheduler; nothing decrypted."""
        if not client_ids:
            return []
        rows = await self.session.execute(
            select(CheckInRow.id, CheckInRow.client_id, CheckInRow.local_date, CheckInRow.status,
                   CheckInRow.prompted_at, CheckInRow.reminded_at)
            .where(CheckInRow.client_id.in_(client_ids), CheckInRow.local_date >= since))
        return [ScheduledDay(*row) for row in rows]


class JournalRepository(Repository):
    async def _record(self, row: JournalEntryRow) -> JournalEntry:
        text = await self.vault.open_json(row.client_id, "journal_entries.body", row.id,
                                          row.body_ct)
        return JournalEntry(id=row.id, client_id=row.client_id, status=row.status,
                            text=str(text), created_at=row.created_at, saved_at=row.saved_at)

    async def draft(self, client_id: str) -> JournalEntry | None:
        row = await self.session.scalar(
            select(JournalEntryRow).where(JournalEntryRow.client_id == client_id,
                                          JournalEntryRow.status == "draft"))
        return await self._record(row) if row else None

    async def write(self, *, client_id: str, text: str, now: datetime, status: str = "saved",
                    entry_id: str | None = None) -> JournalEntry:
        row = await self.session.get(JournalEntryRow, entry_id) if entry_id else None
        if row is None:
            row = JournalEntryRow(id=entry_id or new_id(), client_id=client_id, status=status,
                                  body_ct=b"", created_at=now)
            self.session.add(row)
        row.body_ct = await self.vault.seal_json(client_id, "journal_entries.body", row.id, text)
        row.status = status
        row.saved_at = now if status == "saved" else None
        await self.session.flush()
        return await self._record(row)

    async def delete_draft(self, client_id: str, entry_id: str) -> bool:
        """Remove an unsaved entry for good (the client cancelled it)."""
        result = await self.session.execute(
            delete(JournalEntryRow).where(JournalEntryRow.id == entry_id,
                                          JournalEntryRow.client_id == client_id,
                                          JournalEntryRow.status == "draft"))
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def recent(self, client_id: str, *, limit: int = 5, offset: int = 0,
                     since: datetime | None = None) -> list[JournalEntry]:
        query = select(JournalEntryRow).where(JournalEntryRow.client_id == client_id,
                                              JournalEntryRow.status == "saved")
        if since is not None:
            query = query.where(JournalEntryRow.created_at >= since)
        rows = await self.session.scalars(
            query.order_by(JournalEntryRow.created_at.desc()).offset(offset).limit(limit))
        return [await self._record(r) for r in rows]

    async def index(self, client_id: str) -> list[tuple[str, datetime]]:
        """(id, created_at) of every saved entry, newest first; nothing is decrypted."""
        rows = await self.session.execute(
            select(JournalEntryRow.id, JournalEntryRow.created_at)
            .where(JournalEntryRow.client_id == client_id, JournalEntryRow.status == "saved")
            .order_by(JournalEntryRow.created_at.desc()))
        return [(entry_id, at) for entry_id, at in rows]

    async def get(self, entry_id: str) -> JournalEntry | None:
        row = await self.session.get(JournalEntryRow, entry_id)
        return await self._record(row) if row else None


class PlanRepository(Repository):
    async def get(self, client_id: str) -> Plan:
        row = await self.session.get(PlanRow, client_id)
        if row is None:
            return Plan(client_id=client_id)
        body = await self.vault.open_json(client_id, "plans.body", client_id, row.body_ct)
        return Plan(client_id=client_id, warning_signs=tuple(body.get("warning_signs", ())),
                    coping_steps=tuple(body.get("coping_steps", ())),
                    support_people=tuple(body.get("support_people", ())),
                    updated_at=row.updated_at)

    async def put(self, plan: Plan, *, by: int | None, now: datetime) -> Plan:
        body = {"warning_signs": list(plan.warning_signs), "coping_steps": list(plan.coping_steps),
                "support_people": list(plan.support_people)}
        sealed = await self.vault.seal_json(plan.client_id, "plans.body", plan.client_id, body)
        row = await self.session.get(PlanRow, plan.client_id)
        if row is None:
            self.session.add(PlanRow(client_id=plan.client_id, body_ct=sealed, updated_at=now,
                                     updated_by=by))
        else:
            row.body_ct, row.updated_at, row.updated_by = sealed, now, by
        await self.session.flush()
        return await self.get(plan.client_id)


class RiskOverrideRepository(Repository):
    async def for_client(self, client_id: str) -> dict[str, int]:
        rows = await self.session.execute(
            select(RiskOverrideRow.rule_id, RiskOverrideRow.threshold)
            .where(RiskOverrideRow.client_id == client_id))
        return {rule: threshold for rule, threshold in rows}

    async def set(self, client_id: str, rule_id: str, threshold: int, *, by: int,
                  now: datetime) -> None:
        row = await self.session.get(RiskOverrideRow, (client_id, rule_id))
        if row is None:
            self.session.add(RiskOverrideRow(client_id=client_id, rule_id=rule_id,
                                             threshold=threshold, set_by=by, set_at=now))
        else:
            row.threshold, row.set_by, row.set_at = threshold, by, now
        await self.session.flush()


class AlertRepository(Repository):
    async def _record(self, row: AlertRow) -> Alert:
        try:
            detail = await self.vault.open_json(row.client_id, "alerts.detail", row.id,
                                                row.detail_ct)
            note = (await self.vault.open_json(row.client_id, "alerts.ack_note", row.id,
                                               row.ack_note_ct) if row.ack_note_ct else None)
        except KeyErasedError:
            detail, note = {}, None
        return Alert(id=row.id, client_id=row.client_id, checkin_id=row.checkin_id,
                     level=row.level, status=row.status, detail=detail,
                     created_at=row.created_at, acknowledged_at=row.acknowledged_at,
                     acknowledged_by=row.acknowledged_by, ack_note=note,
                     escalations=row.escalations, next_escalation_at=row.next_escalation_at)

    async def add(self, *, client_id: str, checkin_id: str | None, level: str,
                  detail: dict[str, Any], now: datetime,
                  next_escalation_at: datetime | None) -> Alert:
        alert_id = new_id()
        row = AlertRow(id=alert_id, client_id=client_id, checkin_id=checkin_id, level=level,
                       status="open",
                       detail_ct=await self.vault.seal_json(client_id, "alerts.detail", alert_id,
                                                            detail),
                       created_at=now, escalations=0, next_escalation_at=next_escalation_at)
        self.session.add(row)
        await self.session.flush()
        return await self._record(row)

    async def get(self, alert_id: str, *, lock: bool = False) -> Alert | None:
        row = await self.session.get(AlertRow, alert_id, with_for_update=lock)
        return await self._record(row) if row else None

    async def for_checkin(self, checkin_id: str) -> list[Alert]:
        rows = await self.session.scalars(
            select(AlertRow).where(AlertRow.checkin_id == checkin_id).order_by(AlertRow.created_at))
        return [await self._record(r) for r in rows]

    async def acknowledge(self, alert_id: str, *, by: int, now: datetime) -> bool:
        result = await self.session.execute(
            update(AlertRow).where(AlertRow.id == alert_id, AlertRow.status == "open")
            .values(status="acknowledged", acknowledged_at=now, acknowledged_by=by,
                    next_escalation_at=None))
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def set_note(self, alert_id: str, client_id: str, note: str) -> None:
        row = await self.session.get(AlertRow, alert_id)
        if row is not None:
            row.ack_note_ct = await self.vault.seal_json(client_id, "alerts.ack_note", alert_id,
                                                         note)
            await self.session.flush()

    async def open_for(self, client_ids: Sequence[str]) -> list[Alert]:
        if not client_ids:
            return []
        rows = await self.session.scalars(
            select(AlertRow).where(AlertRow.status == "open", AlertRow.client_id.in_(client_ids))
            .order_by(AlertRow.created_at))
        return [await self._record(r) for r in rows]

    async def open_counts(self, client_ids: Sequence[str]) -> dict[str, dict[str, int]]:
        """{client id: {level: open alerts}}, from plaintext columns only."""
        if not client_ids:
            return {}
        rows = await self.session.execute(
            select(AlertRow.client_id, AlertRow.level, func.count())
            .where(AlertRow.status == "open", AlertRow.client_id.in_(client_ids))
            .group_by(AlertRow.client_id, AlertRow.level))
        counts: dict[str, dict[str, int]] = {}
        for client_id, level, n in rows:
            counts.setdefault(client_id, {})[level] = int(n)
        return counts

    async def due_escalations(self, now: datetime) -> list[Alert]:
        rows = await self.session.scalars(
            select(AlertRow).where(AlertRow.status == "open",
                                   AlertRow.next_escalation_at.is_not(None),
                                   AlertRow.next_escalation_at <= now).with_for_update())
        return [await self._record(r) for r in rows]

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
        return await self._record(row) if row is not None else None

    async def copies(self, alert_id: str) -> list[tuple[int, int | None]]:
        """(chat id, delivered message id) of every copy of the alert."""
        rows = await self.session.execute(
            select(AlertCopyRow.chat_id, OutboxRow.sent_message_id)
            .join(OutboxRow, OutboxRow.id == AlertCopyRow.outbox_id)
            .where(AlertCopyRow.alert_id == alert_id))
        return [(chat, message) for chat, message in rows]

    async def recent(self, client_id: str, *, since: datetime) -> list[Alert]:
        rows = await self.session.scalars(
            select(AlertRow).where(AlertRow.client_id == client_id, AlertRow.created_at >= since)
            .order_by(AlertRow.created_at))
        return [await self._record(r) for r in rows]


class OutboxRepository(Repository):
    """Messages to send. Payloads are sealed under the program's outbox key."""

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
        payload = await self.vault.seal_system_json(
            "outbox", "outbox.payload", message_id, {"method": method, "params": params}, now)
        row = OutboxRow(id=message_id, chat_id=chat_id, kind=kind, payload_ct=payload,
                        status="queued", attempts=0, next_attempt_at=due or now,
                        dedupe_key=dedupe_key, client_id=client_id, created_at=now,
                        useful_until=useful_until)
        try:
            async with self.session.begin_nested():
                self.session.add(row)
                await self.session.flush()
        except IntegrityError:
            return None
        return message_id

    async def _record(self, row: OutboxRow, now: datetime) -> OutboxMessage:
        payload = await self.vault.open_system_json("outbox", "outbox.payload", row.id,
                                                    row.payload_ct, now)
        return OutboxMessage(id=row.id, chat_id=row.chat_id, kind=row.kind, payload=payload,
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
                   func.row_number().over(partition_by=OutboxRow.chat_id,
                                          order_by=(OutboxRow.next_attempt_at,
                                                    OutboxRow.created_at)).label("rank"))
            .where(OutboxRow.status.in_(("queued", "retrying")), OutboxRow.next_attempt_at <= now,
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

    async def get(self, message_id: str, now: datetime) -> OutboxMessage | None:
        row = await self.session.get(OutboxRow, message_id)
        return await self._record(row, now) if row else None

    async def mark_sent(self, message_id: str, *, now: datetime,
                        sent_message_id: int | None) -> None:
        await self.session.execute(
            update(OutboxRow).where(OutboxRow.id == message_id)
            .values(status="sent", sent_at=now, sent_message_id=sent_message_id,
                    claimed_until=None, attempts=OutboxRow.attempts + 1))

    async def mark_retry(self, message_id: str, *, at: datetime, error: str,
                         dead: bool = False, count_attempt: bool = True) -> None:
        values: dict[str, Any] = {
            "status": "dead" if dead else "retrying", "next_attempt_at": at,
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
                   .where(AlertCopyRow.outbox_id == OutboxRow.id, AlertRow.status != "open"))
        waiting = (OutboxRow.status.in_(("queued", "retrying")),
                   or_(OutboxRow.claimed_until.is_(None), OutboxRow.claimed_until < now),
                   or_(OutboxRow.useful_until < now, handled.exists()))
        # Look before writing: an UPDATE would take SQLite's write lock on every idle pass.
        stale = list(await self.session.scalars(select(OutboxRow.id).where(*waiting)))
        if not stale:
            return 0
        result = await self.session.execute(
            update(OutboxRow).where(OutboxRow.id.in_(stale), *waiting)
            .values(status="expired", claimed_until=None)
            .execution_options(synchronize_session=False))
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def cancel_pending(self, *, chat_id: int, kind: str, status: str = "cancelled") -> int:
        """Stop every waiting row of `kind` for the chat: "cancelled" when a person's
        action made it wrong, "expired" when its time passed."""
        result = await self.session.execute(
            update(OutboxRow).where(OutboxRow.chat_id == chat_id, OutboxRow.kind == kind,
                                    OutboxRow.status.in_(("queued", "retrying")))
            .values(status=status, claimed_until=None))
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def counts(self) -> OutboxCounts:
        rows = await self.session.execute(
            select(OutboxRow.status, func.count()).group_by(OutboxRow.status))
        by = {status: int(n) for status, n in rows}
        return OutboxCounts(queued=by.get("queued", 0), retrying=by.get("retrying", 0),
                            sent=by.get("sent", 0), dead=by.get("dead", 0),
                            expired=by.get("expired", 0))

    async def dead(self, now: datetime, limit: int = 50) -> list[OutboxMessage]:
        rows = await self.session.scalars(
            select(OutboxRow).where(OutboxRow.status == "dead")
            .order_by(OutboxRow.created_at.desc()).limit(limit))
        return [await self._record(r, now) for r in rows]

    async def purge_finished(self, before: datetime) -> int:
        """Delete sent, cancelled and expired rows finished before `before`. Alert copies
        stay: an acknowledgement edits every delivered copy through them. Dead rows stay for
        operators."""
        copied = select(AlertCopyRow.id).where(AlertCopyRow.outbox_id == OutboxRow.id)
        result = await self.session.execute(
            delete(OutboxRow).where(
                OutboxRow.status.in_(("sent", "cancelled", "expired")),
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
            .join(ClinicianRow, ClinicianRow.telegram_id == OutboxRow.chat_id)
            .outerjoin(AlertCopyRow, AlertCopyRow.outbox_id == OutboxRow.id)
            .outerjoin(AlertRow, AlertRow.id == AlertCopyRow.alert_id)
            .where(OutboxRow.kind.in_(self.FALLBACK_KINDS),
                   OutboxRow.status.in_(("queued", "retrying", "dead")),
                   OutboxRow.created_at <= now - after,
                   ClinicianRow.active.is_(True), ClinicianRow.email_ct.is_not(None),
                   or_(AlertRow.id.is_(None), AlertRow.status == "open"),
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
        if status not in ("queued", "retrying", "dead"):
            return False
        if mail.alert_id is None:
            return True
        return await self.session.scalar(
            select(AlertRow.status).where(AlertRow.id == mail.alert_id)) == "open"

    async def mark(self, mail_id: str, *, status: str, now: datetime,
                   error: str | None = None, retry_at: datetime | None = None) -> None:
        values: dict[str, Any] = {"status": status, "claimed_until": None}
        if status == "sent":
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


class UpdateLedger(Repository):
    """Update ids whose effects are committed; the same transaction records them."""

    async def seen(self, update_id: int) -> bool:
        return await self.session.get(ProcessedUpdateRow, update_id) is not None

    async def record(self, update_id: int, now: datetime) -> bool:
        """Claim the update id for this transaction; False if it was processed before."""
        try:
            async with self.session.begin_nested():
                self.session.add(ProcessedUpdateRow(update_id=update_id, processed_at=now))
                await self.session.flush()
        except IntegrityError:
            return False
        return True

    async def purge(self, before: datetime) -> None:
        await self.session.execute(
            delete(ProcessedUpdateRow).where(ProcessedUpdateRow.processed_at < before))


__all__ = [
    "AlertRepository", "CheckInRepository", "ClientRepository", "ClinicianRepository",
    "ConversationRepository", "DuplicateError", "InviteRepository", "JournalRepository",
    "OutboxRepository", "PlanRepository", "RiskOverrideRepository", "StaffEmailRepository",
    "UpdateLedger", "new_id",
]
