"""The ledger of Telegram updates already handled, so a repeat changes nothing."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from sqlalchemy import BigInteger, bindparam, delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from storage.models import ProcessedUpdateRow
from storage.repositories.base import Repository

_LEDGER: Any = ProcessedUpdateRow.__table__  # the table, not the entity: no ORM insert plugin
_ID_TYPE = _LEDGER.c.update_id.type
_AT_TYPE = _LEDGER.c.processed_at.type


def _claim(insert: Any, *, hold: bool = False) -> Any:
    """The claim of one update id: `update_id` and `processed_at` its parameters, with
    `hold` (PostgreSQL) also the advisory lock's key, taken first in the same statement."""
    if hold:
        held = select(func.pg_advisory_xact_lock(bindparam("hold", type_=BigInteger))
                      .label("held")).cte("held")
        statement = insert(_LEDGER).from_select(
            ["update_id", "processed_at"],
            select(bindparam("update_id", type_=_ID_TYPE),
                   bindparam("processed_at", type_=_AT_TYPE)).select_from(held))
    else:
        statement = insert(_LEDGER).values(update_id=bindparam("update_id"),
                                           processed_at=bindparam("processed_at"))
    return statement.on_conflict_do_nothing(index_elements=["update_id"])


# Built once: every update claims its id, and building the statement cost more than
# running it.
_CLAIMS: Final = {"sqlite": _claim(sqlite_insert), "postgresql": _claim(pg_insert)}
_CLAIM_HELD: Final = _claim(pg_insert, hold=True)


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
        dialect = self.session.get_bind().dialect.name
        params: dict[str, Any] = {"update_id": update_id, "processed_at": now}
        if hold is not None:
            assert dialect == "postgresql", "an advisory lock is PostgreSQL's"
            statement, params["hold"] = _CLAIM_HELD, hold
        else:
            statement = _CLAIMS[dialect]
        result = await self.session.execute(statement, params)
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def purge(self, before: datetime) -> None:
        await self.session.execute(
            delete(ProcessedUpdateRow).where(ProcessedUpdateRow.processed_at < before))
