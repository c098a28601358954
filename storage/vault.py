"""The unit of work's key cabinet: creates, unwraps, re-wraps and destroys data keys."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.crypto import (
    DataKey,
    DecryptionError,
    KeyErasedError,
    KeyMismatchError,
    KeyringError,
    MasterKeyring,
    keyed_index,
    new_data_key,
    open_sealed,
    seal,
    unwrap_key,
    wrap_key,
)
from storage.models import ClientKeyRow, SystemKeyRow

INDEX_KEY: Final = "index"
"""The system key of the keyed indexes (HMAC-SHA256) a Telegram id is looked up by."""
PEOPLE_KEY: Final = "people"
"""The system key that seals what says who is in the program and how they are doing but
that no query needs in plaintext: a client's Telegram id, a day's and an alert's risk level."""


class Vault:
    """Data keys for one unit of work; unwrapped keys live only as long as it does."""

    def __init__(self, session: AsyncSession, ring: MasterKeyring, *,
                 refresh: Callable[[], MasterKeyring] | None = None,
                 shared: dict[str, DataKey] | None = None,
                 make_apart: Callable[[str, datetime], Awaitable[None]] | None = None) -> None:
        """`shared`: system keys the store's earlier units of work read (a system key never
        changes once committed: rotation re-wraps it, nothing destroys it), so a press looks
        a person up by their keyed index without reading the key again. `make_apart`
        (PostgreSQL): makes a missing system key in a short transaction of its own, so
        the first update ever to need the index does not hold every other one behind its
        uncommitted key until it ends."""
        self._session = session
        self._ring = ring
        self._refresh = refresh
        self._cache: dict[str, DataKey] = {}
        self._shared = shared if shared is not None else {}
        self._make_apart = make_apart
        self._indexes: dict[int, bytes] = {}
        # Client keys read with other rows (UnitOfWork.person), unwrapped on first use.
        self._wrapped: dict[str, tuple[str, str | None, bytes | None]] = {}

    def _unwrap(self, master_id: str, wrapped: bytes, owner: str) -> bytes:
        """Unwrap a data key; a master key id this process does not know yet (the keys
        were rotated while it runs) makes the store read the keys once more."""
        if master_id not in self._ring and self._refresh is not None:
            self._ring = self._refresh()
        return unwrap_key(self._ring, master_id, wrapped, owner)

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

    def known_client_key(self, client_id: str, key_id: str, master_id: str | None,
                         wrapped: bytes | None) -> None:
        """The client's key row, read in this transaction along with other rows: it is
        unwrapped if and when something of theirs is sealed or opened, not read again."""
        if client_id not in self._cache:
            self._wrapped[client_id] = (key_id, master_id, wrapped)

    async def client_key(self, client_id: str) -> DataKey:
        if client_id in self._cache:
            return self._cache[client_id]
        known = self._wrapped.pop(client_id, None)
        if known is None:
            row = await self._session.scalar(
                select(ClientKeyRow).where(ClientKeyRow.client_id == client_id)
            )
            if row is not None:
                known = (row.id, row.master_key_id, row.wrapped)
        key_id, master_id, wrapped = known if known is not None else ("", None, None)
        if master_id is None or wrapped is None:
            raise KeyErasedError(f"the data key of client {client_id} was erased")
        secret = self._unwrap(master_id, wrapped, _owner(client_id, key_id))
        key = DataKey(id=key_id, secret=secret)
        self._cache[client_id] = key
        return key

    async def destroy_client_key(self, client_id: str, now: datetime) -> bool:
        self._cache.pop(client_id, None)
        self._wrapped.pop(client_id, None)
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
        if cache_name in self._shared:
            self._cache[cache_name] = self._shared[cache_name]
            return self._shared[cache_name]
        row = await self._session.get(SystemKeyRow, name)
        if row is None and self._make_apart is not None:
            await self._make_apart(name, now)
            row = await self._session.get(SystemKeyRow, name, populate_existing=True)
        if row is None:
            key = new_data_key()
            master_id, wrapped = wrap_key(self._ring, key.secret, cache_name + "|" + key.id)
            try:
                async with self._session.begin_nested():
                    self._session.add(
                        SystemKeyRow(name=name, id=key.id, master_key_id=master_id,
                                     wrapped=wrapped, created_at=now)
                    )
                    await self._session.flush()
            except IntegrityError:
                # Another instance made this key in the same moment (a new database with
                # several instances): theirs is the key, and this transaction goes on.
                row = await self._session.get(SystemKeyRow, name, populate_existing=True)
                if row is None:
                    raise
        if row is not None:
            secret = self._unwrap(row.master_key_id, row.wrapped, cache_name + "|" + row.id)
            key = DataKey(id=row.id, secret=secret)
            # Committed by an earlier transaction: the same for the store's life. A key made
            # here is shared only once another transaction reads it (this one may roll back).
            self._shared[cache_name] = key
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
            secret = self._unwrap(row.master_key_id, row.wrapped, owner)
            row.master_key_id, row.wrapped = wrap_key(new_ring, secret, owner)
            count += 1
        for srow in await self._session.scalars(select(SystemKeyRow).with_for_update()):
            owner = "system:" + srow.name + "|" + srow.id
            secret = self._unwrap(srow.master_key_id, srow.wrapped, owner)
            srow.master_key_id, srow.wrapped = wrap_key(new_ring, secret, owner)
            count += 1
        await self._session.flush()
        self._ring = new_ring
        return count

    async def check_opens(self) -> None:
        """Every system data key and one client data key per master key id open with the
        loaded keys; raises KeyMismatchError naming the first master key that does not."""
        for srow in await self._session.scalars(select(SystemKeyRow).order_by(SystemKeyRow.name)):
            self._check_one(srow.master_key_id, srow.wrapped,
                            "system:" + srow.name + "|" + srow.id)
        first = (select(ClientKeyRow.master_key_id, func.min(ClientKeyRow.id))
                 .where(ClientKeyRow.wrapped.is_not(None)).group_by(ClientKeyRow.master_key_id))
        for master_id, key_id in (await self._session.execute(first)).all():
            row = await self._session.get(ClientKeyRow, key_id)
            assert row is not None and row.wrapped is not None and master_id is not None
            self._check_one(master_id, row.wrapped, _owner(row.client_id, row.id))

    def _check_one(self, master_id: str, wrapped: bytes, owner: str) -> None:
        if master_id not in self._ring:
            raise KeyMismatchError(master_id, missing=True)
        try:
            unwrap_key(self._ring, master_id, wrapped, owner)
        except DecryptionError:
            raise KeyMismatchError(master_id, missing=False) from None

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


    # -- a person's identity and risk levels ------------------------------------------------
    async def telegram_index(self, telegram_id: int) -> bytes:
        """The keyed index a Telegram id is stored and looked up by (clients, staff,
        conversations, wrong invite codes, outbox rows)."""
        index = self._indexes.get(telegram_id)
        if index is None:
            key = await self.system_key(INDEX_KEY, datetime.now(UTC))
            index = self._indexes[telegram_id] = keyed_index(key, "telegram", telegram_id)
        return index

    async def client_index(self, client_id: str) -> bytes:
        """The keyed index an audit event names its client by."""
        key = await self.system_key(INDEX_KEY, datetime.now(UTC))
        return keyed_index(key, "client", client_id)

    async def seal_person(self, place: str, row_id: str, value: Any) -> bytes:
        """Seal a Telegram id or a risk level under the program's people key."""
        return await self.seal_system_json(PEOPLE_KEY, place, row_id, value, datetime.now(UTC))

    async def open_person(self, place: str, row_id: str, blob: bytes) -> Any:
        return await self.open_system_json(PEOPLE_KEY, place, row_id, blob, datetime.now(UTC))


def new_system_key_row(ring: MasterKeyring, name: str, now: datetime) -> dict[str, Any]:
    """A fresh system key's row, wrapped under the ring's primary."""
    key = new_data_key()
    master_id, wrapped = wrap_key(ring, key.secret, "system:" + name + "|" + key.id)
    return {"name": name, "id": key.id, "master_key_id": master_id, "wrapped": wrapped,
            "created_at": now}


def _owner(client_id: str, key_id: str) -> str:
    return f"client:{client_id}|{key_id}"
