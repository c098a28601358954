"""Homework: a task written for the client and every answer sealed under their data key."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select

from storage.models import HomeworkRow
from storage.records import Homework
from storage.repositories.base import Repository, new_id

PROMPT = "homework.prompt"
ANSWER = "homework.answer"


class HomeworkRepository(Repository):
    async def _record(self, row: HomeworkRow) -> Homework:
        prompt = (str(await self.vault.open_json(row.client_id, PROMPT, row.id, row.prompt_ct))
                  if row.prompt_ct else "")
        answer = (str(await self.vault.open_json(row.client_id, ANSWER, row.id, row.answer_ct))
                  if row.answer_ct else "")
        return Homework(id=row.id, client_id=row.client_id, clinician_id=row.clinician_id,
                        task=row.task, prompt=prompt, due_date=row.due_date, due_at=row.due_at,
                        status=row.status, answer=answer, answered_at=row.answered_at,
                        discussed_at=row.discussed_at, reminded_at=row.reminded_at,
                        next_due_at=row.next_due_at, created_at=row.created_at)

    async def add(self, *, client_id: str, clinician_id: int, task: str, prompt: str,
                  due_date: date, due_at: datetime, next_due_at: datetime | None,
                  now: datetime) -> Homework:
        row = HomeworkRow(id=new_id(), client_id=client_id, clinician_id=clinician_id,
                          task=task, due_date=due_date, due_at=due_at, status="assigned",
                          next_due_at=next_due_at, created_at=now)
        if prompt:
            row.prompt_ct = await self.vault.seal_json(client_id, PROMPT, row.id, prompt)
        self.session.add(row)
        await self.session.flush()
        return await self._record(row)

    async def get(self, homework_id: str, *, lock: bool = False) -> Homework | None:
        row = await self.session.get(HomeworkRow, homework_id, with_for_update=lock)
        return await self._record(row) if row else None

    async def update(self, homework_id: str, *, answer: str | None = None,
                     **values: Any) -> Homework:
        """Set plain columns by name; `answer` is sealed."""
        row = await self.session.get(HomeworkRow, homework_id)
        if row is None:
            raise LookupError("no such homework")
        for name, value in values.items():
            setattr(row, name, value)
        if answer is not None:
            row.answer_ct = await self.vault.seal_json(row.client_id, ANSWER, row.id, answer)
        await self.session.flush()
        return await self._record(row)

    async def of_client(self, client_id: str, *, limit: int = 30) -> list[Homework]:
        """The client's homework, the latest due first."""
        rows = await self.session.scalars(
            select(HomeworkRow).where(HomeworkRow.client_id == client_id)
            .order_by(HomeworkRow.due_at.desc(), HomeworkRow.created_at.desc()).limit(limit))
        return [await self._record(r) for r in rows]

    async def open_of_client(self, client_id: str) -> list[Homework]:
        """What the client has still to hand in, the soonest due first."""
        rows = await self.session.scalars(
            select(HomeworkRow).where(HomeworkRow.client_id == client_id,
                                      HomeworkRow.status != "done")
            .order_by(HomeworkRow.due_at, HomeworkRow.created_at))
        return [await self._record(r) for r in rows]

    async def overdue_counts(self, client_ids: Sequence[str], now: datetime
                             ) -> dict[str, int]:
        """Per client, the homework past its due time and not handed in: one grouped
        read, nothing opened."""
        if not client_ids:
            return {}
        rows = await self.session.execute(
            select(HomeworkRow.client_id, func.count())
            .where(HomeworkRow.client_id.in_(list(client_ids)), HomeworkRow.status != "done",
                   HomeworkRow.due_at <= now)
            .group_by(HomeworkRow.client_id))
        return {client_id: int(n) for client_id, n in rows}

    async def due(self, now: datetime, *, limit: int, skip_locked: bool = False
                  ) -> list[Homework]:
        query = (select(HomeworkRow).where(HomeworkRow.next_due_at <= now)
                 .order_by(HomeworkRow.next_due_at, HomeworkRow.id).limit(limit))
        if skip_locked:
            query = query.with_for_update(skip_locked=True)
        rows = await self.session.scalars(query)
        return [await self._record(r) for r in rows]

    async def earliest_due(self) -> datetime | None:
        return await self.session.scalar(select(func.min(HomeworkRow.next_due_at)))
