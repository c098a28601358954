"""Who may use the workspace pages: one-time sign-in links, Mini App sign-in, sessions.

No passwords. A link is a 192-bit random token, kept as its SHA-256 only, valid five
minutes and once, bound to the staff member it was made for. A session is another random
token in an HttpOnly cookie, kept hashed too, with its CSRF token's hash beside it; it ends
after an idle time, at an absolute limit, on sign-out, and when its owner stops being
active staff (journal/administration.py ends them; every request checks again anyway).

Guessing is noticed: every refused sign-in has a reason from REFUSALS (logged and counted
by the workspace, never with the token or initData), a SignInThrottle answers "wait" to an
address, or to everyone, past a budget of failures a minute, and a Mini App's initData
signs in once (its signature's digest is kept until the initData expires)."""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from collections import OrderedDict, deque
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from ipaddress import ip_address, ip_network
from typing import Final, Literal, get_args

from journal.clock import Clock
from journal.people import actor_of
from storage.records import Clinician
from storage.repositories.web import WebSession
from storage.uow import UnitOfWork

LINK_TTL: Final = timedelta(minutes=5)
TOKEN_BYTES: Final = 24  # 192 bits
STAFF_ROLES: Final = ("clinician", "supervisor")
# Who may hold a session: staff, and supervising officers, whose pages are their own
# (web/auth.py: every other page answers them as an unknown one).
WORKSPACE_ROLES: Final = (*STAFF_ROLES, "officer")
INIT_DATA_MAX_AGE: Final = timedelta(minutes=5)

# Why a sign-in was refused: the one list, so a metric's label takes these values only.
Refusal = Literal["unknown_token", "expired_token", "used_token", "bad_init_data",
                  "stale_init_data", "replayed_init_data", "not_staff", "cross_site",
                  "throttled"]
REFUSALS: Final[tuple[Refusal, ...]] = get_args(Refusal)


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
    return clinician is not None and clinician.active and clinician.role in WORKSPACE_ROLES


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

    async def link_refusal(self, uow: UnitOfWork, token: str) -> Refusal:
        """Why a link that is not pending cannot be used (for the log and metrics)."""
        why = await uow.web_sign_ins.why_unusable(digest(token), self._clock.now())
        return "used_token" if why == "used" else (
            "expired_token" if why == "expired" else "unknown_token")

    async def use_link(self, uow: UnitOfWork, token: str) -> NewSession | Refusal:
        """A session for the link's owner, or why not: the link is unknown, used or
        expired, or its owner is no longer active staff."""
        now = self._clock.now()
        clinician_id = await uow.web_sign_ins.use(digest(token), now)
        if clinician_id is None:
            return await self.link_refusal(uow, token)
        clinician = await uow.clinicians.get(clinician_id)
        if clinician is None or not is_staff(clinician):
            return "not_staff"
        return await self._start(uow, clinician, "link")

    async def use_init_data(self, uow: UnitOfWork, *, telegram_id: int, signature: str,
                            signed_at: datetime) -> NewSession | Refusal:
        """A session for the staff member a Mini App's initData names (its signature
        already checked by the caller), once: the same initData again is a replay, on any
        instance, until it expires (and is refused as too old from then on)."""
        now = self._clock.now()
        if not now - INIT_DATA_MAX_AGE <= signed_at <= now + timedelta(minutes=1):
            return "stale_init_data"
        if not await uow.web_init_data.claim(digest(signature), now=now,
                                             expires_at=signed_at + INIT_DATA_MAX_AGE):
            return "replayed_init_data"
        return await self.use_telegram(uow, telegram_id) or "not_staff"

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
        """The live session behind a cookie, its last-seen time moved to now (as is the
        one returned); an idle, expired or orphaned one is ended and None returned."""
        found = await uow.web_sessions.by_token(digest(token))
        if found is None:
            return None
        now = self._clock.now()
        if (now >= found.expires_at or now - found.last_seen_at >= self.idle
                or not is_staff(found.clinician)):
            await uow.web_sessions.end(found.id, now)
            return None
        await uow.web_sessions.touch(found.id, now)
        return replace(found, last_seen_at=now)

    def ends_at(self, session: WebSession) -> datetime:
        """When this session ends if nothing touches it again: its idle end, or its
        absolute limit if that comes first."""
        return min(session.last_seen_at + self.idle, session.expires_at)

    async def owner(self, uow: UnitOfWork, token: str) -> Clinician | None:
        """Whose session a cookie named, ended or not (its page speaks their language),
        or None once the row is gone."""
        return await uow.web_sessions.owner(digest(token))

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


