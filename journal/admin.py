"""Administrator use cases behind the command line: clinicians, keys, erasure, audit."""

from __future__ import annotations

from dataclasses import dataclass

from journal.clock import Clock
from journal.errors import InvalidInput, NotFound
from journal.mailaddress import is_email_address
from storage.crypto import KeyringError, MasterKeyring
from storage.records import AuditEvent, AuditVerdict, Clinician, OutboxCounts
from storage.uow import Store

CLI_ACTOR = "admin:cli"


@dataclass(frozen=True)
class ErasureReceipt:
    code: str
    key_destroyed: bool


class AdminService:
    def __init__(self, *, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def add_clinician(
        self, *, telegram_id: int, name: str, supervisor: bool, contact: str = "",
        email: str | None = None,
    ) -> Clinician:
        email = _email(email)
        name = name.strip()
        if not name or len(name) > 120:
            raise InvalidInput("the name must be 1 to 120 characters")
        if telegram_id <= 0:
            raise InvalidInput("the Telegram id must be a positive number")
        now = self._clock.now()
        async with self._store.transaction() as uow:
            if await uow.clients.by_telegram_id(telegram_id) is not None:
                raise InvalidInput("that Telegram account is enrolled as a client")
            clinician = await uow.clinicians.add(
                telegram_id=telegram_id,
                name=name,
                role="supervisor" if supervisor else "clinician",
                now=now,
                contact=contact,
                email=email,
            )
            await uow.audit(
                at=now,
                actor=CLI_ACTOR,
                action="clinician.add",
                detail=f"clinician {clinician.id} role {clinician.role}"
                       + (" with e-mail" if email else ""),
            )
        return clinician

    async def set_clinician_email(self, *, telegram_id: int, email: str | None) -> Clinician:
        """Set (or with None or "" remove) the address the e-mail fallback uses."""
        email = _email(email)
        now = self._clock.now()
        async with self._store.transaction() as uow:
            found = await uow.clinicians.by_telegram_id(telegram_id)
            if found is None:
                raise NotFound(f"no active clinician with Telegram id {telegram_id}")
            updated = await uow.clinicians.set_email(found.id, email, now)
            assert updated is not None
            # The address is sealed in the row; the audit trail says only that it changed.
            await uow.audit(at=now, actor=CLI_ACTOR, action="clinician.email",
                            detail=f"clinician {found.id} e-mail "
                                   + ("set" if email else "removed"))
        return updated

    async def clinicians(self) -> list[Clinician]:
        async with self._store.unit_of_work() as uow:
            return await uow.clinicians.everyone()

    async def erase_client(self, code: str, *, actor: str = CLI_ACTOR) -> ErasureReceipt:
        now = self._clock.now()
        async with self._store.transaction() as uow:
            client = await uow.clients.by_code(code.strip())
            if client is None:
                raise NotFound(f"no client with code {code.strip().upper()}")
            destroyed = await uow.clients.erase(client.id, now)
            await uow.audit(
                at=now,
                actor=actor,
                action="client.erase",
                client_id=client.id,
                detail=f"client {client.code} data key destroyed",
            )
        return ErasureReceipt(code=client.code, key_destroyed=destroyed)

    async def master_keys_in_use(self) -> dict[str, int]:
        async with self._store.unit_of_work() as uow:
            return await uow.vault.master_keys_in_use()

    async def rewrap(self, new_ring: MasterKeyring) -> int:
        """Re-wrap every data key under new_ring's primary, in one transaction."""
        now = self._clock.now()
        async with self._store.transaction() as uow:
            uow.vault.check_ring_covers(await uow.vault.master_keys_in_use())
            count = await uow.vault.rewrap_all(new_ring)
            await uow.audit(
                at=now,
                actor=CLI_ACTOR,
                action="keys.rotate",
                detail=f"{count} data keys re-wrapped under {new_ring.primary_id}",
            )
        return count

    async def check_retire(self, key_id: str) -> None:
        in_use = (await self.master_keys_in_use()).get(key_id, 0)
        if in_use:
            raise KeyringError(
                f"master key {key_id!r} still wraps {in_use} data key(s); run 'steadfast keys "
                "rotate' first"
            )

    async def record(self, action: str, detail: str = "") -> None:
        now = self._clock.now()
        async with self._store.transaction() as uow:
            await uow.audit(at=now, actor=CLI_ACTOR, action=action, detail=detail)

    async def verify_audit(self) -> AuditVerdict:
        async with self._store.unit_of_work() as uow:
            verdict = await uow.verify_audit(self._clock.now())
            await uow.commit()  # the audit key may have been created on an empty trail
            return verdict

    async def audit_events(self, code: str | None = None, limit: int = 200) -> list[AuditEvent]:
        async with self._store.unit_of_work() as uow:
            client_id = None
            if code:
                client = await uow.clients.by_code(code)
                if client is None:
                    raise NotFound(f"no client with code {code.upper()}")
                client_id = client.id
            return await uow.audit_events(client_id=client_id, limit=limit)

    async def outbox_counts(self) -> OutboxCounts:
        async with self._store.unit_of_work() as uow:
            return await uow.outbox.counts()


def _email(value: str | None) -> str | None:
    value = (value or "").strip()
    if not value:
        return None
    if not is_email_address(value):
        raise InvalidInput("the e-mail address must look like name@clinic.example")
    return value
