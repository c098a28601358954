"""Unit of work: one session, one transaction, repositories on it; rolls back unless committed."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from types import TracebackType

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, AsyncSessionTransaction

from storage import audit
from storage.crypto import DataKey, KeyringError, MasterKeyring, lock_number
from storage.db import AFTER_COMMIT, create_engine, is_sqlite, session_factory
from storage.models import SystemKeyRow
from storage.records import AuditEvent, AuditVerdict, Client, Clinician
from storage.repositories import (
    AlertRepository,
    AppointmentRepository,
    CalendarRepository,
    CheckInRepository,
    ClientRepository,
    ClinicianRepository,
    ConversationRepository,
    GroupRepository,
    HomeworkRepository,
    InviteRepository,
    JournalRepository,
    OutboxRepository,
    PlanRepository,
    RiskOverrideRepository,
    SharingRepository,
    StaffEmailRepository,
    UpdateLedger,
    WebInitDataRepository,
    WebSessionRepository,
    WebSignInRepository,
)
from storage.repositories.exports import ExportRepository
from storage.repositories.outbox import QUEUED
from storage.repositories.people import people
from storage.repositories.phases import PhaseRepository
from storage.repositories.sharing import ProgressReportRepository
from storage.vault import Vault, new_system_key_row

log = logging.getLogger(__name__)


"""Set in the session's info: what to call once the transaction committed."""


