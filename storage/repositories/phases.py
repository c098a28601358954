"""A client's phase steps and the clinician's domain ratings, sealed under the client's key."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update

from storage.models import ClientRow, DomainRatingRow, PhaseStepRow
from storage.repositories.base import Repository, new_id


@dataclass(frozen=True, slots=True)
class PhaseStep:
    id: str
    client_id: str
    at: datetime
    from_phase: str
    to_phase: str
    direction: str  # down | up
    state: str  # told | proposed | applied | withdrawn
    trigger: str  # clinician | rule:<reason or level>
    proposed_by: int | None
    approved_by: int | None
    applied_at: datetime | None
    reason: str = ""
    criteria: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DomainRating:
    id: str
    client_id: str
    clinician_id: int | None
    at: datetime
    ratings: Mapping[str, int]
    note: str = ""


_STEP_PLACE = "phase_steps.body"
_RATING_PLACE = "domain_ratings.body"


class PhaseRepository(Repository):
    async def add_step(self, *, client_id: str, at: datetime, from_phase: str, to_phase: str,
                       direction: str, state: str, trigger: str, proposed_by: int | None,
                       approved_by: int | None = None, applied_at: datetime | None = None,
                       reason: str = "", criteria: Mapping[str, Any] | None = None) -> PhaseStep:
        step_id = new_id()
        body = {"reason": reason, "criteria": dict(criteria or {})}
        row = PhaseStepRow(
            id=step_id, client_id=client_id, at=at, from_phase=from_phase, to_phase=to_phase,
            direction=direction, state=state, trigger=trigger, proposed_by=proposed_by,
            approved_by=approved_by, applied_at=applied_at,
            body_ct=await self.vault.seal_json(client_id, _STEP_PLACE, step_id, body))
        self.session.add(row)
        await self.session.flush()
        return await self._step(row)

    async def close_open(self, client_id: str) -> None:
        """The client's phase changed: what was told or proposed for the old one is withdrawn."""
        await self.session.execute(
            update(PhaseStepRow).where(PhaseStepRow.client_id == client_id,
                                       PhaseStepRow.state.in_(("told", "proposed")))
            .values(state="withdrawn").execution_options(synchronize_session=False))

    async def set_state(self, step_id: str, state: str, *, approved_by: int | None = None,
                        applied_at: datetime | None = None) -> None:
        row = await self.session.get(PhaseStepRow, step_id, with_for_update=True)
        if row is None:
            raise LookupError(f"no phase step {step_id}")
        row.state = state
        if approved_by is not None:
            row.approved_by = approved_by
        if applied_at is not None:
            row.applied_at = applied_at
        await self.session.flush()

    async def _step(self, row: PhaseStepRow) -> PhaseStep:
        body = await self.vault.open_json(row.client_id, _STEP_PLACE, row.id, row.body_ct)
        return PhaseStep(id=row.id, client_id=row.client_id, at=row.at, from_phase=row.from_phase,
                         to_phase=row.to_phase, direction=row.direction, state=row.state,
                         trigger=row.trigger, proposed_by=row.proposed_by,
                         approved_by=row.approved_by, applied_at=row.applied_at,
                         reason=body.get("reason", ""), criteria=body.get("criteria", {}))

    async def steps(self, client_id: str, *, states: Sequence[str] | None = None
                    ) -> list[PhaseStep]:
        """The client's steps, oldest first."""
        query = select(PhaseStepRow).where(PhaseStepRow.client_id == client_id)
        if states is not None:
            query = query.where(PhaseStepRow.state.in_(states))
        rows = await self.session.scalars(query.order_by(PhaseStepRow.at, PhaseStepRow.id))
        return [await self._step(r) for r in rows]

    async def pending(self, clinician_id: int | None = None) -> list[tuple[str, PhaseStep]]:
        """Proposals awaiting a supervisor, oldest first, with each client's code; a
        clinician's own clients only when `clinician_id` is given."""
        query = (select(PhaseStepRow, ClientRow.code)
                 .join(ClientRow, ClientRow.id == PhaseStepRow.client_id)
                 .where(PhaseStepRow.state == "proposed"))
        if clinician_id is not None:
            query = query.where(ClientRow.clinician_id == clinician_id)
        rows = (await self.session.execute(query.order_by(PhaseStepRow.at))).all()
        return [(code, await self._step(row)) for row, code in rows]

    async def open_states(self, client_ids: Sequence[str]) -> dict[str, set[str]]:
        """Per client, the states of its steps told or proposed for its current phase (one
        read for a caseload): who is ready for review, who waits for approval."""
        if not client_ids:
            return {}
        rows = await self.session.execute(
            select(PhaseStepRow.client_id, PhaseStepRow.state)
            .where(PhaseStepRow.client_id.in_(client_ids),
                   PhaseStepRow.state.in_(("told", "proposed"))))
        found: dict[str, set[str]] = {}
        for client_id, state in rows.all():
            found.setdefault(client_id, set()).add(state)
        return found

    # -- ratings ---------------------------------------------------------------------
    async def add_rating(self, *, client_id: str, clinician_id: int | None, at: datetime,
                         ratings: Mapping[str, int], note: str) -> DomainRating:
        rating_id = new_id()
        body = {"ratings": dict(ratings), "note": note}
        row = DomainRatingRow(id=rating_id, client_id=client_id, clinician_id=clinician_id,
                              at=at, body_ct=await self.vault.seal_json(
                                  client_id, _RATING_PLACE, rating_id, body))
        self.session.add(row)
        await self.session.flush()
        return await self._rating(row)

    async def _rating(self, row: DomainRatingRow) -> DomainRating:
        body = await self.vault.open_json(row.client_id, _RATING_PLACE, row.id, row.body_ct)
        return DomainRating(id=row.id, client_id=row.client_id, clinician_id=row.clinician_id,
                            at=row.at, ratings={k: int(v) for k, v in body["ratings"].items()},
                            note=body.get("note", ""))

    async def ratings(self, client_id: str, *, limit: int = 12) -> list[DomainRating]:
        """The client's latest ratings, newest first."""
        rows = await self.session.scalars(
            select(DomainRatingRow).where(DomainRatingRow.client_id == client_id)
            .order_by(DomainRatingRow.at.desc(), DomainRatingRow.id.desc()).limit(limit))
        return [await self._rating(r) for r in rows]

    async def latest_rated(self, client_ids: Sequence[str]) -> dict[str, datetime]:
        """When each client was last rated (one grouped read, nothing opened)."""
        if not client_ids:
            return {}
        rows = await self.session.execute(
            select(DomainRatingRow.client_id, func.max(DomainRatingRow.at))
            .where(DomainRatingRow.client_id.in_(client_ids))
            .group_by(DomainRatingRow.client_id))
        return {client_id: at for client_id, at in rows.all()}


__all__ = ["DomainRating", "PhaseRepository", "PhaseStep"]
