"""Clinicians' calendar feeds (only token hashes) and what a feed lists."""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import delete, or_, select

from storage.models import (
    AppointmentRow,
    CalendarFeedRow,
    ClientRow,
    GroupFacilitatorRow,
)
from storage.repositories.base import Repository


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class CalendarRepository(Repository):
    async def put(self, clinician_id: int, token: str, now: datetime) -> None:
        """The clinician's feed gets this token; an older one stops working."""
        await self.session.execute(delete(CalendarFeedRow).where(
            CalendarFeedRow.clinician_id == clinician_id))
        self.session.add(CalendarFeedRow(clinician_id=clinician_id,
                                         token_hash=token_hash(token), created_at=now))
        await self.session.flush()

    async def revoke(self, clinician_id: int) -> bool:
        result = await self.session.execute(delete(CalendarFeedRow).where(
            CalendarFeedRow.clinician_id == clinician_id))
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def created_at(self, clinician_id: int) -> datetime | None:
        return await self.session.scalar(select(CalendarFeedRow.created_at).where(
            CalendarFeedRow.clinician_id == clinician_id))

    async def owner(self, token: str) -> int | None:
        return await self.session.scalar(select(CalendarFeedRow.clinician_id).where(
            CalendarFeedRow.token_hash == token_hash(token)))

    async def entries(self, clinician_id: int, since: datetime
                      ) -> list[tuple[str, datetime, str, str, str | None, str | None]]:
        """(appointment id, start, kind, client code, group id, attendance) of the
        clinician's appointments from `since`: those they recorded, their clients', and
        their groups' sessions. Plaintext columns only: nothing is opened."""
        groups = select(GroupFacilitatorRow.group_id).where(
            GroupFacilitatorRow.clinician_id == clinician_id)
        rows = await self.session.execute(
            select(AppointmentRow.id, AppointmentRow.starts_at, AppointmentRow.kind,
                   ClientRow.code, AppointmentRow.group_id, AppointmentRow.attendance)
            .join(ClientRow, ClientRow.id == AppointmentRow.client_id)
            .where(AppointmentRow.starts_at >= since, AppointmentRow.cancelled_at.is_(None),
                   ClientRow.status != "erased",
                   or_(AppointmentRow.clinician_id == clinician_id,
                       ClientRow.clinician_id == clinician_id,
                       AppointmentRow.group_id.in_(groups)))
            .order_by(AppointmentRow.starts_at))
        return [tuple(row) for row in rows]  # type: ignore[misc]
