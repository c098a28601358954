"""The client's relapse-prevention plan, sealed under their data key."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from storage.models import PlanRow
from storage.records import Plan
from storage.repositories.base import Repository


class PlanRepository(Repository):
    """Plans read in this transaction are kept for it: a check-in reads its client's plan at
    every step, and identifying the client brought it along already (`known`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sealed: dict[str, tuple[bytes, datetime] | None] = {}
        self._plans: dict[str, Plan] = {}

    def known(self, client_id: str, sealed: tuple[bytes, datetime] | None) -> None:
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
            sealed = None if row is None else (row.body_ct, row.updated_at)
        plan = await self._open(client_id, sealed)
        self._plans[client_id] = plan
        return plan

    async def _open(self, client_id: str, sealed: tuple[bytes, datetime] | None) -> Plan:
        if sealed is None:
            return Plan(client_id=client_id)
        body_ct, updated_at = sealed
        body = await self.vault.open_json(client_id, "plans.body", client_id, body_ct)
        return Plan(client_id=client_id, warning_signs=tuple(body.get("warning_signs", ())),
                    coping_steps=tuple(body.get("coping_steps", ())),
                    support_people=tuple(body.get("support_people", ())),
                    updated_at=updated_at)

    async def put(self, plan: Plan, *, by: int | None, now: datetime) -> Plan:
        body = {"warning_signs": list(plan.warning_signs), "coping_steps": list(plan.coping_steps),
                "support_people": list(plan.support_people)}
        sealed = await self.vault.seal_json(plan.client_id, "plans.body", plan.client_id, body)
        row = await self.session.get(PlanRow, plan.client_id)
        if row is None:
            self.session.add(PlanRow(client_id=plan.client_id, body_ct=sealed, updated_at=now,
                                     updated_by=by))
        else:
            row.body_ct, row.updated_at, row.updated_by = sealed, now, by
        await self.session.flush()
        self.forget(plan.client_id)
        return await self.get(plan.client_id)
