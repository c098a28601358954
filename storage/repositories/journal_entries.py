"""The client's free journal, sealed under their data key."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select

from storage.models import JournalEntryRow
from storage.records import JournalEntry
from storage.repositories.base import Repository, new_id


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
