"""The client's self-management plan, its versions, the items they suggest and their
help-now moments, sealed under their data key."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from storage.models import HelpMomentRow, PlanRow, PlanSuggestionRow, PlanVersionRow
from storage.records import HelpMoment, Plan, PlanSuggestion, PlanVersion
from storage.repositories.base import Repository, new_id


class PlanRepository(Repository):
    """Plans read in this transaction are kept for it: a check-in reads its client's plan at
    every step, and identifying the client brought it along already (`known`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sealed: dict[str, tuple[bytes, datetime, int] | None] = {}
        self._plans: dict[str, Plan] = {}

    def known(self, client_id: str, sealed: tuple[bytes, datetime, int] | None) -> None:
        """The client's plan row as read along with other rows (None: they have none)."""
        if client_id not in self._plans:
            self._sealed[client_id] = sealed

    def reset(self) -> None:
        """The transaction rolled back: what it read may be gone."""
        self._sealed.clear()
        self._plans.clear()

    def forget(self, client_id: str) -> None:
        """The plan row changed outside this repository (erasure deletes it)."""
        self._sealed.pop(client_id, None)
        self._plans.pop(client_id, None)

    async def get(self, client_id: str) -> Plan:
        if client_id in self._plans:
            return self._plans[client_id]
        if client_id in self._sealed:
            sealed = self._sealed.pop(client_id)
        else:
            row = await self.session.get(PlanRow, client_id)
            sealed = None if row is None else (row.body_ct, row.updated_at, row.version)
        plan = await self._open(client_id, sealed)
        self._plans[client_id] = plan
        return plan

    async def _open(self, client_id: str, sealed: tuple[bytes, datetime, int] | None) -> Plan:
        if sealed is None:
            return Plan(client_id=client_id)
        body_ct, updated_at, version = sealed
        body = await self.vault.open_json(client_id, "plans.body", client_id, body_ct)
        return Plan.from_body(client_id, body, updated_at=updated_at, version=version)

    async def put(self, plan: Plan, *, by: int | None, now: datetime, reason: str = "") -> Plan:
        """Save the plan as its next version (who, when, why kept with it)."""
        body = plan.body()
        sealed = await self.vault.seal_json(plan.client_id, "plans.body", plan.client_id, body)
        row = await self.session.get(PlanRow, plan.client_id, with_for_update=True)
        number = (row.version if row is not None else 0) + 1
        if row is None:
            self.session.add(PlanRow(client_id=plan.client_id, body_ct=sealed, updated_at=now,
                                     updated_by=by, version=number))
        else:
            row.body_ct, row.updated_at, row.updated_by = sealed, now, by
            row.version = number
        version_id = new_id()
        self.session.add(PlanVersionRow(
            id=version_id, client_id=plan.client_id, number=number, created_at=now,
            created_by=by, body_ct=await self.vault.seal_json(
                plan.client_id, "plan_versions.body", version_id,
                {"plan": body, "reason": reason})))
        await self.session.flush()
        self.forget(plan.client_id)
        return await self.get(plan.client_id)

    async def versions(self, client_id: str) -> list[PlanVersion]:
        """Every saved version, newest first."""
        rows = (await self.session.scalars(
            select(PlanVersionRow).where(PlanVersionRow.client_id == client_id)
            .order_by(PlanVersionRow.number.desc()))).all()
        found = []
        for row in rows:
            body = await self.vault.open_json(client_id, "plan_versions.body", row.id,
                                              row.body_ct)
            found.append(PlanVersion(
                number=row.number, at=row.created_at, by=row.created_by,
                reason=str(body.get("reason", "")),
                plan=Plan.from_body(client_id, body["plan"], updated_at=row.created_at,
                                    version=row.number)))
        return found

    async def version_count(self, client_id: str) -> int:
        return await self.session.scalar(
            select(func.count()).select_from(PlanVersionRow)
            .where(PlanVersionRow.client_id == client_id)) or 0

    # -- a client's suggestions ---------------------------------------------------------
    async def suggest(self, client_id: str, part: str, text: str, *, now: datetime) -> str:
        suggestion_id = new_id()
        self.session.add(PlanSuggestionRow(
            id=suggestion_id, client_id=client_id, status="open", created_at=now,
            body_ct=await self.vault.seal_json(client_id, "plan_suggestions.body",
                                               suggestion_id, {"part": part, "text": text})))
        await self.session.flush()
        return suggestion_id

    async def suggestion(self, suggestion_id: str) -> PlanSuggestion | None:
        row = await self.session.get(PlanSuggestionRow, suggestion_id, with_for_update=True)
        return None if row is None else await self._suggestion(row)

    async def suggestions(self, client_id: str, *, open_only: bool = True) -> list[PlanSuggestion]:
        query = select(PlanSuggestionRow).where(PlanSuggestionRow.client_id == client_id)
        if open_only:
            query = query.where(PlanSuggestionRow.status == "open")
        rows = (await self.session.scalars(query.order_by(PlanSuggestionRow.created_at))).all()
        return [await self._suggestion(row) for row in rows]

    async def _suggestion(self, row: PlanSuggestionRow) -> PlanSuggestion:
        body = await self.vault.open_json(row.client_id, "plan_suggestions.body", row.id,
                                          row.body_ct)
        return PlanSuggestion(id=row.id, client_id=row.client_id, status=row.status,
                              part=str(body["part"]), text=str(body["text"]),
                              created_at=row.created_at)

    async def decide(self, suggestion_id: str, status: str, *, by: int, now: datetime) -> None:
        row = await self.session.get(PlanSuggestionRow, suggestion_id)
        if row is not None:
            row.status, row.decided_by, row.decided_at = status, by, now
            await self.session.flush()

    # -- help-now moments ---------------------------------------------------------------
    async def add_moment(self, client_id: str, *, now: datetime) -> str:
        moment_id = new_id()
        self.session.add(HelpMomentRow(
            id=moment_id, client_id=client_id, at=now,
            body_ct=await self.vault.seal_json(client_id, "help_moments.body", moment_id,
                                               {"told": None, "outcome": ""})))
        await self.session.flush()
        return moment_id

    async def moment(self, moment_id: str) -> HelpMoment | None:
        row = await self.session.get(HelpMomentRow, moment_id, with_for_update=True)
        return None if row is None else await self._moment(row)

    async def _moment(self, row: HelpMomentRow) -> HelpMoment:
        body = await self.vault.open_json(row.client_id, "help_moments.body", row.id,
                                          row.body_ct)
        return HelpMoment(id=row.id, client_id=row.client_id, at=row.at, told=body.get("told"),
                          outcome=str(body.get("outcome", "")))

    async def update_moment(self, moment: HelpMoment, *, told: bool | None = None,
                            outcome: str | None = None) -> HelpMoment:
        row = await self.session.get(HelpMomentRow, moment.id)
        assert row is not None
        body = {"told": moment.told if told is None else told,
                "outcome": moment.outcome if outcome is None else outcome}
        row.body_ct = await self.vault.seal_json(moment.client_id, "help_moments.body",
                                                 moment.id, body)
        await self.session.flush()
        return await self._moment(row)

    async def moments(self, client_id: str, since: datetime | None = None) -> list[HelpMoment]:
        query = select(HelpMomentRow).where(HelpMomentRow.client_id == client_id)
        if since is not None:
            query = query.where(HelpMomentRow.at >= since)
        rows = (await self.session.scalars(query.order_by(HelpMomentRow.at))).all()
        return [await self._moment(row) for row in rows]