@dataclass(slots=True)
class _Failures:
    at: deque[datetime]
    told_until: datetime | None = None  # throttled and logged as such until then


@dataclass(frozen=True, slots=True)
class Throttled:
    """A refusal before any token is looked at: wait `retry_after` seconds. `first` is
    true once per throttled spell, so a flood is logged in one line, not one a request."""

    retry_after: int
    scope: Literal["address", "overall"]
    first: bool


@dataclass
class SignInThrottle:
    """Failed sign-ins over the last `window`, per source address and in all, kept in
    this process.

    Past `per_address` failures from one address that address waits; past `overall`
    failures from everyone, everyone waits (a spread-out guesser), until the oldest
    failure leaves the window. A success is never refused for other addresses' failures
    below the overall budget. Refusals while waiting do not count, so waiting ends.

    The counts are per instance, not a shared table: a 192-bit token is not guessed at
    any rate, so the budget is there to notice guessing and keep a flood off the
    database, and a shared count would turn every refused guess into a database write,
    the very load it should spare. With N instances behind the proxy a guesser gets at
    most N times the budget; divide the settings by N to hold the total."""

    clock: Clock
    per_address: int = 10
    overall: int = 100
    window: timedelta = timedelta(minutes=1)
    addresses: int = 10_000  # the most addresses remembered; the stalest are dropped
    _by_address: OrderedDict[str, _Failures] = field(default_factory=OrderedDict)
    _all: deque[datetime] = field(default_factory=deque)
    _all_told_until: datetime | None = None

    def check(self, address: str) -> Throttled | None:
        """None when this address may try now; else how long to wait."""
        address = _budget_key(address)
        now = self.clock.now()
        since = now - self.window
        while self._all and self._all[0] <= since:
            self._all.popleft()
        if len(self._all) >= self.overall:
            until = self._all[-self.overall] + self.window
            first = self._all_told_until is None or self._all_told_until <= now
            self._all_told_until = until
            return Throttled(_seconds(until - now), "overall", first)
        found = self._by_address.get(address)
        if found is None:
            return None
        while found.at and found.at[0] <= since:
            found.at.popleft()
        if len(found.at) < self.per_address:
            if not found.at:
                del self._by_address[address]
            return None
        until = found.at[-self.per_address] + self.window
        first = found.told_until is None or found.told_until <= now
        found.told_until = until
        return Throttled(_seconds(until - now), "address", first)

    def failed(self, address: str) -> None:
        address = _budget_key(address)
        now = self.clock.now()
        self._all.append(now)
        while len(self._all) > self.overall:
            self._all.popleft()
        found = self._by_address.pop(address, None) or _Failures(deque())
        found.at.append(now)
        while len(found.at) > self.per_address:
            found.at.popleft()
        self._by_address[address] = found  # the most recent last
        while len(self._by_address) > self.addresses:
            self._by_address.popitem(last=False)


def _budget_key(address: str) -> str:
    """An IPv6 address's budget is its /64's: one subscriber usually holds a whole /64,
    so counting single addresses would give them 2**64 budgets."""
    try:
        found = ip_address(address)
    except ValueError:
        return address
    if found.version == 6:
        return str(ip_network(f"{found}/64", strict=False))
    return address


def _seconds(wait: timedelta) -> int:
    return max(1, math.ceil(wait.total_seconds()))
