"""The system keys a data migration needs (one that seals or opens values already stored),
read from the master keys `steadfast db upgrade` hands Alembic, or made when missing."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import context

from storage.crypto import (
    DataKey,
    KeyringError,
    MasterKeyring,
    keyed_index,
    new_data_key,
    open_sealed,
    seal,
    unwrap_key,
    wrap_key,
)

system_keys = sa.table("system_keys", sa.column("name", sa.String()),
                       sa.column("id", sa.String()), sa.column("master_key_id", sa.String()),
                       sa.column("wrapped", sa.LargeBinary()),
                       sa.column("created_at", sa.DateTime(timezone=True)))
client_keys = sa.table("client_keys", sa.column("id", sa.String()),
                       sa.column("client_id", sa.String()),
                       sa.column("master_key_id", sa.String()),
                       sa.column("wrapped", sa.LargeBinary()))


class MigrationKeys:
    """The system keys this migration needs, read (or made) once the first row needs one."""

    def __init__(self, bind: sa.engine.Connection, *, needs: str) -> None:
        self._bind = bind
        self._needs = needs  # what the migration does with them, for the refusal
        self._keys: dict[str, DataKey] = {}

    def _ring(self) -> MasterKeyring:
        ring = context.config.attributes.get("keyring")
        if ring is None:
            raise KeyringError(
                f"this migration {self._needs}, which needs "
                "the master keys: run 'steadfast db upgrade' with STEADFAST_MASTER_KEY_FILE "
                "or STEADFAST_MASTER_KEYS set")
        assert isinstance(ring, MasterKeyring)
        return ring

    def key(self, name: str) -> DataKey:
        if name in self._keys:
            return self._keys[name]
        ring = self._ring()
        owner = "system:" + name
        row = self._bind.execute(sa.select(system_keys.c.id, system_keys.c.master_key_id,
                                           system_keys.c.wrapped)
                                 .where(system_keys.c.name == name)).first()
        if row is not None:
            key = DataKey(id=row.id, secret=unwrap_key(ring, row.master_key_id, row.wrapped,
                                                       owner + "|" + row.id))
        else:
            key = new_data_key()
            master_id, wrapped = wrap_key(ring, key.secret, owner + "|" + key.id)
            self._bind.execute(system_keys.insert().values(
                name=name, id=key.id, master_key_id=master_id, wrapped=wrapped,
                created_at=datetime.now(UTC)))
        self._keys[name] = key
        return key

    def index(self, telegram_id: int) -> bytes:
        return keyed_index(self.key("index"), "telegram", telegram_id)

    def seal(self, name: str, place: str, row_id: str, value: Any) -> bytes:
        data = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
        return seal(self.key(name), data, place=place, row_id=row_id, owner="system:" + name)

    def open(self, name: str, place: str, row_id: str, blob: bytes) -> Any:
        return json.loads(open_sealed(self.key(name), blob, place=place, row_id=row_id,
                                      owner="system:" + name))

    def client_key(self, client_id: str) -> DataKey | None:
        """A client's data key; None once erased (what it sealed is unreadable for good)."""
        cache_name = "client:" + client_id
        if cache_name in self._keys:
            return self._keys[cache_name]
        row = self._bind.execute(sa.select(client_keys.c.id, client_keys.c.master_key_id,
                                           client_keys.c.wrapped)
                                 .where(client_keys.c.client_id == client_id)).first()
        if row is None or row.wrapped is None or row.master_key_id is None:
            return None
        key = DataKey(id=row.id, secret=unwrap_key(
            self._ring(), row.master_key_id, row.wrapped, f"client:{client_id}|{row.id}"))
        self._keys[cache_name] = key
        return key

    def seal_for(self, key: DataKey, client_id: str, place: str, row_id: str,
                 value: Any) -> bytes:
        data = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
        return seal(key, data, place=place, row_id=row_id, owner=client_id)

    def open_for(self, key: DataKey, client_id: str, place: str, row_id: str,
                 blob: bytes) -> Any:
        return json.loads(open_sealed(key, blob, place=place, row_id=row_id, owner=client_id))

    def keyed(self, kind: str, value: int | str) -> bytes:
        return keyed_index(self.key("index"), kind, value)
