"""The unit of work's key cabinet: creates, unwraps, re-wraps and destroys data keys."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.crypto import (
    DataKey,
    KeyErasedError,
    KeyringError,
    MasterKeyring,
    new_data_key,
    open_sealed,
    seal,
    unwrap_key,
    wrap_key,
)
from storage.models import ClientKeyRow, SystemKeyRow


class Vault:
    """Data keys for one unit of work; unwrapped keys live only as long as it does."""

    def __init__(self, session: AsyncSession, ring: MasterKeyring) -> None:
        self._session = session
        self._ring = ring
        self._cache: dict[str, DataKey] = {}

    # -- client keys ---------------------------------------------------------------------
    async def create_client_key(self, client_id: str, now: datetime) -> DataKey:
        key = new_data_key()
        master_id, wrapped = wrap_key(self._ring, key.secret, _owner(client_id, key.id))
        self._session.add(
            ClientKeyRow(
                id=key.id, client_id=client_id, master_key_id=master_id, wrapped=wrapped,
                created_at=now,
            )
        )
        self._cache[client_id] = key
        return key

    async def client_key(self, client_id: str) -> DataKey:
        if client_id in self._cache:
            return self._cache[client_id]
        row = await self._session.scalar(
            select(ClientKeyRow).where(ClientKeyRow.client_id == client_id)
        )
        if row is None or row.wrapped is None or row.master_key_id is None:
            raise KeyErasedError(f"the data key of client {client_id} was erased")
        secret = unwrap_key(self._ring, row.master_key_id, row.wrapped, _owner(client_id, row.id))
        key = DataKey(id=row.id, secret=secret)
        self._cache[client_id] = key
        return key

    async def destroy_client_key(self, client_id: str, now: datetime) -> bool:
        self._cache.pop(client_id, None)
        result = await self._session.execute(
            update(ClientKeyRow)
            .where(ClientKeyRow.client_id == client_id, ClientKeyRow.wrapped.is_not(None))
            .values(wrapped=None, master_key_id=None, destroyed_at=now)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    # -- system keys ---------------------------------------------------------------------
    async def system_key(self, name: str, now: datetime) -> DataKey:
        cache_name = "system:" + name
        if cache_name in self._cache:
            return self._cache[cache_name]
        row = await self._session.get(SystemKeyRow, name)
        if row is None:
            key = new_data_key()
            master_id, wrapped = wrap_key(self._ring, key.secret, cache_name + "|" + key.id)
            self._session.add(
                SystemKeyRow(name=name, id=key.id, master_key_id=master_id, wrapped=wrapped,
                             created_at=now)
            )
            await self._session.flush()
        else:
            secret = unwrap_key(self._ring, row.master_key_id, row.wrapped, cache_name + "|" + row.id)
            key = DataKey(id=row.id, secret=secret)
        self._cache[cache_name] = key
        return key

    # -- rotation --------------------------------------------------------------------------
    async def master_keys_in_use(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for model in (ClientKeyRow, SystemKeyRow):
            rows = await self._session.execute(
                select(model.master_key_id, func.count())
                .where(model.master_key_id.is_not(None))
                .group_by(model.master_key_id)
            )
            for master_id, count in rows:
                if master_id is not None:
                    counts[master_id] = counts.get(master_id, 0) + count
        return counts

    async def rewrap_all(self, new_ring: MasterKeyring) -> int:
        """Re-wrap every live data key under new_ring's primary. Records are untouched."""
        count = 0
        for row in await self._session.scalars(
            select(ClientKeyRow).where(ClientKeyRow.wrapped.is_not(None)).with_for_update()
        ):
            assert row.wrapped is not None and row.master_key_id is not None
            owner = _owner(row.client_id, row.id)
            secret = unwrap_key(self._ring, row.master_key_id, row.wrapped, owner)
            row.master_key_id, row.wrapped = wrap_key(new_ring, secret, owner)
            count += 1
        for srow in await self._session.scalars(select(SystemKeyRow).with_for_update()):
            owner = "system:" + srow.name + "|" + srow.id
            secret = unwrap_key(self._ring, srow.master_key_id, srow.wrapped, owner)
            srow.master_key_id, srow.wrapped = wrap_key(new_ring, secret, owner)
            count += 1
        await self._session.flush()
        self._ring = new_ring
        return count

    def check_ring_covers(self, in_use: dict[str, int]) -> None:
        missing = sorted(set(in_use) - set(self._ring.ids))
        if missing:
            raise KeyringError(
                "master key(s) " + ", ".join(missing) + " are still in use but not configured"
            )

    # -- sealing helpers -------------------------------------------------------------------
    async def seal_json(self, client_id: str, place: str, row_id: str, value: Any) -> bytes:
        key = await self.client_key(client_id)
        data = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
        return seal(key, data, place=place, row_id=row_id, owner=client_id)

    async def open_json(self, client_id: str, place: str, row_id: str, blob: bytes) -> Any:
        key = await self.client_key(client_id)
        return json.loads(open_sealed(key, blob, place=place, row_id=row_id, owner=client_id))

    async def seal_system_json(self, name: str, place: str, row_id: str, value: Any,
                               now: datetime) -> bytes:
        key = await self.system_key(name, now)
        data = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
        return seal(key, data, place=place, row_id=row_id, owner="system:" + name)

    async def open_system_json(self, name: str, place: str, row_id: str, blob: bytes,
                               now: datetime) -> Any:
        key = await self.system_key(name, now)
        return json.loads(open_sealed(key, blob, place=place, row_id=row_id, owner="system:" + name))


def _owner(client_id: str, key_id: str) -> str:
    return f"client:{client_id}|{key_id}"
