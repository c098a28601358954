"""Clinicians and clients: who works with whom, and a client's schedule and status."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import LargeBinary, and_, bindparam, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    AlertCopyRow,
    AlertRow,
    AppointmentRow,
    CheckInRow,
    ClientKeyRow,
    ClientRow,
    ClinicianRow,
    ConversationRow,
    HelpMomentRow,
    HomeworkRow,
    InviteRow,
    OutboxRow,
    PlanRow,
    PlanSuggestionRow,
    PlanVersionRow,
    ProgressReportRow,
    SharingAgreementRow,
    StaffEmailRow,
)
from storage.records import ENROLLED, AlertStatus, Client, ClientStatus, Clinician
from storage.repositories.base import (
    DuplicateError,
    Repository,
    _client,
    _clinician,
    new_client_code,
    new_id,
)
from storage.vault import Vault


@dataclass(frozen=True, slots=True)
class Found:
    """Who writes from one Telegram account (`people`): the active staff member, else the
    current client, with the client's wrapped data key and sealed plan as stored (None:
    no such row), for the unit of work to open only when asked."""

    clinician: Clinician | None
    client: Client | None
    key: tuple[str, str | None, bytes | None] | None = None  # id, master key id, wrapped
    plan: tuple[bytes, datetime, int] | None = None  # body_ct, updated_at, version


def _people_statement() -> Any:
    who = select(bindparam("index", type_=LargeBinary).label("telegram_index")).subquery("who")
    return (select(ClinicianRow, ClientRow, ClientKeyRow.id, ClientKeyRow.master_key_id,
                   ClientKeyRow.wrapped, PlanRow.body_ct, PlanRow.updated_at, PlanRow.version)
            .select_from(who)
            .outerjoin(ClinicianRow, and_(ClinicianRow.telegram_index == who.c.telegram_index,
                                          ClinicianRow.active.is_(True)))
            .outerjoin(ClientRow, and_(ClientRow.telegram_index == who.c.telegram_index,
                                       ClientRow.status.in_(("active", "paused"))))
            .outerjoin(ClientKeyRow, ClientKeyRow.client_id == ClientRow.id)
            .outerjoin(PlanRow, PlanRow.client_id == ClientRow.id))


# Built once: every update asks it, and building it (and its cache key) cost more than
# running it. The account's index is its one parameter.
_PEOPLE: Final = _people_statement()


async def people(session: AsyncSession, vault: Vault, telegram_id: int) -> Found:
    """One statement for what two lookups and, for a client, the key and plan reads found:
    a one-row source joined to each table, so an unknown account still gives one row.
    Both tables are searched by the account's keyed index; a client's sealed Telegram id
    is not opened, as it is the one asked about."""
    index = await vault.telegram_index(telegram_id)
    row = (await session.execute(_PEOPLE, {"index": index})).one()
    clinician_row, client_row, key_id, master_id, wrapped, body_ct, updated_at, version = row
    if clinician_row is not None:
        return Found(_clinician(clinician_row), None)
    if client_row is None:
        return Found(None, None)
    return Found(None, _client(client_row, telegram_id),
                 key=None if key_id is None else (key_id, master_id, wrapped),
                 plan=None if body_ct is None else (body_ct, updated_at, version))


class ClinicianRepository(Repository):
    async def add(self, *, telegram_id: int, name: str, role: str, now: datetime,
                  contact: str = "", email: str | None = None, language: str | None = None,
                  timezone: str | None = None) -> Clinician:
        row = ClinicianRow(telegram_id=telegram_id,
                           telegram_index=await self.vault.telegram_index(telegram_id),
                           name=name, role=role, active=True,
                           contact=contact, created_at=now, language=language,
                           timezone=timezone)
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

    async def set_access(self, clinician_id: int, *, active: bool | None = None,
                         role: str | None = None) -> Clinician:
        """Change whether a staff member is active, or their role."""
        row = await self.session.get(ClinicianRow, clinician_id, with_for_update=True)
        if row is None:
            raise LookupError(f"no clinician {clinician_id}")
        if active is not None:
            row.active = active
        if role is not None:
            row.role = role
        await self.session.flush()
        return _clinician(row)

    async def set_locale(self, clinician_id: int, **values: str | None) -> Clinician | None:
        """Set `language` and/or `timezone` (None: back to the program's default)."""
        row = await self.session.get(ClinicianRow, clinician_id)
        if row is None:
            return None
        for name in ("language", "timezone"):
            if name in values:
                setattr(row, name, values[name])
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
            select(ClinicianRow).where(
                ClinicianRow.telegram_index == await self.vault.telegram_index(telegram_id),
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


# The client's columns the scheduler's rule reads: changing one makes the stored next due
# instant stale, so it is set to AT_ONCE and the next tick works it out again.
SCHEDULE_FIELDS: Final = frozenset({
    "status", "telegram_id", "timezone", "checkin_time", "checkin_days", "enrolled_at",
    "resumed_at", "unreachable"})
# A next due instant long past: "not worked out yet", read by the next tick like any due
# client (a plain instant rather than NULL, so the due query is one range of the index).
AT_ONCE: Final = datetime(2000, 1, 1, tzinfo=UTC)


class ClientRepository(Repository):
    def __init__(self, session: AsyncSession, vault: Any, *,
                 on_erase: Callable[[str], None] | None = None) -> None:
        """`on_erase`: told the id of a client erased here, whose rows other repositories
        of this unit of work may hold."""
        super().__init__(session, vault)
        self._on_erase = on_erase

    async def add_invited(self, *, clinician_id: int, language: str, timezone: str,
                          checkin_time: str, now: datetime) -> Client:
        """A client record waiting for its invite to be used; its data key exists already,
        so the clinician's private note can be sealed under it."""
        for _ in range(20):
            code = new_client_code()
            exists = await self.session.scalar(select(ClientRow.id).where(ClientRow.code == code))
            if not exists:
                break
        row = ClientRow(id=new_id(), code=code, telegram_index=None, telegram_id_ct=None,
                        clinician_id=clinician_id,
                        status="invited", language=language, timezone=timezone,
                        checkin_time=checkin_time, checkin_days="0123456", unreachable=False,
                        created_at=now)
        self.session.add(row)
        await self.session.flush()
        await self.vault.create_client_key(row.id, now)
        return _client(row, None)

    async def _record(self, row: ClientRow) -> Client:
        telegram_id = (None if row.telegram_id_ct is None else int(await self.vault.open_person(
            "clients.telegram_id", row.id, row.telegram_id_ct)))
        return _client(row, telegram_id)

    async def get(self, client_id: str) -> Client | None:
        row = await self.session.get(ClientRow, client_id)
        return await self._record(row) if row else None

    async def by_code(self, code: str) -> Client | None:
        row = await self.session.scalar(select(ClientRow).where(ClientRow.code == code.upper()))
        return await self._record(row) if row else None

    async def by_telegram_id(self, telegram_id: int) -> Client | None:
        row = await self.session.scalar(
            select(ClientRow).where(
                ClientRow.telegram_index == await self.vault.telegram_index(telegram_id),
                ClientRow.status.in_(("active", "paused"))))
        return _client(row, telegram_id) if row else None

    async def update(self, client_id: str, **values: Any) -> Client:
        """Set columns by name; `telegram_id` sets the keyed index and the sealed id."""
        row = await self.session.get(ClientRow, client_id, with_for_update=True)
        if row is None:
            raise LookupError(f"no client {client_id}")
        for name, value in values.items():
            if name == "telegram_id":
                row.telegram_index = (None if value is None
                                      else await self.vault.telegram_index(value))
                row.telegram_id_ct = (None if value is None else await self.vault.seal_person(
                    "clients.telegram_id", row.id, value))
                continue
            setattr(row, name, value)
        if SCHEDULE_FIELDS.intersection(values):
            # Here, not in each service: no change of schedule or status can forget it.
            row.next_due_at = AT_ONCE
        try:
            await self.session.flush()
        except IntegrityError:
            raise DuplicateError("that Telegram account is already enrolled") from None
        return await self._record(row)

    async def for_clinician(self, clinician_id: int | None) -> list[Client]:
        query = select(ClientRow).where(ClientRow.status.in_(ENROLLED))
        if clinician_id is not None:
            query = query.where(ClientRow.clinician_id == clinician_id)
        return [await self._record(r)
                for r in await self.session.scalars(query.order_by(ClientRow.code))]

    async def active(self) -> list[Client]:
        rows = await self.session.scalars(select(ClientRow).where(ClientRow.status == "active"))
        return [await self._record(r) for r in rows]

    async def due(self, now: datetime, *, after: str = "", limit: int = 200,
                  skip_locked: bool = False) -> list[Client]:
        """Active clients the scheduler has something to do for at `now` (their next due
        instant has come, AT_ONCE when not worked out yet), in id order from after `after`:
        one range of an index, so a tick with nothing due costs the same whatever the
        caseload.
        `skip_locked` (PostgreSQL) leaves out a client being changed right now; it stays
        due for the next tick."""
        query = (select(ClientRow)
                 .where(ClientRow.status == ClientStatus.ACTIVE,
                        ClientRow.next_due_at <= now,
                        ClientRow.id > after)
                 .order_by(ClientRow.id).limit(limit))
        if skip_locked:
            query = query.with_for_update(skip_locked=True)
        return [await self._record(r) for r in await self.session.scalars(query)]

    async def set_next_due(self, due: Mapping[str, datetime]) -> None:
        """Store each client's next due instant, in one statement."""
        if due:
            await self.session.execute(
                update(ClientRow), [{"id": client_id, "next_due_at": at}
                                    for client_id, at in due.items()])

    async def next_due(self, client_id: str) -> datetime | None:
        return await self.session.scalar(
            select(ClientRow.next_due_at).where(ClientRow.id == client_id))

    async def earliest_due(self) -> datetime | None:
        """The soonest next due instant of any active client (None when there is none)."""
        return await self.session.scalar(
            select(func.min(ClientRow.next_due_at)).where(ClientRow.status == ClientStatus.ACTIVE))

    async def erase(self, client_id: str, now: datetime) -> bool:
        """Crypto-shred: destroy the data key and forget the Telegram account.

        Whatever names the client outside their sealed records goes too: open invites are
        revoked (their notes were sealed under the destroyed key), every outbox row about
        them or addressed to their chat is deleted, dead letters included (payloads hold the
        client code, with ALERT_DETAIL=full the reasons, and rows hold the Telegram id), a
        half-finished conversation is forgotten, and open alerts are closed so that they no
        longer escalate about a person who is gone."""
        row = await self.session.get(ClientRow, client_id, with_for_update=True)
        index = row.telegram_index if row is not None else None
        destroyed = await self.vault.destroy_client_key(client_id, now)
        await self.session.execute(
            update(ClientRow).where(ClientRow.id == client_id)
            .values(status="erased", telegram_index=None, telegram_id_ct=None, erased_at=now,
                    next_due_at=None))
        for plan_table in (PlanRow, PlanVersionRow, PlanSuggestionRow, HelpMomentRow):
            await self.session.execute(delete(plan_table).where(
                plan_table.client_id == client_id))
        # Nothing more is reminded about a person who is gone.
        await self.session.execute(update(AppointmentRow)
                                   .where(AppointmentRow.client_id == client_id)
                                   .values(next_due_at=None))
        await self.session.execute(update(HomeworkRow).where(HomeworkRow.client_id == client_id)
                                   .values(next_due_at=None))
        # Days' levels are sealed under the program's people key, not the shredded data key:
        # forgotten here (an alert's stays, closed, as the audit trail refers to it).
        await self.session.execute(update(CheckInRow).where(CheckInRow.client_id == client_id)
                                   .values(risk_level_ct=None))
        if self._on_erase is not None:
            self._on_erase(client_id)
        await self.session.execute(
            update(InviteRow).where(InviteRow.client_id == client_id).values(note_ct=None))
        await self.session.execute(
            update(InviteRow).where(InviteRow.client_id == client_id, InviteRow.used_at.is_(None),
                                    InviteRow.expires_at > now)
            .values(expires_at=now))
        await self.session.execute(
            update(AlertRow).where(AlertRow.client_id == client_id, AlertRow.status == AlertStatus.OPEN)
            .values(status="closed", next_escalation_at=None))
        about = OutboxRow.client_id == client_id
        if index is not None:
            about = or_(about, OutboxRow.chat_index == index)
            await self.session.execute(
                delete(ConversationRow).where(ConversationRow.telegram_index == index))
        doomed = select(OutboxRow.id).where(about)
        for table in (AlertCopyRow, StaffEmailRow):
            await self.session.execute(
                delete(table).where(table.outbox_id.in_(doomed))
                .execution_options(synchronize_session=False))
        await self.session.execute(
            delete(OutboxRow).where(about).execution_options(synchronize_session=False))
        # What the client agreed to share, and with whom, goes with everything else.
        await self.session.execute(
            delete(ProgressReportRow).where(ProgressReportRow.client_id == client_id)
            .execution_options(synchronize_session=False))
        await self.session.execute(
            delete(SharingAgreementRow).where(SharingAgreementRow.client_id == client_id)
            .execution_options(synchronize_session=False))
        return destroyed

    async def due_for_erasure(self, now: datetime) -> list[Client]:
        """Discharged clients whose retention period ended (erase_after has passed)."""
        rows = await self.session.scalars(
            select(ClientRow).where(ClientRow.status == ClientStatus.DISCHARGED,
                                    ClientRow.erase_after.is_not(None),
                                    ClientRow.erase_after <= now).order_by(ClientRow.erase_after))
        return [await self._record(r) for r in rows]
