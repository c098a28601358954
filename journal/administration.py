"""Administrator use cases behind the command line: clinicians, erasure, the audit trail.

The master keyring is administered inside storage/ (storage/keyring.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from journal.clock import Clock
from journal.errors import InvalidInput, NotFound
from journal.mailaddress import is_email_address
from journal.staff import check_language, check_timezone
from journal.web_access import end_sessions
from storage.records import AuditEvent, AuditVerdict, Clinician, OutboxCounts
from storage.uow import Store

if TYPE_CHECKING:
    from journal.sharing import SharingService

CLI_ACTOR = "admin:cli"
# The staff roles: an officer is a supervising (probation or parole) officer, who sees only
# what a client agreed to share with them (journal/sharing.py).
ROLES: Final = ("clinician", "supervisor", "officer")


@dataclass(frozen=True)
class ErasureReceipt:
    code: str
    key_destroyed: bool


class AdminService:
    def __init__(self, *, store: Store, clock: Clock, staff_language: str = "en",
                 sharing: SharingService | None = None) -> None:
        self._store = store
        self._clock = clock
        self._staff_language = staff_language
        if sharing is None:
            from journal.sharing import SharingService

            sharing = SharingService(clock=clock, staff_language=staff_language)
        self._sharing = sharing

    async def add_clinician(
        self, *, telegram_id: int, name: str, supervisor: bool = False, contact: str = "",
        email: str | None = None, language: str | None = None, timezone: str | None = None,
        role: str | None = None,
    ) -> Clinician:
        """`language`, `timezone`: the staff member's own (None: the program's defaults).
        `role`: one of ROLES (None: "supervisor" with `supervisor`, else "clinician")."""
        role = role or ("supervisor" if supervisor else "clinician")
        if role not in ROLES or (supervisor and role != "supervisor"):
            raise InvalidInput(f"the role must be one of: {', '.join(ROLES)}")
        email = _email(email)
        language = check_language(language) if language else None
        timezone = check_timezone(timezone) if timezone else None
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
                role=role,
                now=now,
                contact=contact,
                email=email,
                language=language,
                timezone=timezone,
            )
            await uow.audit(
                at=now,
                actor=CLI_ACTOR,
                action="clinician.add",
                detail=f"clinician {clinician.id} role {clinician.role}"
                       + (" with e-mail" if email else ""),
            )
            # The bot sets the staff menu in that chat when it delivers this (a chat that
            # never talked to the bot gets it with its /start instead).
            await uow.outbox.add(chat_id=telegram_id, kind="menu", method="setMyCommands",
                                 params={"menu": clinician.role,
                                         "language": language or self._staff_language},
                                 now=now)
        return clinician

    async def set_clinician_locale(self, *, telegram_id: int, language: str | None = None,
                                   timezone: str | None = None) -> Clinician:
        """Set a staff member's own language and/or zone; "" puts one back to the
        program's default. A value left None is kept."""
        values: dict[str, str | None] = {}
        if language is not None:
            values["language"] = check_language(language) if language else None
        if timezone is not None:
            values["timezone"] = check_timezone(timezone) if timezone else None
        now = self._clock.now()
        async with self._store.transaction() as uow:
            found = await uow.clinicians.by_telegram_id(telegram_id)
            if found is None:
                raise NotFound(f"no active clinician with Telegram id {telegram_id}")
            updated = await uow.clinicians.set_locale(found.id, **values)
            assert updated is not None
            await uow.audit(at=now, actor=CLI_ACTOR, action="clinician.locale",
                            detail=f"clinician {found.id} "
                                   + ", ".join(f"{k} {v or 'default'}"
                                               for k, v in values.items()))
            if "language" in values:
                await uow.outbox.add(chat_id=telegram_id, kind="menu", method="setMyCommands",
                                     params={"menu": updated.role,
                                             "language": updated.language
                                             or self._staff_language}, now=now)
        return updated

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

    async def deactivate_clinician(self, *, telegram_id: int) -> Clinician:
        """Take a staff member's access away: the bot stops answering them as staff, their
        workspace sessions end at once, and their chat loses the staff menu. Their clients
        stay where they are until a supervisor reassigns them."""
        now = self._clock.now()
        async with self._store.transaction() as uow:
            found = await uow.clinicians.by_telegram_id(telegram_id)
            if found is None:
                raise NotFound(f"no active clinician with Telegram id {telegram_id}")
            changed = await uow.clinicians.set_access(found.id, active=False)
            await uow.audit(at=now, actor=CLI_ACTOR, action="clinician.deactivate",
                            detail=f"clinician {found.id}")
            if found.is_officer:  # nothing more reaches them, queued or not
                await self._sharing.officer_deactivated(uow, found, actor=CLI_ACTOR)
            await end_sessions(uow, found.id, self._clock, why="deactivated")
            await uow.outbox.add(chat_id=telegram_id, kind="menu", method="setMyCommands",
                                 params={"menu": None}, now=now)
        return changed

    async def set_clinician_role(self, *, telegram_id: int, supervisor: bool) -> Clinician:
        """Make a clinician a supervisor or the other way round. A change of role ends the
        workspace sessions, so a demoted supervisor sees no other caseload from then on."""
        role = "supervisor" if supervisor else "clinician"
        now = self._clock.now()
        async with self._store.transaction() as uow:
            found = await uow.clinicians.by_telegram_id(telegram_id)
            if found is None:
                raise NotFound(f"no active clinician with Telegram id {telegram_id}")
            if found.is_officer:  # an officer's door stays narrow: a new account is needed
                raise InvalidInput("an officer cannot become a clinician or supervisor; add "
                                   "a staff account for the new role")
            if found.role == role:
                return found
            changed = await uow.clinicians.set_access(found.id, role=role)
            await uow.audit(at=now, actor=CLI_ACTOR, action="clinician.role",
                            detail=f"clinician {found.id} role {role}")
            await end_sessions(uow, found.id, self._clock, why=f"role {role}")
            await uow.outbox.add(chat_id=telegram_id, kind="menu", method="setMyCommands",
                                 params={"menu": role, "language": self._staff_language},
                                 now=now)
        return changed

    async def propose_sharing(self, *, code: str, officer_telegram_id: int,
                              categories: list[str] | None = None,
                              alert_level: str | None = None) -> tuple[str, str, str]:
        """The command line's proposal (`steadfast client team`): (client code, officer
        name, the categories proposed)."""
        async with self._store.transaction() as uow:
            agreement, client, officer = await self._sharing.propose(
                uow, code=code, officer_telegram_id=officer_telegram_id, actor=CLI_ACTOR,
                categories=categories, alert_level=alert_level)
        return client.code, officer.name, ", ".join(agreement.categories)

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

    async def verify_audit(self, *, chain_only: bool = False) -> AuditVerdict:
        """`chain_only`: the chain alone, not held against the checkpoint (a restored
        backup is behind it by design)."""
        async with self._store.unit_of_work() as uow:
            verdict = await uow.verify_audit(self._clock.now(),
                                             against_checkpoint=not chain_only)
            await uow.commit()  # the audit key may have been created on an empty trail
            return verdict

    async def seal_audit_checkpoint(self, *, accept: bool = False) -> tuple[AuditVerdict, int]:
        """Write the audit checkpoint at the trail's head: when the chain verifies and the
        only finding is against the checkpoint (missing; or, with `accept`, a restore the
        operator made on purpose). The verdict before, and the sequence sealed (-1: not)."""
        now = self._clock.now()
        async with self._store.unit_of_work() as uow:
            checkpoint = uow.checkpoint
            if checkpoint is None:
                raise InvalidInput("no audit checkpoint is configured "
                                   "(set STEADFAST_AUDIT_CHECKPOINT_FILE)")
            verdict = await uow.verify_audit(now)
            if not verdict.ok:
                chain_only = await uow.verify_audit(now, against_checkpoint=False)
                if not chain_only.ok or (checkpoint.path.exists() and not accept):
                    return verdict, -1
            if verdict.ok and checkpoint.path.exists() and not accept:
                return verdict, -1  # nothing to do: it is kept as events are appended
            if not verdict.ok:  # the restore is itself an event of the trail
                await uow.audit(at=now, actor=CLI_ACTOR, action="audit.checkpoint",
                                detail=f"checkpoint resealed at the trail's head after: "
                                       f"{verdict.reason}"[:500])
            await uow.commit()  # first: a checkpoint is never ahead of what committed
            seq = await uow.seal_audit_checkpoint(now)
            return verdict, seq

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
