"""Who is writing to the bot: a clinician, a supervisor, a client, or nobody we know."""

from __future__ import annotations

from dataclasses import dataclass

from storage.records import Client, Clinician
from storage.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class Person:
    telegram_id: int
    kind: str  # supervisor | clinician | client | unknown
    clinician: Clinician | None = None
    client: Client | None = None

    @property
    def is_staff(self) -> bool:
        return self.kind in ("clinician", "supervisor")


async def identify(uow: UnitOfWork, telegram_id: int) -> Person:
    clinician = await uow.clinicians.by_telegram_id(telegram_id)
    if clinician is not None:
        return Person(telegram_id, clinician.role, clinician=clinician)
    client = await uow.clients.by_telegram_id(telegram_id)
    if client is not None:
        return Person(telegram_id, "client", client=client)
    return Person(telegram_id, "unknown")
