"""Who is writing to the bot: a clinician, a supervisor, a supervising officer, a client, or
nobody we know."""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from journal.errors import NotFound
from storage.records import IN_PROGRAM, Client, Clinician

if TYPE_CHECKING:  # only annotations: the report worker imports this, not SQLAlchemy
    from storage.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class Person:
    telegram_id: int
    kind: str  # supervisor | clinician | officer | client | unknown
    clinician: Clinician | None = None
    client: Client | None = None

    @property
    def is_staff(self) -> bool:
        return self.kind in ("clinician", "supervisor")


async def identify(uow: UnitOfWork, telegram_id: int) -> Person:
    """An active staff member first, then an active or paused client: one read."""
    clinician, client = await uow.person(telegram_id)
    if clinician is not None:
        return Person(telegram_id, clinician.role, clinician=clinician)
    if client is not None:
        return Person(telegram_id, "client", client=client)
    return Person(telegram_id, "unknown")


CODE_SHAPE: Final = re.compile(r"[A-Za-z0-9]{3}-[A-Za-z0-9]{2}")
CURRENT: Final = IN_PROGRAM  # a client a clinician may still act on


async def existing_client(uow: UnitOfWork, code: str) -> Client:
    """Any client who is not erased, by code: for the administrator, who has no caseload."""
    code = code.strip()
    client = await uow.clients.by_code(code) if CODE_SHAPE.fullmatch(code) else None
    if client is None or client.status == "erased":
        raise NotFound(f"no client with code {code.upper()}")
    return client


def actor_of(clinician: Clinician) -> str:
    """How the audit trail names a clinician who viewed or changed something."""
    return f"clinician:{clinician.id}"


async def visible_client(uow: UnitOfWork, clinician: Clinician, code: str, *,
                         statuses: Collection[str] | None = None) -> Client:
    """The client with this code, if the clinician may see them: their own, or anyone's for
    a supervisor (and, with `statuses`, only in one of them). Anything else, erased clients
    included, is indistinguishable from a code that does not exist, so a guessed or forged
    code learns nothing."""
    code = code.strip()
    client = await uow.clients.by_code(code) if CODE_SHAPE.fullmatch(code) else None
    if client is None or client.status == "erased" or not (
            clinician.is_supervisor or client.clinician_id == clinician.id) or (
            statuses is not None and client.status not in statuses):
        raise NotFound("no such client for this clinician", key="client.not_found")
    return client
