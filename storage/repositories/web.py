"""Workspace sign-in links and sessions: only SHA-256 digests of their tokens are stored, so
a copy of the database opens no session; every instance reads the same rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import delete, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from storage.models import ClinicianRow, WebInitDataRow, WebSessionRow, WebSignInRow
from storage.records import Clinician
from storage.repositories.base import Repository, _clinician, new_id


@dataclass(frozen=True, slots=True)
class WebSession:
    id: str
    clinician: Clinician
    csrf_hash: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime


class WebSignInRepository(Repository):
    async def add(self, *, token_hash: str, clinician_id: int, now: datetime,
                  expires_at: datetime) -> str:
        row = WebSignInRow(id=new_id(), token_hash=token_hash, clinician_id=clinician_id,
                           created_at=now, expires_at=expires_at)
        self.session.add(row)
        await self.session.flush()
        return row.id

    async def use(self, token_hash: str, now: datetime) -> int | None:
        """Mark the link used and return its clinician's id; None when it is unknown, used
        or expired. One UPDATE, so two requests racing for a link cannot both win."""
        result = await self.session.execute(
            update(WebSignInRow)
            .where(WebSignInRow.token_hash == token_hash, WebSignInRow.used_at.is_(None),
                   WebSignInRow.expires_at > now)
            .values(used_at=now)
            .returning(WebSignInRow.clinician_id))
        return result.scalar_one_or_none()

    async def why_unusable(self, token_hash: str,
                           now: datetime) -> Literal["unknown", "used", "expired"]:
        """Why `use` found no link to use (for the log and metrics, after a refusal)."""
        found = (await self.session.execute(
            select(WebSignInRow.used_at, WebSignInRow.expires_at)
            .where(WebSignInRow.token_hash == token_hash))).first()
        if found is None:
            return "unknown"
        return "used" if found.used_at is not None else "expired"

    async def pending(self, token_hash: str, now: datetime) -> tuple[bool, str | None]:
        """Whether the link can still be used, and its owner's own language (its
        confirmation page speaks it)."""
        found = (await self.session.execute(
            select(WebSignInRow.id, ClinicianRow.language)
            .join(ClinicianRow, ClinicianRow.id == WebSignInRow.clinician_id)
            .where(WebSignInRow.token_hash == token_hash, WebSignInRow.used_at.is_(None),
                   WebSignInRow.expires_at > now))).first()
        return (True, found.language) if found is not None else (False, None)

    async def purge(self, before: datetime) -> int:
        """Forget links that expired before `before` (used or not); how many."""
        result = await self.session.execute(
            delete(WebSignInRow).where(WebSignInRow.expires_at < before))
        return int(getattr(result, "rowcount", 0) or 0)


class WebSessionRepository(Repository):
    async def add(self, *, token_hash: str, csrf_hash: str, clinician_id: int, now: datetime,
                  expires_at: datetime) -> str:
        row = WebSessionRow(id=new_id(), token_hash=token_hash, csrf_hash=csrf_hash,
                            clinician_id=clinician_id, created_at=now, last_seen_at=now,
                            expires_at=expires_at)
        self.session.add(row)
        await self.session.flush()
        return row.id

    async def by_token(self, token_hash: str) -> WebSession | None:
        """The session not yet ended, with its staff member (active or not: the caller
        decides), or None."""
        found = (await self.session.execute(
            select(WebSessionRow, ClinicianRow)
            .join(ClinicianRow, ClinicianRow.id == WebSessionRow.clinician_id)
            .where(WebSessionRow.token_hash == token_hash, WebSessionRow.ended_at.is_(None))
        )).first()
        if found is None:
            return None
        row, person = found
        return WebSession(id=row.id, clinician=_clinician(person), csrf_hash=row.csrf_hash,
                          created_at=row.created_at, last_seen_at=row.last_seen_at,
                          expires_at=row.expires_at)

    async def owner(self, token_hash: str) -> Clinician | None:
        """The staff member whose session this was, ended or not; None when unknown."""
        found = (await self.session.execute(
            select(ClinicianRow).join(WebSessionRow, WebSessionRow.clinician_id == ClinicianRow.id)
            .where(WebSessionRow.token_hash == token_hash))).scalar_one_or_none()
        return _clinician(found) if found is not None else None

    async def touch(self, session_id: str, now: datetime) -> None:
        await self.session.execute(update(WebSessionRow).where(WebSessionRow.id == session_id)
                                   .values(last_seen_at=now))

    async def end(self, session_id: str, now: datetime) -> None:
        await self.session.execute(
            update(WebSessionRow).where(WebSessionRow.id == session_id,
                                        WebSessionRow.ended_at.is_(None)).values(ended_at=now))

    async def end_for(self, clinician_id: int, now: datetime) -> int:
        """End every open session of this staff member; how many were open."""
        result = await self.session.execute(
            update(WebSessionRow).where(WebSessionRow.clinician_id == clinician_id,
                                        WebSessionRow.ended_at.is_(None)).values(ended_at=now))
        return int(getattr(result, "rowcount", 0) or 0)

    async def purge(self, before: datetime) -> int:
        """Forget sessions that ended, or reached their absolute limit, before `before`."""
        result = await self.session.execute(
            delete(WebSessionRow).where(or_(WebSessionRow.expires_at < before,
                                            WebSessionRow.ended_at < before)))
        return int(getattr(result, "rowcount", 0) or 0)


class WebInitDataRepository(Repository):
    """Mini App initData already used, by its signature's digest, until it expires."""

    async def claim(self, hash_digest: str, *, expires_at: datetime, now: datetime) -> bool:
        """Remember this initData as used; False when it was used before. One INSERT that
        does nothing on a known digest, so two instances racing with the same copy cannot
        both win (the second waits for the first's transaction, then finds the row). Rows
        past their expiry go first: such initData is refused as too old anyway."""
        await self.session.execute(
            delete(WebInitDataRow).where(WebInitDataRow.expires_at < now))
        postgres = self.session.get_bind().dialect.name == "postgresql"
        insert: Any = pg_insert if postgres else sqlite_insert
        result = await self.session.execute(
            insert(WebInitDataRow.__table__)
            .values(hash_digest=hash_digest, expires_at=expires_at)
            .on_conflict_do_nothing(index_elements=["hash_digest"]))
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def purge(self, before: datetime) -> int:
        result = await self.session.execute(
            delete(WebInitDataRow).where(WebInitDataRow.expires_at < before))
        return int(getattr(result, "rowcount", 0) or 0)
