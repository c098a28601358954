"""The client's relapse-prevention plan, sealed under their data key."""

from __future__ import annotations

from datetime import datetime

from storage.models import PlanRow
from storage.records import Plan
from storage.repositories.base import Repository


class PlanRepository(Repository):
    async def get(self, client_id: str) -> Plan:
        row = await self.session.get(PlanRow, client_id)
        if row is None:
            return Plan(client_id=client_id)
        body = await self.vault.open_json(client_id, "plans.body", client_id, row.body_ct)
        return Plan(client_id=client_id, warning_signs=tuple(body.get("warning_signs", ())),
                    coping_steps=tuple(body.get("coping_steps", ())),
                    support_people=tuple(body.get("support_people", ())),
                    updated_at=row.updated_at)

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
        return await self.get(plan.client_id)
