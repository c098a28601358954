"""Enrolment: single-use invites, consent, preferences, and the pseudonymous client code."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from journal.clock import Clock
from journal.errors import DomainError, InvalidInput, NotAllowed
from journal.i18n import LANGUAGES, N_, gettext_for
from journal.staff import StaffDefaults, StaffLocale
from storage.records import Client, ClientStatus, Clinician
from storage.uow import UnitOfWork

LOCKOUT_FAILURES = 10
LOCKOUT_WINDOW = timedelta(hours=1)
CONSENT_VERSION = "2026-11"
COMMON_TIMEZONES = (
    "Europe/Madrid",
    "Europe/London",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "America/Mexico_City",
    "America/Bogota",
    "UTC",
)
CHECKIN_TIMES = ("08:00", "12:00", "18:00", "20:00", "21:00")


class InviteProblem(DomainError):
    """The invite code cannot be used."""


class InviteWrong(InviteProblem):
    key = "invite.wrong"


class InviteUsed(InviteProblem):
    key = "invite.used"


class InviteExpired(InviteProblem):
    key = "invite.expired"


class InviteRevoked(InviteProblem):
    """The client the invite was for was erased or discharged meanwhile."""

    key = "invite.revoked"


class EnrolmentLocked(InviteProblem):
    key = "invite.locked"


class AlreadyEnrolled(InviteProblem):
    key = "invite.already_enrolled"


@dataclass(frozen=True)
class NewInvite:
    code: str  # the secret that goes into the deep link; shown once, stored hashed
    client_code: str
    expires_at: datetime


@dataclass(frozen=True)
class EnrolmentStep:
    state: str  # consent | language | timezone | time
    language: str


@dataclass(frozen=True)
class InviteCheck:
    """The outcome of opening a deep link: the next step, or the problem's message key.

    A problem is returned rather than raised so that the failed attempt, which counts
    toward the lock-out, is committed with the rest of the update."""

    step: EnrolmentStep | None = None
    problem: str | None = None


def hash_code(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def parse_time(text: str) -> str:
    hours, sep, minutes = text.strip().replace(".", ":").partition(":")
    if not sep:
        minutes = "00"
    if not (
        # ASCII only: str.isdigit() also takes "²", which int() refuses
        hours.isascii() and hours.isdigit() and len(hours) <= 2
        and minutes.isascii() and minutes.isdigit() and len(minutes) == 2
        and int(hours) < 24
        and int(minutes) < 60
    ):
        raise InvalidInput("not a time of day", key="enrol.bad_time")
    return f"{int(hours):02d}:{int(minutes):02d}"


def parse_timezone(text: str) -> str:
    name = text.strip()
    if name.upper() == "UTC":
        return "UTC"
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput("unknown time zone", key="enrol.bad_timezone") from None
    if "/" not in name:  # refuse legacy aliases like "EST" that hide daylight saving
        raise InvalidInput("unknown time zone", key="enrol.bad_timezone")
    return name


class EnrolmentService:
    def __init__(
        self,
        *,
        clock: Clock,
        invite_ttl: timedelta,
        default_language: str,
        default_timezone: str,
        default_checkin_time: str,
        staff_language: str = "en",
    ) -> None:
        self._clock = clock
        self._ttl = invite_ttl
        self._language = default_language
        self._timezone = default_timezone
        self._time = default_checkin_time
        self._staff_language = staff_language

    @property
    def staff_timezone(self) -> str:
        """The program's zone, for staff who set none of their own."""
        return self._timezone

    def staff_locale(self, clinician: Clinician | None) -> StaffLocale:
        """The language and zone the inviting clinician reads their replies in."""
        return StaffDefaults(self._staff_language, self._timezone).of(clinician)

    async def create_invite(
        self, uow: UnitOfWork, clinician: Clinician, note: str | None
    ) -> NewInvite:
        now = self._clock.now()
        client = await uow.clients.add_invited(
            clinician_id=clinician.id,
            language=self._language,
            timezone=self._timezone,
            checkin_time=self._time,
            now=now,
        )
        code = secrets.token_urlsafe(24)  # 192 bits; deep-link safe characters
        invite = await uow.invites.add(
            code_hash=hash_code(code),
            clinician_id=clinician.id,
            client_id=client.id,
            note=(note or "").strip() or None,
            now=now,
            ttl=self._ttl,
        )
        await uow.audit(
            at=now,
            actor=f"clinician:{clinician.id}",
            action="invite.create",
            client_id=client.id,
            detail=f"client {client.code}",
        )
        return NewInvite(code=code, client_code=client.code, expires_at=invite.expires_at)

    async def open_invite(
        self, uow: UnitOfWork, telegram_id: int, code: str, language_hint: str | None
    ) -> InviteCheck:
        now = self._clock.now()
        if await self.locked_out(uow, telegram_id, now):
            return InviteCheck(problem=EnrolmentLocked.key)
        if (
            await uow.clinicians.by_telegram_id(telegram_id) is not None
            or await uow.clients.by_telegram_id(telegram_id) is not None
        ):
            return InviteCheck(problem=AlreadyEnrolled.key)
        invite = await uow.invites.by_code_hash(hash_code(code.strip()))
        problem = None
        if invite is None:
            problem = InviteWrong.key
        elif invite.used_at is not None:
            problem = InviteUsed.key
        elif not await self._still_invited(uow, invite.client_id):
            problem = InviteRevoked.key
        elif invite.expires_at <= now:
            problem = InviteExpired.key
        if problem is not None or invite is None:
            failures = await uow.invites.record_failure(telegram_id, now)
            return InviteCheck(
                problem=EnrolmentLocked.key if failures >= LOCKOUT_FAILURES else problem
            )
        language = "es" if (language_hint or "").lower().startswith("es") else "en"
        await uow.conversations.set(
            telegram_id, "consent", {"invite": invite.id, "language": language}, now
        )
        return InviteCheck(step=EnrolmentStep("consent", language))

    @staticmethod
    async def _still_invited(uow: UnitOfWork, client_id: str) -> bool:
        """An invite enrols only the record it was made for, and only while that record
        waits for its person: never into an erased or discharged client."""
        client = await uow.clients.get(client_id)
        return client is not None and client.status == ClientStatus.INVITED

    @staticmethod
    async def locked_out(uow: UnitOfWork, telegram_id: int, now: datetime) -> bool:
        """Locked for an hour after the tenth wrong code within an hour. Attempts made while
        locked are not recorded, so the lock cannot be extended by trying again."""
        last = await uow.invites.last_failure(telegram_id)
        return (
            last is not None
            and now < last + LOCKOUT_WINDOW
            and await uow.invites.failures(telegram_id, last) >= LOCKOUT_FAILURES
        )

    async def _step(self, uow: UnitOfWork, telegram_id: int, expected: str) -> dict[str, str]:
        conversation = await uow.conversations.get(telegram_id)
        if (
            conversation is None
            or not conversation.state.startswith("enrol:")
            and conversation.state != "consent"
        ):
            raise NotAllowed("no enrolment in progress", key="enrol.none")
        if conversation.state != expected:
            raise NotAllowed("out of step", key="enrol.stale")
        return dict(conversation.data)

    async def switch_consent_language(
        self, uow: UnitOfWork, telegram_id: int, language: str
    ) -> EnrolmentStep:
        data = await self._step(uow, telegram_id, "consent")
        data["language"] = language if language in LANGUAGES else "en"
        await uow.conversations.set(telegram_id, "consent", data, self._clock.now())
        return EnrolmentStep("consent", data["language"])

    async def decline(self, uow: UnitOfWork, telegram_id: int) -> str:
        """Declining stores nothing: the conversation is forgotten, the invite stays open."""
        data = await self._step(uow, telegram_id, "consent")
        await uow.conversations.clear(telegram_id)
        return data.get("language", "en")

    async def agree(self, uow: UnitOfWork, telegram_id: int) -> EnrolmentStep:
        data = await self._step(uow, telegram_id, "consent")
        await uow.conversations.set(telegram_id, "enrol:language", data, self._clock.now())
        return EnrolmentStep("language", data["language"])

    async def choose_language(
        self, uow: UnitOfWork, telegram_id: int, language: str
    ) -> EnrolmentStep:
        data = await self._step(uow, telegram_id, "enrol:language")
        data["language"] = language if language in LANGUAGES else "en"
        await uow.conversations.set(telegram_id, "enrol:timezone", data, self._clock.now())
        return EnrolmentStep("timezone", data["language"])

    async def choose_timezone(self, uow: UnitOfWork, telegram_id: int, text: str) -> EnrolmentStep:
        data = await self._step(uow, telegram_id, "enrol:timezone")
        data["timezone"] = parse_timezone(text)
        await uow.conversations.set(telegram_id, "enrol:time", data, self._clock.now())
        return EnrolmentStep("time", data["language"])

    async def choose_time(
        self, uow: UnitOfWork, telegram_id: int, text: str
    ) -> tuple[Client, Clinician]:
        data = await self._step(uow, telegram_id, "enrol:time")
        checkin_time = parse_time(text)
        now = self._clock.now()
        invite = await uow.invites.get(data["invite"])
        if invite is None or not await uow.invites.mark_used(invite.id, now):
            await uow.conversations.clear(telegram_id)
            raise InviteUsed("the invite was used meanwhile")
        if not await self._still_invited(uow, invite.client_id):
            await uow.conversations.clear(telegram_id)
            raise InviteRevoked("the client was erased or discharged during enrolment")
        if invite.expires_at <= now:
            await uow.conversations.clear(telegram_id)
            raise InviteExpired("the invite expired during enrolment")
        client = await uow.clients.update(
            invite.client_id,
            telegram_id=telegram_id,
            status=ClientStatus.ACTIVE,
            language=data["language"],
            timezone=data["timezone"],
            checkin_time=checkin_time,
            enrolled_at=now,
        )
        await uow.conversations.clear(telegram_id)
        await uow.audit(
            at=now,
            actor=f"client:{client.code}",
            action="client.consent",
            client_id=client.id,
            detail=f"consent version {CONSENT_VERSION}",
        )
        clinician = await uow.clinicians.get(client.clinician_id)
        assert clinician is not None
        notice = gettext_for(self.staff_locale(clinician).language, N_(
            "Your invite was used: client {code} has enrolled and will get the first check-in "
            "at {time} ({timezone})."))
        await uow.outbox.add(
            chat_id=clinician.telegram_id, kind="notice", method="sendMessage",
            params={"text": notice.format(code=client.code, time=client.checkin_time,
                                          timezone=client.timezone)},
            now=now, dedupe_key=f"enrolled:{client.id}")
        return client, clinician

    async def current_step(self, uow: UnitOfWork, telegram_id: int) -> EnrolmentStep | None:
        conversation = await uow.conversations.get(telegram_id)
        if conversation is None:
            return None
        if conversation.state == "consent":
            return EnrolmentStep("consent", conversation.data.get("language", "en"))
        if conversation.state.startswith("enrol:"):
            return EnrolmentStep(
                conversation.state.removeprefix("enrol:"), conversation.data.get("language", "en")
            )
        return None
