"""Sharing agreements between a client and a supervising officer (ids and statuses only)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update

from storage.models import SharingAgreementRow
from storage.records import SharingAgreement
from storage.repositories.base import Repository, new_id

PROPOSED = "proposed"
AGREED = "agreed"
DECLINED = "declined"
WITHDRAWN = "withdrawn"
ENDED = "ended"
LIVE = (PROPOSED, AGREED)


def _record(row: SharingAgreementRow) -> SharingAgreement:
    return SharingAgreement(
        id=row.id, client_id=row.client_id, officer_id=row.officer_id,
        categories=tuple(c for c in row.categories.split(",") if c),
        alert_level=row.alert_level, status=row.status, proposed_by=row.proposed_by,
        proposed_at=row.proposed_at, answered_at=row.answered_at, ended_at=row.ended_at)


class SharingRepository(Repository):
    async def propose(self, *, client_id: str, officer_id: int, categories: Sequence[str],
                      alert_level: str, proposed_by: int | None, now: datetime
                      ) -> SharingAgreement:
        row = SharingAgreementRow(id=new_id(), client_id=client_id, officer_id=officer_id,
                                  categories=",".join(categories), alert_level=alert_level,
                                  status=PROPOSED, proposed_by=proposed_by, proposed_at=now)
        self.session.add(row)
        await self.session.flush()
        return _record(row)

    async def get(self, agreement_id: str) -> SharingAgreement | None:
        row = await self.session.get(SharingAgreementRow, agreement_id)
        return _record(row) if row is not None else None

    async def of_client(self, client_id: str, *, statuses: Sequence[str] | None = None
                        ) -> list[SharingAgreement]:
        query = select(SharingAgreementRow).where(SharingAgreementRow.client_id == client_id)
        if statuses is not None:
            query = query.where(SharingAgreementRow.status.in_(statuses))
        rows = await self.session.scalars(query.order_by(SharingAgreementRow.proposed_at))
        return [_record(r) for r in rows]

    async def of_officer(self, officer_id: int, *, statuses: Sequence[str] | None = None
                         ) -> list[SharingAgreement]:
        query = select(SharingAgreementRow).where(SharingAgreementRow.officer_id == officer_id)
        if statuses is not None:
            query = query.where(SharingAgreementRow.status.in_(statuses))
        rows = await self.session.scalars(query.order_by(SharingAgreementRow.proposed_at))
        return [_record(r) for r in rows]

    async def set_status(self, agreement_id: str, status: str, now: datetime, *,
                         expect: Sequence[str]) -> SharingAgreement | None:
        """Move an agreement from one of `expect` to `status`; None when it was not in one
        of them any more (a second press, a race)."""
        values: dict[str, object] = {"status": status}
        if status in (AGREED, DECLINED):
            values["answered_at"] = now
        else:
            values["ended_at"] = now
        result = await self.session.execute(
            update(SharingAgreementRow).where(SharingAgreementRow.id == agreement_id,
                                              SharingAgreementRow.status.in_(expect))
            .values(**values).execution_options(synchronize_session=False))
        if not result.rowcount:  # type: ignore[attr-defined]
            return None
        row = await self.session.get(SharingAgreementRow, agreement_id, populate_existing=True)
        return _record(row) if row is not None else None


__all__ = ["AGREED", "DECLINED", "ENDED", "LIVE", "PROPOSED", "WITHDRAWN", "SharingRepository"]
