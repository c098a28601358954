"""The ledger of Telegram updates already handled, so a repeat changes nothing."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from storage.models import ProcessedUpdateRow
from storage.repositories.base import Repository


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
