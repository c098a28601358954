"""Unit of work: one session, one transaction, repositories on it; rolls back unless committed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from types import TracebackType

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, AsyncSessionTransaction

from storage import audit
from storage.crypto import MasterKeyring
from storage.db import create_engine, is_sqlite, session_factory
from storage.records import AuditEvent, AuditVerdict
from storage.repositories import (
    AlertRepository,
    CheckInRepository,
    ClientRepository,
    ClinicianRepository,
    ConversationRepository,
    InviteRepository,
    JournalRepository,
    OutboxRepository,
    PlanRepository,
    RiskOverrideRepository,
    StaffEmailRepository,
    UpdateLedger,
)
from storage.vault import Vault


class UnitOfWork:
    """All repositories share one session; `commit()` is the only way anything persists."""

    def __init__(self, session: AsyncSession, ring: MasterKeyring, *, postgres: bool) -> None:
        self.session = session
        self.postgres = postgres
        self.vault = Vault(session, ring)
        self.clinicians = ClinicianRepository(session, self.vault)
        self.clients = ClientRepository(session, self.vault)
        self.invites = InviteRepository(session, self.vault)
        self.conversations = ConversationRepository(session, self.vault)
        self.checkins = CheckInRepository(session, self.vault)
        self.journal = JournalRepository(session, self.vault)
        self.plans = PlanRepository(session, self.vault)
        self.overrides = RiskOverrideRepository(session, self.vault)
        self.alerts = AlertRepository(session, self.vault)
        self.outbox = OutboxRepository(session, self.vault)
        self.updates = UpdateLedger(session, self.vault)
        self.staff_emails = StaffEmailRepository(session, self.vault)
        self._committed = False

    async def audit(self, *, at: datetime, actor: str, action: str,
                    client_id: str | None = None, detail: str = "") -> AuditEvent:
        return await audit.append(self.session, self.vault, at=at, actor=actor, action=action,
                                  client_id=client_id, detail=detail)

    async def verify_audit(self, now: datetime) -> AuditVerdict:
        return await audit.verify(self.session, self.vault, now)

    async def audit_events(self, *, client_id: str | None = None,
                           limit: int = 200) -> list[AuditEvent]:
        return await audit.events(self.session, client_id=client_id, limit=limit)

    def savepoint(self) -> AsyncSessionTransaction:
        """A nested transaction: a failure inside undoes only its own work."""
        return self.session.begin_nested()

    async def try_advisory_lock(self, key: int) -> bool:
        """A transaction-scoped PostgreSQL advisory lock; SQLite serialises writers already."""
        if not self.postgres:
            return True
        return bool(await self.session.scalar(text("SELECT pg_try_advisory_xact_lock(:k)"),
                                              {"k": key}))

    async def commit(self) -> None:
        await self.session.commit()
        self._committed = True

    async def rollback(self) -> None:
        await self.session.rollback()

    async def __aenter__(self) -> UnitOfWork:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        try:
            if not self._committed:
                await self.session.rollback()
        finally:
            await self.session.close()


class Store:
    """The database and the master keys: hands out units of work."""

    def __init__(self, engine: AsyncEngine, ring: MasterKeyring) -> None:
        self.engine = engine
        self.ring = ring
        self.postgres = not is_sqlite(str(engine.url))
        self._sessions = session_factory(engine)

    @classmethod
    def open(cls, database_url: str, ring: MasterKeyring) -> Store:
        return cls(create_engine(database_url), ring)

    def unit_of_work(self) -> UnitOfWork:
        return UnitOfWork(self._sessions(), self.ring, postgres=self.postgres)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[UnitOfWork]:
        """A unit of work that commits when the block ends without an exception."""
        async with self.unit_of_work() as uow:
            yield uow
            await uow.commit()

    async def close(self) -> None:
        await self.engine.dispose()
