"""The master keyring's administration: which master keys wrap data keys, re-wrapping every
data key under a new primary, and retiring a key nothing uses any more.

Keys stay inside storage/: the command line hands over a keyring it loaded and gets counts
back; no data key leaves this package."""

from __future__ import annotations

from datetime import datetime
from typing import Final, Protocol

from storage.crypto import KeyringError, MasterKeyring
from storage.uow import Store

CLI_ACTOR: Final = "admin:cli"


class Clock(Protocol):
    def now(self) -> datetime: ...


class KeyringService:
    def __init__(self, *, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def in_use(self) -> dict[str, int]:
        """How many data keys each master key id wraps."""
        async with self._store.unit_of_work() as uow:
            return await uow.vault.master_keys_in_use()

    async def rewrap(self, new_ring: MasterKeyring, *, actor: str = CLI_ACTOR) -> int:
        """Re-wrap every data key under new_ring's primary, in one transaction."""
        now = self._clock.now()
        async with self._store.transaction() as uow:
            uow.vault.check_ring_covers(await uow.vault.master_keys_in_use())
            count = await uow.vault.rewrap_all(new_ring)
            await uow.audit(at=now, actor=actor, action="keys.rotate",
                            detail=f"{count} data keys re-wrapped under {new_ring.primary_id}")
        return count

    async def retire(self, key_id: str, *, actor: str = CLI_ACTOR) -> None:
        """Record that a master key leaves the key file; refused while it wraps anything."""
        now = self._clock.now()
        async with self._store.transaction() as uow:
            in_use = (await uow.vault.master_keys_in_use()).get(key_id, 0)
            if in_use:
                raise KeyringError(
                    f"master key {key_id!r} still wraps {in_use} data key(s); run "
                    "'steadfast keys rotate' first")
            await uow.audit(at=now, actor=actor, action="keys.retire",
                            detail=f"master key {key_id} retired")


__all__ = ["KeyringService"]
