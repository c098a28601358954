"""Sharing agreements between a client and a supervising officer (ids and statuses only)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from storage.models import ProgressReportRow, SharingAgreementRow
from storage.records import ProgressReport, SharingAgreement
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

    async def agreed_with(self, category: str) -> list[SharingAgreement]:
        """Every agreed agreement that includes `category`."""
        rows = await self.session.scalars(
            select(SharingAgreementRow).where(SharingAgreementRow.status == AGREED))
        return [r for r in map(_record, rows) if category in r.categories]

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


class ProgressReportRepository(Repository):
    """Monthly progress reports; the clinician's note sealed under the client's key."""

    async def _record(self, row: ProgressReportRow, *, note: bool = False) -> ProgressReport:
        text = None
        if note and row.note_ct is not None:
            text = await self.vault.open_json(row.client_id, "progress.note", row.id,
                                              row.note_ct)
        return ProgressReport(id=row.id, agreement_id=row.agreement_id,
                              client_id=row.client_id, month=row.month, status=row.status,
                              created_at=row.created_at, note=text, sent_at=row.sent_at,
                              sent_by=row.sent_by, acknowledged_at=row.acknowledged_at,
                              raised_at=row.raised_at)

    async def add_draft(self, *, agreement_id: str, client_id: str, month: date,
                        now: datetime) -> ProgressReport | None:
        """A draft for the month, or None when the agreement has one already."""
        row = ProgressReportRow(id=new_id(), agreement_id=agreement_id, client_id=client_id,
                                month=month, status="draft", created_at=now)
        try:
            async with self.session.begin_nested():
                self.session.add(row)
                await self.session.flush()
        except IntegrityError:
            return None
        return await self._record(row)

    async def months_of(self, agreement_ids: Sequence[str], month: date) -> set[str]:
        """Which of these agreements have a report for the month already."""
        if not agreement_ids:
            return set()
        return set(await self.session.scalars(
            select(ProgressReportRow.agreement_id).where(
                ProgressReportRow.agreement_id.in_(list(agreement_ids)),
                ProgressReportRow.month == month)))

    async def get(self, report_id: str, *, note: bool = False) -> ProgressReport | None:
        row = await self.session.get(ProgressReportRow, report_id)
        return await self._record(row, note=note) if row is not None else None

    async def latest_draft(self, agreement_id: str) -> ProgressReport | None:
        row = await self.session.scalar(
            select(ProgressReportRow).where(ProgressReportRow.agreement_id == agreement_id,
                                            ProgressReportRow.status == "draft")
            .order_by(ProgressReportRow.month.desc()).limit(1))
        return await self._record(row) if row is not None else None

    async def latest(self, agreement_id: str) -> ProgressReport | None:
        row = await self.session.scalar(
            select(ProgressReportRow).where(ProgressReportRow.agreement_id == agreement_id)
            .order_by(ProgressReportRow.month.desc()).limit(1))
        return await self._record(row) if row is not None else None

    async def send(self, report_id: str, client_id: str, note: str, *, by: int,
                   now: datetime) -> bool:
        """Draft to sent, with the clinician's note sealed; False when not a draft."""
        sealed = await self.vault.seal_json(client_id, "progress.note", report_id, note)
        result = await self.session.execute(
            update(ProgressReportRow).where(ProgressReportRow.id == report_id,
                                            ProgressReportRow.status == "draft")
            .values(status="sent", note_ct=sealed, sent_at=now, sent_by=by)
            .execution_options(synchronize_session=False))
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def acknowledge(self, report_id: str, now: datetime) -> bool:
        result = await self.session.execute(
            update(ProgressReportRow).where(ProgressReportRow.id == report_id,
                                            ProgressReportRow.status == "sent",
                                            ProgressReportRow.acknowledged_at.is_(None))
            .values(acknowledged_at=now).execution_options(synchronize_session=False))
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def drop_drafts(self, agreement_id: str) -> int:
        """An agreement that ended: its unsent drafts are never sent."""
        result = await self.session.execute(
            update(ProgressReportRow).where(ProgressReportRow.agreement_id == agreement_id,
                                            ProgressReportRow.status == "draft")
            .values(status="dropped").execution_options(synchronize_session=False))
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def overdue(self, before: datetime) -> list[ProgressReport]:
        """Drafts made before `before`, not sent and not raised to the supervisors yet."""
        rows = await self.session.scalars(
            select(ProgressReportRow).where(ProgressReportRow.status == "draft",
                                            ProgressReportRow.created_at < before,
                                            ProgressReportRow.raised_at.is_(None)))
        return [await self._record(r) for r in rows]

    async def mark_raised(self, report_id: str, now: datetime) -> None:
        await self.session.execute(
            update(ProgressReportRow).where(ProgressReportRow.id == report_id)
            .values(raised_at=now).execution_options(synchronize_session=False))


__all__ = ["ProgressReportRepository", "AGREED", "DECLINED", "ENDED", "LIVE", "PROPOSED", "WITHDRAWN", "SharingRepository"]
