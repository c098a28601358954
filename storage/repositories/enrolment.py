"""Invites, wrong-code attempts and the conversation state of a person mid-way."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update

from storage.models import ConversationRow, EnrolmentAttemptRow, InviteRow
from storage.records import Conversation, Invite
from storage.repositories.base import Repository, new_id


class InviteRepository(Repository):
    async def add(self, *, code_hash: str, clinician_id: int, client_id: str, note: str | None,
                  now: datetime, ttl: timedelta) -> Invite:
        invite_id = new_id()
        note_ct = (await self.vault.seal_json(client_id, "invites.note", invite_id, note)
                   if note else None)
        row = InviteRow(id=invite_id, code_hash=code_hash, clinician_id=clinician_id,
                        client_id=client_id, note_ct=note_ct, created_at=now,
                        expires_at=now + ttl)
        self.session.add(row)
        await self.session.flush()
        return self._record(row)

    @staticmethod
    def _record(row: InviteRow) -> Invite:
        return Invite(id=row.id, clinician_id=row.clinician_id, client_id=row.client_id,
                      created_at=row.created_at, expires_at=row.expires_at, used_at=row.used_at)

    async def by_code_hash(self, code_hash: str, *, lock: bool = False) -> Invite | None:
        query = select(InviteRow).where(InviteRow.code_hash == code_hash)
        if lock:
            query = query.with_for_update()
        row = await self.session.scalar(query)
        return self._record(row) if row else None

    async def get(self, invite_id: str) -> Invite | None:
        row = await self.session.get(InviteRow, invite_id)
        return self._record(row) if row else None

    async def note(self, invite: Invite) -> str | None:
        row = await self.session.get(InviteRow, invite.id)
        if row is None or row.note_ct is None:
            return None
        value = await self.vault.open_json(invite.client_id, "invites.note", invite.id, row.note_ct)
        return str(value)

    async def mark_used(self, invite_id: str, now: datetime) -> bool:
        result = await self.session.execute(
            update(InviteRow).where(InviteRow.id == invite_id, InviteRow.used_at.is_(None))
            .values(used_at=now))
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def record_failure(self, telegram_id: int, now: datetime) -> int:
        """Record a wrong code and return how many this account made in the last hour."""
        self.session.add(EnrolmentAttemptRow(
            telegram_index=await self.vault.telegram_index(telegram_id), at=now))
        await self.session.flush()
        return await self.failures(telegram_id, now)

    async def failures(self, telegram_id: int, now: datetime) -> int:
        """Wrong codes from this account in the hour up to `now`."""
        since = now - timedelta(hours=1)
        await self.session.execute(
            delete(EnrolmentAttemptRow).where(EnrolmentAttemptRow.at < now - timedelta(hours=3)))
        return int(await self.session.scalar(
            select(func.count()).select_from(EnrolmentAttemptRow)
            .where(EnrolmentAttemptRow.telegram_index
                   == await self.vault.telegram_index(telegram_id),
                   EnrolmentAttemptRow.at >= since, EnrolmentAttemptRow.at <= now)) or 0)

    async def last_failure(self, telegram_id: int) -> datetime | None:
        return await self.session.scalar(
            select(func.max(EnrolmentAttemptRow.at))
            .where(EnrolmentAttemptRow.telegram_index
                   == await self.vault.telegram_index(telegram_id)))


class ConversationRepository(Repository):
    """Kept by the person's keyed index: which Telegram account is mid-enrolment (and so
    holds an invite) must not show in the table."""

    async def get(self, telegram_id: int) -> Conversation | None:
        row = await self.session.get(ConversationRow, await self.vault.telegram_index(telegram_id))
        if row is None:
            return None
        return Conversation(telegram_id=telegram_id, state=row.state,
                            data=json.loads(row.data), updated_at=row.updated_at)

    async def set(self, telegram_id: int, state: str, data: dict[str, Any], now: datetime) -> None:
        index = await self.vault.telegram_index(telegram_id)
        row = await self.session.get(ConversationRow, index)
        if row is None:
            self.session.add(ConversationRow(telegram_index=index, state=state,
                                             data=json.dumps(data), updated_at=now))
        else:
            row.state, row.data, row.updated_at = state, json.dumps(data), now
        await self.session.flush()

    async def clear(self, telegram_id: int) -> None:
        await self.session.execute(
            delete(ConversationRow).where(
                ConversationRow.telegram_index == await self.vault.telegram_index(telegram_id)))
