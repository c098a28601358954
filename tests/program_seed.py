"""A small seeded program for the export tests: a supervisor, a clinician, a few clients
with weeks of history each (check-ins, alerts, journal, plan), and what to look for."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from journal.alerts.rules_file import load_rules
from journal.checkin.questionnaire_file import load_questionnaire
from journal.clock import FakeClock
from journal.review.seed import ACK_NOTES, PLAN, Seeded, seed_history
from storage.records import Client, Clinician, Plan
from storage.uow import Store
from tests.helpers import make_client, make_clinician

SUPERVISOR_ID = 7_700_000_001
CLINICIAN_ID = 7_700_000_002
FIRST_CLIENT_ID = 8_800_000_100
END = date(2026, 3, 1)
DAYS = 35


@dataclass
class Program:
    supervisor: Clinician
    clinician: Clinician
    clients: list[Client] = field(default_factory=list)
    canaries: dict[str, str] = field(default_factory=dict)  # client id: their own words
    seeded: list[Seeded] = field(default_factory=list)  # by client, in order

    @property
    def free_texts(self) -> list[str]:
        """Words clients and staff wrote, each of which must never be in a de-identified
        export: the seeded journal, notes, situations, plan and acknowledgement notes."""
        return ["Journal of", "Note of", "Situation on", "walked past the park",
                *PLAN.warning_signs, *PLAN.coping_steps, *PLAN.support_people,
                *ACK_NOTES, *self.canaries.values()]


async def seed_program(store: Store, clock: FakeClock, clients: int = 3) -> Program:
    q = load_questionnaire()
    rules = load_rules(questionnaire=q)
    supervisor = await make_clinician(store, clock, telegram_id=SUPERVISOR_ID,
                                      role="supervisor", name="Dra. Supervisora Quintana")
    clinician = await make_clinician(store, clock, telegram_id=CLINICIAN_ID,
                                     name="Dr Clinician Lane")
    program = Program(supervisor, clinician)
    for n in range(clients):
        client = await make_client(store, clock, supervisor if n % 2 else clinician,
                                   telegram_id=FIRST_CLIENT_ID + n)
        async with store.transaction() as uow:
            client = await uow.clients.update(client.id, enrolled_at=datetime(
                2026, 1, 20, 10, tzinfo=UTC) + timedelta(days=n))
        canary = f"canary-{client.code}-words only {n} wrote"
        plan = Plan.from_sections("", PLAN.warning_signs + (canary,), PLAN.coping_steps,
                                  PLAN.support_people)
        program.seeded.append(await seed_history(store, q, rules, client, end=END, days=DAYS,
                                                 plan=plan, seed=11 + n, varied_acks=True))
        async with store.transaction() as uow:
            await uow.journal.write(client_id=client.id, text=f"{canary} in the journal",
                                    now=datetime(2026, 2, 20, 21, tzinfo=UTC))
        async with store.transaction() as uow:  # the record was looked at and changed
            await uow.audit(at=clock.now(), actor=f"clinician:{client.clinician_id}",
                            action="client.view", client_id=client.id, detail="summary")
            await uow.audit(at=clock.now(), actor=f"clinician:{client.clinician_id}",
                            action="plan.update", client_id=client.id, detail="coping steps")
        program.clients.append(client)
        program.canaries[client.id] = canary
    return program
