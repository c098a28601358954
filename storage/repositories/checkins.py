"""Daily check-ins: the rows the scheduler creates and the client's sealed answers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, Final

from sqlalchemy import bindparam, func, insert, inspect, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value

from storage.crypto import KeyErasedError
from storage.models import CheckInRow
from storage.records import CheckIn, CheckInDay, DayStatus, ScheduledDay
from storage.repositories.base import DuplicateError, Repository, new_id

_UNREAD: Any = object()  # a sealed column not opened yet

_CHECKINS: Any = CheckInRow.__table__  # the table: a plain UPDATE, no ORM flush
_UPDATES: dict[tuple[str, ...], Any] = {}  # by the columns set, a handful at most


def _update_of(columns: tuple[str, ...]) -> Any:
    """The UPDATE of these columns of one check-in (`row_id`), built once."""
    statement = _UPDATES.get(columns)
    if statement is None:
        statement = _UPDATES[columns] = (
            update(_CHECKINS).where(_CHECKINS.c.id == bindparam("row_id"))
            .values({name: bindparam(name) for name in columns}))
    return statement


# A client's day, the statement of every press: built once (building it cost more than
# running it), the locked one reading the row as it stands once locked, not as an earlier
# read left it.
_DAY: Final = select(CheckInRow).where(CheckInRow.client_id == bindparam("client_id"),
                                       CheckInRow.local_date == bindparam("local_date"))
_DAY_LOCKED: Final = _DAY.with_for_update().execution_options(populate_existing=True)


class CheckInRepository(Repository):
    """Check-ins read or written in this transaction are kept for it: a press reads its day
    once (a locked read, or any read on SQLite, whose transactions all hold the write lock
    from their start, cannot change under it) and saves it without reading it again."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._rows: dict[str, CheckInRow] = {}  # the session itself holds rows weakly
        self._days: dict[tuple[str, date], tuple[CheckIn, bool]] = {}  # record, locked
        self._sqlite = self.session.get_bind().dialect.name == "sqlite"

    def reset(self) -> None:
        """The transaction rolled back: what it read may be gone."""
        self._rows.clear()
        self._days.clear()

    def _keep(self, row: CheckInRow, record: CheckIn, *, locked: bool) -> CheckIn:
        self._rows[row.id] = row
        day = (row.client_id, row.local_date)
        was_locked = day in self._days and self._days[day][1]
        self._days[day] = (record, locked or was_locked or self._sqlite)
        return record

    async def _record(self, row: CheckInRow, *, state: Any = _UNREAD, scores: Any = _UNREAD
                      ) -> CheckIn:
        """The record of a row; `state` and `scores` when the caller has them already
        (it just sealed them), so they are not opened again."""
        try:
            if state is _UNREAD:
                state = None if row.state_ct is None else await self.vault.open_json(
                    row.client_id, "checkins.state", row.id, row.state_ct)
            if scores is _UNREAD:
                scores = None if row.scores_ct is None else await self.vault.open_json(
                    row.client_id, "checkins.scores", row.id, row.scores_ct)
        except KeyErasedError:
            state = scores = None
        return CheckIn(
            id=row.id, client_id=row.client_id, local_date=row.local_date, status=row.status,
            questionnaire_id=row.questionnaire_id,
            questionnaire_version=row.questionnaire_version,
            item_ids=tuple(i for i in row.item_ids.split(",") if i), state=state, scores=scores,
            risk_level=await self._level(row.id, row.risk_level_ct), message_id=row.message_id,
            prompted_at=row.prompted_at,
            reminded_at=row.reminded_at, started_at=row.started_at,
            submitted_at=row.submitted_at,
        )

    async def _level(self, checkin_id: str, sealed: bytes | None) -> str | None:
        """A day's risk level, sealed under the people key: a cheap open of a key the
        store holds already, so outlines of many clients cost one read and these opens."""
        if sealed is None:
            return None
        return str(await self.vault.open_person("checkins.risk_level", checkin_id, sealed))

    async def _day(self, checkin_id: str, day: date, status: str, sealed: bytes | None,
                   submitted_at: datetime | None) -> CheckInDay:
        return CheckInDay(checkin_id, day, status, await self._level(checkin_id, sealed),
                          submitted_at)

    async def get(self, checkin_id: str, *, lock: bool = False) -> CheckIn | None:
        row = await self.session.get(CheckInRow, checkin_id, with_for_update=lock,
                                     populate_existing=lock)
        return self._keep(row, await self._record(row), locked=lock) if row else None

    async def for_day(self, client_id: str, local_date: date, *, lock: bool = False
                      ) -> CheckIn | None:
        """`lock`: FOR UPDATE (PostgreSQL), held until the transaction ends. A day read in
        this transaction before is not read again, unless the lock is wanted now and that
        read did not take it."""
        kept = self._days.get((client_id, local_date))
        if kept is not None and (kept[1] or not lock):
            return kept[0]
        row = await self.session.scalar(_DAY_LOCKED if lock else _DAY,
                                        {"client_id": client_id, "local_date": local_date})
        return self._keep(row, await self._record(row), locked=lock) if row else None

    async def create(self, *, client_id: str, local_date: date, status: str,
                     questionnaire_id: str, questionnaire_version: str,
                     item_ids: Sequence[str], now: datetime,
                     prompted_at: datetime | None = None) -> CheckIn:
        """Create the day's check-in; the unique (client, date) makes a second one fail."""
        row = CheckInRow(id=new_id(), client_id=client_id, local_date=local_date, status=status,
                         questionnaire_id=questionnaire_id,
                         questionnaire_version=questionnaire_version,
                         item_ids=",".join(item_ids), created_at=now, prompted_at=prompted_at)
        try:
            async with self.session.begin_nested():
                self.session.add(row)
                await self.session.flush()
        except IntegrityError:
            raise DuplicateError("this day's check-in exists already") from None
        return self._keep(row, await self._record(row), locked=True)  # a new row is this one's

    async def create_prompted(self, days: Sequence[tuple[str, date]], *,
                              questionnaire_id: str, questionnaire_version: str,
                              item_ids: Sequence[str], now: datetime) -> set[tuple[str, date]]:
        """Many clients' check-ins of a day at once, prompted now, in one statement (the
        scheduler's fan-out). Returns the (client, date) pairs created; a day that exists
        already (the client opened it meanwhile) is left as it is."""
        if not days:
            return set()
        rows: list[dict[str, Any]] = [{"id": new_id(), "client_id": client_id, "local_date": day,
                 "status": DayStatus.PROMPTED, "questionnaire_id": questionnaire_id,
                 "questionnaire_version": questionnaire_version, "item_ids": ",".join(item_ids),
                 "created_at": now, "prompted_at": now} for client_id, day in days]
        existing = await self._existing(days)
        fresh = [r for r in rows if (r["client_id"], r["local_date"]) not in existing]
        if fresh:
            try:
                async with self.session.begin_nested():
                    await self.session.execute(insert(CheckInRow), fresh)
            except IntegrityError:
                # Another writer made one of these days meanwhile (PostgreSQL): one at a
                # time then, each one failing on its own.
                for row in fresh:
                    try:
                        async with self.session.begin_nested():
                            await self.session.execute(insert(CheckInRow), [row])
                    except IntegrityError:
                        existing.add((row["client_id"], row["local_date"]))
        return {(r["client_id"], r["local_date"]) for r in fresh} - existing

    async def _existing(self, days: Sequence[tuple[str, date]]) -> set[tuple[str, date]]:
        clients = {client_id for client_id, _ in days}
        dates = {day for _, day in days}
        rows = await self.session.execute(
            select(CheckInRow.client_id, CheckInRow.local_date)
            .where(CheckInRow.client_id.in_(clients), CheckInRow.local_date.in_(dates)))
        return {(client_id, day) for client_id, day in rows}

    async def save(self, checkin_id: str, *, state: dict[str, Any] | None = None,
                   scores: dict[str, Any] | None = None, **values: Any) -> CheckIn:
        row = self._rows.get(checkin_id)
        if row is None or inspect(row).expired_attributes:  # a savepoint rolled back over it
            row = await self.session.get(CheckInRow, checkin_id)
        if row is None:
            raise LookupError(f"no check-in {checkin_id}")
        columns: dict[str, Any] = {}
        if state is not None:
            columns["state_ct"] = await self.vault.seal_json(row.client_id, "checkins.state",
                                                             row.id, state)
        if scores is not None:
            columns["scores_ct"] = await self.vault.seal_json(row.client_id, "checkins.scores",
                                                              row.id, scores)
        for name, value in values.items():
            if name == "risk_level":
                columns["risk_level_ct"] = None if value is None else await self.vault.seal_person(
                    "checkins.risk_level", row.id, value)
                continue
            columns[name] = value
        if columns:
            # One UPDATE by the row's id, built once per set of columns, instead of the
            # ORM's flush, which works out the same statement at a few times the cost on
            # every press; the kept row is then told the values it now has, so nothing is
            # written twice. Whatever else this transaction changed is flushed first, as
            # the flush did.
            if self.session.new or self.session.dirty:
                await self.session.flush()
            await self.session.execute(_update_of(tuple(columns)), {**columns, "row_id": row.id})
            for name, value in columns.items():
                set_committed_value(row, name, value)
        # What was just sealed is known: only a column left as it was is opened, and that
        # from the record kept, if this transaction has one (the row is locked by now).
        kept = self._days.get((row.client_id, row.local_date))
        kept_record = kept[0] if kept is not None and kept[0].id == row.id else None
        if state is None:
            state = kept_record.state if kept_record is not None else _UNREAD
        if scores is None:
            scores = kept_record.scores if kept_record is not None else _UNREAD
        return self._keep(row, await self._record(row, state=state, scores=scores), locked=True)

    async def recent(self, client_id: str, *, since: date, until: date | None = None
                     ) -> list[CheckIn]:
        query = select(CheckInRow).where(CheckInRow.client_id == client_id,
                                         CheckInRow.local_date >= since)
        if until is not None:
            query = query.where(CheckInRow.local_date <= until)
        rows = await self.session.scalars(query.order_by(CheckInRow.local_date))
        return [await self._record(r) for r in rows]

    async def submitted_count(self, client_id: str) -> int:
        """How many submitted check-ins the client has; nothing is decrypted."""
        return int(await self.session.scalar(
            select(func.count()).select_from(CheckInRow)
            .where(CheckInRow.client_id == client_id,
                   CheckInRow.status == DayStatus.SUBMITTED)) or 0)

    async def answered(self, client_id: str, *, limit: int, offset: int = 0
                       ) -> list[tuple[date, datetime | None, Any]]:
        """(day, submitted at, stored state) of submitted check-ins, newest day first, a
        batch at a time: only the answers are opened (not the scores), for a search."""
        rows = await self.session.execute(
            select(CheckInRow.id, CheckInRow.local_date, CheckInRow.submitted_at,
                   CheckInRow.state_ct)
            .where(CheckInRow.client_id == client_id, CheckInRow.status == DayStatus.SUBMITTED)
            .order_by(CheckInRow.local_date.desc()).offset(offset).limit(limit))
        found = []
        for checkin_id, day, submitted_at, sealed in rows:
            try:
                state = None if sealed is None else await self.vault.open_json(
                    client_id, "checkins.state", checkin_id, sealed)
            except KeyErasedError:
                state = None
            found.append((day, submitted_at, state))
        return found

    async def statuses(self, client_id: str, *, since: date) -> dict[date, str]:
        rows = await self.session.execute(
            select(CheckInRow.local_date, CheckInRow.status)
            .where(CheckInRow.client_id == client_id, CheckInRow.local_date >= since))
        return {d: s for d, s in rows}

    async def days(self, client_id: str, *, since: date | None = None,
                   until: date | None = None) -> list[CheckInDay]:
        """Outlines in date order; only the levels are opened (no answers)."""
        query = select(CheckInRow.id, CheckInRow.local_date, CheckInRow.status,
                       CheckInRow.risk_level_ct, CheckInRow.submitted_at
                       ).where(CheckInRow.client_id == client_id)
        if since is not None:
            query = query.where(CheckInRow.local_date >= since)
        if until is not None:
            query = query.where(CheckInRow.local_date <= until)
        rows = await self.session.execute(query.order_by(CheckInRow.local_date))
        return [await self._day(*row) for row in rows]

    async def latest_day(self, client_id: str, *, status: str = DayStatus.SUBMITTED) -> CheckInDay | None:
        row = (await self.session.execute(
            select(CheckInRow.id, CheckInRow.local_date, CheckInRow.status,
                   CheckInRow.risk_level_ct, CheckInRow.submitted_at)
            .where(CheckInRow.client_id == client_id, CheckInRow.status == status)
            .order_by(CheckInRow.local_date.desc()).limit(1))).first()
        return await self._day(*row) if row else None

    async def statuses_of(self, client_ids: Sequence[str], *, since: date, until: date
                          ) -> dict[str, dict[date, str]]:
        """{client id: {day: status}} of many clients at once, for a caseload: one narrow
        query per chunk of clients, not one per client; nothing is decrypted."""
        found: dict[str, dict[date, str]] = {client_id: {} for client_id in client_ids}
        for chunk in _chunks(client_ids):
            rows = await self.session.execute(
                select(CheckInRow.client_id, CheckInRow.local_date, CheckInRow.status)
                .where(CheckInRow.client_id.in_(chunk), CheckInRow.local_date >= since,
                       CheckInRow.local_date <= until))
            for client_id, day, status in rows:
                found[client_id][day] = status
        return found

    async def latest_days(self, client_ids: Sequence[str], *, status: str = DayStatus.SUBMITTED
                          ) -> dict[str, CheckInDay]:
        """latest_day() of many clients at once: a grouped query per chunk of clients, and
        one cheap open of each client's latest level."""
        found: dict[str, CheckInDay] = {}
        for chunk in _chunks(client_ids):
            latest = (select(CheckInRow.client_id.label("client_id"),
                             func.max(CheckInRow.local_date).label("local_date"))
                      .where(CheckInRow.client_id.in_(chunk), CheckInRow.status == status)
                      .group_by(CheckInRow.client_id).subquery())
            rows = await self.session.execute(
                select(CheckInRow.client_id, CheckInRow.id, CheckInRow.local_date,
                       CheckInRow.status, CheckInRow.risk_level_ct, CheckInRow.submitted_at)
                .join(latest, (CheckInRow.client_id == latest.c.client_id)
                      & (CheckInRow.local_date == latest.c.local_date))
                .where(CheckInRow.status == status))
            for client_id, checkin_id, day, status, level, submitted_at in rows:
                if client_id not in found:
                    found[client_id] = await self._day(checkin_id, day, status, level,
                                                       submitted_at)
        return found

    async def scheduled_days(self, client_ids: Sequence[str], *, since: date
                             ) -> list[ScheduledDay]:
        """Recent days of many clients in one query, for the scheduler; nothing decrypted."""
        if not client_ids:
            return []
        rows = await self.session.execute(
            select(CheckInRow.id, CheckInRow.client_id, CheckInRow.local_date, CheckInRow.status,
                   CheckInRow.prompted_at, CheckInRow.reminded_at)
            .where(CheckInRow.client_id.in_(client_ids), CheckInRow.local_date >= since))
        return [ScheduledDay(*row) for row in rows]


def _chunks(ids: Sequence[str], size: int = 500) -> list[Sequence[str]]:
    """Bound an IN list: SQLite and PostgreSQL both take 500 parameters comfortably."""
    return [ids[i:i + size] for i in range(0, len(ids), size)]