class UnitOfWork:
    """All repositories share one session; `commit()` is the only way anything persists."""

    def __init__(self, session: AsyncSession, ring: MasterKeyring, *, postgres: bool,
                 refresh: Callable[[], MasterKeyring] | None = None,
                 on_queued: Callable[[], None] | None = None,
                 writer: asyncio.Lock | None = None,
                 system_keys: dict[str, DataKey] | None = None,
                 make_system_key: Callable[[str, datetime], Awaitable[None]] | None = None,
                 checkpoint: audit.CheckpointFile | None = None) -> None:
        self.session = session
        self.checkpoint = checkpoint
        self._on_queued = on_queued
        self.postgres = postgres
        self._writer = writer
        self._holding = False
        self.vault = Vault(session, ring, refresh=refresh, shared=system_keys,
                           make_apart=make_system_key)
        self.clinicians = ClinicianRepository(session, self.vault)
        self.plans = PlanRepository(session, self.vault)
        self.clients = ClientRepository(session, self.vault, on_erase=self.plans.forget)
        self.invites = InviteRepository(session, self.vault)
        self.conversations = ConversationRepository(session, self.vault)
        self.checkins = CheckInRepository(session, self.vault)
        self.journal = JournalRepository(session, self.vault)
        self.overrides = RiskOverrideRepository(session, self.vault)
        self.phases = PhaseRepository(session, self.vault)
        self.alerts = AlertRepository(session, self.vault)
        self.appointments = AppointmentRepository(session, self.vault)
        self.homework = HomeworkRepository(session, self.vault)
        self.groups = GroupRepository(session, self.vault)
        self.calendar = CalendarRepository(session, self.vault)
        self.outbox = OutboxRepository(session, self.vault)
        self.sharing = SharingRepository(session, self.vault)
        self.progress = ProgressReportRepository(session, self.vault)
        self.updates = UpdateLedger(session, self.vault)
        self.staff_emails = StaffEmailRepository(session, self.vault)
        self.web_sign_ins = WebSignInRepository(session, self.vault)
        self.web_sessions = WebSessionRepository(session, self.vault)
        self.web_init_data = WebInitDataRepository(session, self.vault)
        self.exports = ExportRepository(session, self.vault)
        self._committed = False

    async def audit(self, *, at: datetime, actor: str, action: str,
                    client_id: str | None = None, detail: str = "") -> AuditEvent:
        return await audit.append(self.session, self.vault, at=at, actor=actor, action=action,
                                  client_id=client_id, detail=detail, checkpoint=self.checkpoint)

    async def verify_audit(self, now: datetime, *, against_checkpoint: bool = True
                           ) -> AuditVerdict:
        return await audit.verify(self.session, self.vault, now,
                                  self.checkpoint if against_checkpoint else None)

    async def seal_audit_checkpoint(self, now: datetime) -> int:
        """Write the checkpoint at the trail's head as it is now; its sequence."""
        assert self.checkpoint is not None
        return await audit.seal_checkpoint(self.session, self.vault, now, self.checkpoint)

    async def audit_events(self, *, client_id: str | None = None,
                           limit: int = 200) -> list[AuditEvent]:
        return await audit.events(self.session, self.vault, client_id=client_id, limit=limit)

    def savepoint(self) -> AsyncSessionTransaction:
        """A nested transaction: a failure inside undoes only its own work."""
        return self.session.begin_nested()

    async def try_advisory_lock(self, key: int) -> bool:
        """A transaction-scoped PostgreSQL advisory lock; SQLite serialises writers already."""
        if not self.postgres:
            return True
        return bool(await self.session.scalar(text("SELECT pg_try_advisory_xact_lock(:k)"),
                                              {"k": key}))

    async def hold_person(self, telegram_id: int) -> None:
        """Wait until no other transaction works on this person's updates, then hold them
        until this one ends (a transaction-scoped PostgreSQL advisory lock on a number
        derived from the Telegram id's keyed index, so pg_locks does not name them either),
        so two instances behind one webhook cannot interleave one person's
        updates. On SQLite, whose one writer serialises every person anyway, updates queue
        here for the process's write turn instead: waiting in SQLite's busy handler (it
        sleeps up to 100 ms between tries) made concurrent updates slower than one by one."""
        if self.postgres:
            await self.session.execute(text("SELECT pg_advisory_xact_lock(:k)"),
                                       {"k": await self._lock_of(telegram_id)})
        elif self._writer is not None and not self._holding:
            await self._writer.acquire()
            self._holding = True

    async def claim_update(self, update_id: int, telegram_id: int, now: datetime) -> bool:
        """`hold_person(telegram_id)`, then `updates.record(update_id, now)`: False when the
        update was handled before. On PostgreSQL both are one statement."""
        if self.postgres:
            return await self.updates.record(update_id, now,
                                             hold=await self._lock_of(telegram_id))
        await self.hold_person(telegram_id)
        return await self.updates.record(update_id, now)

    async def _lock_of(self, telegram_id: int) -> int:
        return lock_number(await self.vault.telegram_index(telegram_id))

    async def person(self, telegram_id: int) -> tuple[Clinician | None, Client | None]:
        """Who writes from this Telegram account: the active staff member, else the active
        or paused client (or neither), in one statement. A client's data key and plan come
        along, read but not opened: what this transaction seals or shows of theirs then
        costs no further read."""
        found = await people(self.session, self.vault, telegram_id)
        if found.client is not None:
            if found.key is not None:
                self.vault.known_client_key(found.client.id, *found.key)
            self.plans.known(found.client.id, found.plan)
        return found.clinician, found.client

    async def earliest_dues(self) -> tuple[datetime | None, datetime | None, datetime | None]:
        """The soonest stored due instant of the active clients, the appointments and the
        homework, in one statement (each an index's first entry): what an idle tick reads."""
        from sqlalchemy import func, select

        from storage.models import AppointmentRow, ClientRow, HomeworkRow

        row = (await self.session.execute(select(
            select(func.min(ClientRow.next_due_at))
            .where(ClientRow.status == "active").scalar_subquery(),
            select(func.min(AppointmentRow.next_due_at)).scalar_subquery(),
            select(func.min(HomeworkRow.next_due_at)).scalar_subquery()))).one()
        return row[0], row[1], row[2]

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Call `callback` once this unit of work commits (never if it rolls back): what
        is counted for the metrics happened, not merely was tried."""
        self.session.info.setdefault(AFTER_COMMIT, []).append(callback)

    async def commit(self) -> None:
        await self.session.commit()
        self._committed = True
        self.checkins.reset()  # no lock is held now: what was read may change
        self.plans.reset()
        if self.session.info.pop(QUEUED, False) and self._on_queued is not None:
            self._on_queued()
        for callback in self.session.info.pop(AFTER_COMMIT, []):
            callback()

    async def rollback(self) -> None:
        self.session.info.pop(QUEUED, None)
        self.session.info.pop(AFTER_COMMIT, None)
        await self.session.rollback()
        self.checkins.reset()
        self.plans.reset()

    async def __aenter__(self) -> UnitOfWork:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        try:
            if not self._committed:
                await self.session.rollback()
        finally:
            try:
                await self.session.close()
            finally:
                if self._holding:
                    assert self._writer is not None
                    self._writer.release()
                    self._holding = False


KeyLoader = Callable[[], MasterKeyring]
"""Reads the master keys again (the key file); raises when they cannot be read."""
KeySignature = Callable[[], object]
"""Something that changes when the key file changes (its size, time and inode)."""


class Store:
    """The database and the master keys: hands out units of work.

    With a `reload` callable the keys can change under a running process: `reload_keys()`
    (on SIGHUP) reads them again, a unit of work meeting a master key id it does not know
    asks for one reload before giving up, and with `signature` a changed key file is
    noticed within `watch_seconds` so new data keys are wrapped under the new primary."""

    def __init__(self, engine: AsyncEngine, ring: MasterKeyring, *,
                 reload: KeyLoader | None = None, signature: KeySignature | None = None,
                 retry_seconds: float = 2.0, watch_seconds: float = 1.0,
                 audit_checkpoint: audit.CheckpointFile | None = None) -> None:
        self.engine = engine
        self.audit_checkpoint = audit_checkpoint
        self.ring = ring
        self.postgres = not is_sqlite(str(engine.url))
        self._sessions = session_factory(engine)
        self._writer = None if self.postgres else asyncio.Lock()  # see hold_person
        self._reload = reload
        self._signature = signature
        self._retry_seconds = retry_seconds
        self._watch_seconds = watch_seconds
        self._last_reload = float("-inf")
        self._last_watch = time.monotonic()
        self._seen = self._signature_now()
        self._queued_listeners: list[Callable[[], None]] = []
        self._system_keys: dict[str, DataKey] = {}  # see Vault's `shared`

    @classmethod
    def open(cls, database_url: str, ring: MasterKeyring, *, reload: KeyLoader | None = None,
             signature: KeySignature | None = None,
             audit_checkpoint: audit.CheckpointFile | None = None) -> Store:
        return cls(create_engine(database_url), ring, reload=reload, signature=signature,
                   audit_checkpoint=audit_checkpoint)

    def unit_of_work(self) -> UnitOfWork:
        self._watch()
        return UnitOfWork(self._sessions(), self.ring, postgres=self.postgres,
                          refresh=self._refresh if self._reload is not None else None,
                          on_queued=self._queued if self._queued_listeners else None,
                          writer=self._writer, system_keys=self._system_keys,
                          make_system_key=self._make_system_key if self.postgres else None,
                          checkpoint=self.audit_checkpoint)

    async def _make_system_key(self, name: str, now: datetime) -> None:
        """Insert a system key in a transaction of its own unless one exists (PostgreSQL;
        on SQLite every transaction holds the one write lock, so it is made in place)."""
        from sqlalchemy.dialects.postgresql import insert

        async with self.engine.begin() as connection:
            await connection.execute(
                insert(SystemKeyRow).values(**new_system_key_row(self.ring, name, now))
                .on_conflict_do_nothing(index_elements=["name"]))

    def on_queued(self, listener: Callable[[], None]) -> None:
        """Call `listener` whenever a unit of work of this process that queued an outbox
        row commits (delivery wakes at once instead of at its next look). Rows written by
        other processes are found by delivery's slow poll."""
        self._queued_listeners.append(listener)

    def _queued(self) -> None:
        for listener in self._queued_listeners:
            listener()

    # -- master keys that change while the process runs ------------------------------------
    def reload_keys(self, reason: str = "SIGHUP") -> bool:
        """Read the master keys again. A key file that cannot be read or parsed keeps the
        keys already loaded and logs one line (never key material). True when they changed."""
        if self._reload is None:
            log.info("master keys not reloaded (%s): they do not come from a key file", reason)
            return False
        self._last_reload = time.monotonic()
        self._seen = self._signature_now()
        try:
            ring = self._reload()
        except Exception as exc:  # a half-written or broken file must not stop the bot
            detail = str(exc) if isinstance(exc, KeyringError) else type(exc).__name__
            log.warning("master keys not reloaded (%s): %s; the %d loaded key(s) stay in use",
                        reason, detail, len(self.ring.ids))
            return False
        if ring.same_as(self.ring):
            log.info("master keys reloaded (%s): unchanged, primary %s", reason, ring.primary_id)
            return False
        self.ring = ring
        log.info("master keys reloaded (%s): %d key(s), primary %s", reason, len(ring.ids),
                 ring.primary_id)
        return True

    def _refresh(self) -> MasterKeyring:
        """Called by a unit of work that met an unknown master key id: the keys read once
        more (at most once per `retry_seconds`), or the ones already loaded."""
        if time.monotonic() - self._last_reload >= self._retry_seconds:
            self.reload_keys("unknown master key")
        return self.ring

    def _signature_now(self) -> object:
        if self._signature is None:
            return None
        try:
            return self._signature()
        except OSError:
            return None

    def _watch(self) -> None:
        if self._signature is None or self._reload is None:
            return
        now = time.monotonic()
        if now - self._last_watch < self._watch_seconds:
            return
        self._last_watch = now
        if self._signature_now() != self._seen:
            self.reload_keys("key file changed")

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[UnitOfWork]:
        """A unit of work that commits when the block ends without an exception."""
        async with self.unit_of_work() as uow:
            yield uow
            await uow.commit()

    async def close(self) -> None:
        await self.engine.dispose()
