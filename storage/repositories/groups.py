"""Treatment groups: the name sealed under the program's people key."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select

from storage.models import GroupFacilitatorRow, GroupMemberRow, GroupRow
from storage.records import Group
from storage.repositories.base import Repository, new_id

NAME = "groups.name"


class GroupRepository(Repository):
    async def _record(self, row: GroupRow) -> Group:
        name = await self.vault.open_system_json("people", NAME, row.id, row.name_ct,
                                                 row.created_at)
        facilitators = await self.session.scalars(
            select(GroupFacilitatorRow.clinician_id).where(GroupFacilitatorRow.group_id == row.id)
            .order_by(GroupFacilitatorRow.clinician_id))
        members = await self.session.scalars(
            select(GroupMemberRow.client_id).where(GroupMemberRow.group_id == row.id)
            .order_by(GroupMemberRow.client_id))
        return Group(id=row.id, name=str(name), weekday=row.weekday, at_time=row.at_time,
                     timezone=row.timezone, facilitators=tuple(facilitators),
                     members=tuple(members), created_at=row.created_at)

    async def add(self, *, name: str, weekday: int, at_time: str, timezone: str,
                  created_by: int, now: datetime) -> Group:
        row = GroupRow(id=new_id(), weekday=weekday, at_time=at_time, timezone=timezone,
                       created_by=created_by, created_at=now, name_ct=b"")
        row.name_ct = await self.vault.seal_system_json("people", NAME, row.id, name, now)
        self.session.add(row)
        await self.session.flush()  # the group before the row that refers to it
        self.session.add(GroupFacilitatorRow(group_id=row.id, clinician_id=created_by))
        await self.session.flush()
        return await self._record(row)

    async def get(self, group_id: str) -> Group | None:
        row = await self.session.get(GroupRow, group_id)
        return await self._record(row) if row else None

    async def of_facilitator(self, clinician_id: int | None) -> list[Group]:
        """The groups a clinician facilitates; every group for None."""
        query = select(GroupRow)
        if clinician_id is not None:
            query = query.join(GroupFacilitatorRow,
                               GroupFacilitatorRow.group_id == GroupRow.id).where(
                GroupFacilitatorRow.clinician_id == clinician_id)
        rows = await self.session.scalars(query.order_by(GroupRow.created_at))
        return [await self._record(r) for r in rows]

    async def add_facilitator(self, group_id: str, clinician_id: int) -> None:
        if await self.session.get(GroupFacilitatorRow, (group_id, clinician_id)) is None:
            self.session.add(GroupFacilitatorRow(group_id=group_id, clinician_id=clinician_id))
            await self.session.flush()

    async def add_member(self, group_id: str, client_id: str) -> None:
        if await self.session.get(GroupMemberRow, (group_id, client_id)) is None:
            self.session.add(GroupMemberRow(group_id=group_id, client_id=client_id))
            await self.session.flush()

    async def remove_member(self, group_id: str, client_id: str) -> None:
        await self.session.execute(delete(GroupMemberRow).where(
            GroupMemberRow.group_id == group_id, GroupMemberRow.client_id == client_id))
