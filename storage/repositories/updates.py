"""The ledger of Telegram updates already handled, so a repeat changes nothing."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, literal, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from storage.models import ProcessedUpdateRow
from storage.repositories.base import Repository

_LEDGER: Any = ProcessedUpdateRow.__table__  # the table, not the entity: no ORM insert plugin
_ID_TYPE = _LEDGER.c.update_id.type
_AT_TYPE = _LEDGER.c.processed_at.type


class UpdateLedger(Repository):
    """Update ids whose effects are committed; the same transaction records them."""

    async def seen(self, update_id: int) -> bool:
        return await self.session.get(ProcessedUpdateRow, update_id) is not None

    async def record(self, update_id: int, now: datetime, *, hold: int | None = None) -> bool:
        """Claim the update id for this transaction; False if it was processed before.

        One statement that does nothing on a known id (no savepoint to set and release);
        one still being handled by another transaction makes this one wait for its end,
        then count as processed. With `hold` (PostgreSQL) the same statement first takes
        the transaction's advisory lock on that key, as UnitOfWork.hold_person does."""
        postgres = self.session.get_bind().dialect.name == "postgresql"
        insert: Any = pg_insert if postgres else sqlite_insert
        row = {"update_id": update_id, "processed_at": now}
        if hold is not None:
            assert postgres, "an advisory lock is PostgreSQL's"
            held = select(func.pg_advisory_xact_lock(hold).label("held")).cte("held")
            statement = insert(_LEDGER).from_select(
                ["update_id", "processed_at"],
                select(literal(update_id, _ID_TYPE), literal(now, _AT_TYPE)).select_from(held))
        else:
            statement = insert(_LEDGER).values(row)
        result = await self.session.execute(statement.on_conflict_do_nothing(
            index_elements=["update_id"]))
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def purge(self, before: datetime) -> None:
        await self.session.execute(
            delete(ProcessedUpdateRow).where(ProcessedUpdateRow.processed_at < before))
