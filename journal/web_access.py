"""Who may use the workspace pages: one-time sign-in links, Mini App sign-in, sessions.

No passwords. A link is a 192-bit random token, kept as its SHA-256 only, valid five
minutes and once, bound to the staff member it was made for. A session is another random
token in an HttpOnly cookie, kept hashed too, with its CSRF token's hash beside it; it ends
after an idle time, at an absolute limit, on sign-out, and when its owner stops being
active staff (journal/administration.py ends them; every request checks again anyway)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from journal.clock import Clock
from journal.people import actor_of
from storage.records import Clinician
from storage.repositories.web import WebSession
from storage.uow import UnitOfWork

LINK_TTL: Final = timedelta(minutes=5)
TOKEN_BYTES: Final = 24  # 192 bits
STAFF_ROLES: Final = ("clinician", "supervisor")


def digest(token: str) -> str:
    """Any text hashes: a cookie that was not UTF-8 reaches here with lone surrogates
    (aiohttp keeps undecodable bytes that way), and matches nothing."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def same_token(token: str, expected_hash: str) -> bool:
    return hmac.compare_digest(digest(token), expected_hash)


@dataclass(frozen=True, slots=True)
class NewSession:
    """What the browser gets once: the cookie's token and the forms' CSRF token."""

    token: str
    csrf_token: str
    clinician: Clinician


def is_staff(clinician: Clinician | None) -> bool:
    return clinician is not None and clinician.active and clinician.role in STAFF_ROLES


class WebAccess:
    def __init__(self, *, clock: Clock, idle: timedelta, limit: timedelta) -> None:
        self._clock = clock
        self.idle = idle
        self.limit = limit

    async def new_link(self, uow: UnitOfWork, clinician: Clinician) -> str:
        """A fresh sign-in token for this staff member; the caller puts it in a URL."""
        token = new_token()
        now = self._clock.now()
        await uow.web_sign_ins.add(token_hash=digest(token), clinician_id=clinician.id,
                                   now=now, expires_at=now + LINK_TTL)
        await uow.audit(at=now, actor=actor_of(clinician), action="web.link",
                        detail="workspace sign-in link made")
        return token

    async def link_pending(self, uow: UnitOfWork, token: str) -> tuple[bool, str | None]:
        """Whether the link still works, and its owner's language (None: the program's)."""
        return await uow.web_sign_ins.pending(digest(token), self._clock.now())

    async def use_link(self, uow: UnitOfWork, token: str) -> NewSession | None:
        """A session for the link's owner, or None for a link unknown, used, expired, or
        whose owner is no longer active staff."""
        now = self._clock.now()
        clinician_id = await uow.web_sign_ins.use(digest(token), now)
        if clinician_id is None:
            return None
        clinician = await uow.clinicians.get(clinician_id)
        if clinician is None or not is_staff(clinician):
            return None
        return await self._start(uow, clinician, "link")

    async def use_telegram(self, uow: UnitOfWork, telegram_id: int) -> NewSession | None:
        """A session for the active staff member with this Telegram id (the Mini App's
        initData, already validated by the caller), or None."""
        clinician = await uow.clinicians.by_telegram_id(telegram_id)
        if clinician is None or not is_staff(clinician):
            return None
        return await self._start(uow, clinician, "telegram")

    async def _start(self, uow: UnitOfWork, clinician: Clinician, how: str) -> NewSession:
        now = self._clock.now()
        token, csrf = new_token(), new_token()
        await uow.web_sessions.add(token_hash=digest(token), csrf_hash=digest(csrf),
                                   clinician_id=clinician.id, now=now,
                                   expires_at=now + self.limit)
        await uow.audit(at=now, actor=actor_of(clinician), action="web.sign_in",
                        detail=f"workspace session by {how}")
        return NewSession(token=token, csrf_token=csrf, clinician=clinician)

    async def session(self, uow: UnitOfWork, token: str) -> WebSession | None:
        """The live session behind a cookie, its last-seen time moved to now; an idle,
        expired or orphaned one is ended and None returned."""
        found = await uow.web_sessions.by_token(digest(token))
        if found is None:
            return None
        now = self._clock.now()
        if (now >= found.expires_at or now - found.last_seen_at >= self.idle
                or not is_staff(found.clinician)):
            await uow.web_sessions.end(found.id, now)
            return None
        await uow.web_sessions.touch(found.id, now)
        return found

    async def sign_out(self, uow: UnitOfWork, token: str) -> None:
        found = await uow.web_sessions.by_token(digest(token))
        if found is not None:
            now = self._clock.now()
            await uow.web_sessions.end(found.id, now)
            await uow.audit(at=now, actor=actor_of(found.clinician), action="web.sign_out",
                            detail="workspace session ended")


async def end_sessions(uow: UnitOfWork, clinician_id: int, clock: Clock, *, why: str) -> int:
    """End every workspace session of a staff member whose access changed."""
    now = clock.now()
    ended = await uow.web_sessions.end_for(clinician_id, now)
    if ended:
        await uow.audit(at=now, actor="system", action="web.sessions_ended",
                        detail=f"clinician {clinician_id}: {ended} session(s), {why}")
    return ended
