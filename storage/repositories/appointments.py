"""Appointments: the place and the client's reason sealed under the client's data key."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from storage.models import AppointmentRow, ClientRow
from storage.records import Appointment
from storage.repositories.base import Repository, new_id

PLACE = "appointments.place"
REASON = "appointments.reason"


class AppointmentRepository(Repository):
    async def _record(self, row: AppointmentRow) -> Appointment:
        place = (str(await self.vault.open_json(row.client_id, PLACE, row.id, row.place_ct))
                 if row.place_ct else "")
        reason = (str(await self.vault.open_json(row.client_id, REASON, row.id, row.reason_ct))
                  if row.reason_ct else "")
        return Appointment(
            id=row.id, client_id=row.client_id, clinician_id=row.clinician_id, kind=row.kind,
            starts_at=row.starts_at, online=row.online, place=place, response=row.response,
            reason=reason, responded_at=row.responded_at, attendance=row.attendance,
            attendance_at=row.attendance_at, attendance_by=row.attendance_by,
            reminders_done=row.reminders_done, staff_reminded_at=row.staff_reminded_at,
            cancelled_at=row.cancelled_at, next_due_at=row.next_due_at,
            created_at=row.created_at, group_id=row.group_id)

    async def add(self, *, client_id: str, clinician_id: int, kind: str, starts_at: datetime,
                  online: bool, place: str, reminders_done: int, next_due_at: datetime | None,
                  now: datetime, group_id: str | None = None) -> Appointment:
        row = AppointmentRow(id=new_id(), client_id=client_id, clinician_id=clinician_id,
                             kind=kind, starts_at=starts_at, online=online, response="none",
                             reminders_done=reminders_done, next_due_at=next_due_at,
                             created_at=now, group_id=group_id)
        if place:
            row.place_ct = await self.vault.seal_json(client_id, PLACE, row.id, place)
        self.session.add(row)
        await self.session.flush()
        return await self._record(row)

    async def get(self, appointment_id: str, *, lock: bool = False) -> Appointment | None:
        row = await self.session.get(AppointmentRow, appointment_id, with_for_update=lock)
        return await self._record(row) if row else None

    async def update(self, appointment_id: str, *, reason: str | None = None,
                     **values: Any) -> Appointment:
        """Set plain columns by name; `reason` is sealed."""
        row = await self.session.get(AppointmentRow, appointment_id)
        if row is None:
            raise LookupError("no such appointment")
        for name, value in values.items():
            setattr(row, name, value)
        if reason is not None:
            row.reason_ct = (await self.vault.seal_json(row.client_id, REASON, row.id, reason)
                             if reason else None)
        await self.session.flush()
        return await self._record(row)

    async def of_client(self, client_id: str, *, since: datetime | None = None,
                        limit: int = 20) -> list[Appointment]:
        """The client's appointments from `since` on (all when None), soonest first;
        cancelled ones left out."""
        query = select(AppointmentRow).where(AppointmentRow.client_id == client_id,
                                             AppointmentRow.cancelled_at.is_(None))
        if since is not None:
            query = query.where(AppointmentRow.starts_at >= since)
        rows = await self.session.scalars(query.order_by(AppointmentRow.starts_at).limit(limit))
        return [await self._record(r) for r in rows]

    async def recent_of_client(self, client_id: str, *, before: datetime,
                               limit: int = 10) -> list[Appointment]:
        """The client's appointments that began before `before`, latest first."""
        rows = await self.session.scalars(
            select(AppointmentRow).where(AppointmentRow.client_id == client_id,
                                         AppointmentRow.cancelled_at.is_(None),
                                         AppointmentRow.starts_at < before)
            .order_by(AppointmentRow.starts_at.desc()).limit(limit))
        return [await self._record(r) for r in rows]

    async def last_kept(self, client_id: str, *, kinds: Collection[str],
                        marks: Collection[str], before: datetime) -> datetime | None:
        """When the client's latest appointment of one of `kinds` that began before
        `before` and is marked with one of `marks` began; None when there is none. One
        indexed read of plain columns: nothing is opened."""
        return await self.session.scalar(
            select(func.max(AppointmentRow.starts_at)).where(
                AppointmentRow.client_id == client_id, AppointmentRow.cancelled_at.is_(None),
                AppointmentRow.kind.in_(tuple(kinds)),
                AppointmentRow.attendance.in_(tuple(marks)),
                AppointmentRow.starts_at < before))

    async def due(self, now: datetime, *, limit: int, skip_locked: bool = False
                  ) -> list[Appointment]:
        """The appointments whose next due instant has come, soonest first (an indexed
        read: nothing ahead is touched). On PostgreSQL another instance's locked rows are
        skipped."""
        query = (select(AppointmentRow).where(AppointmentRow.next_due_at <= now)
                 .order_by(AppointmentRow.next_due_at, AppointmentRow.id).limit(limit))
        if skip_locked:
            query = query.with_for_update(skip_locked=True)
        rows = await self.session.scalars(query)
        return [await self._record(r) for r in rows]

    async def earliest_due(self) -> datetime | None:
        return await self.session.scalar(select(func.min(AppointmentRow.next_due_at)))

    async def of_group_session(self, group_id: str, starts_at: datetime) -> list[Appointment]:
        """Each member's appointment of one group session (an erased member's is left out:
        its place can no longer be opened)."""
        rows = await self.session.scalars(
            select(AppointmentRow).join(ClientRow, ClientRow.id == AppointmentRow.client_id)
            .where(AppointmentRow.group_id == group_id, AppointmentRow.starts_at == starts_at,
                   AppointmentRow.cancelled_at.is_(None), ClientRow.status != "erased"))
        return [await self._record(r) for r in rows]

    async def group_sessions(self, group_id: str) -> list[datetime]:
        """The group's session times, the latest first."""
        rows = await self.session.scalars(
            select(AppointmentRow.starts_at).where(AppointmentRow.group_id == group_id)
            .distinct().order_by(AppointmentRow.starts_at.desc()))
        return list(rows)
