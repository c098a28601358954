"""The parts of the composition root that do not need aiogram: keys and the store."""

from __future__ import annotations

from bot.settings import Settings
from storage.crypto import MasterKeyring
from storage.uow import Store


def load_keyring(settings: Settings) -> MasterKeyring:
    """STEADFAST_MASTER_KEYS wins over the key file when both are present."""
    if settings.master_keys is not None and settings.master_keys.get_secret_value().strip():
        return MasterKeyring.parse(settings.master_keys.get_secret_value())
    return MasterKeyring.load_file(settings.master_key_file)


def open_store(settings: Settings, ring: MasterKeyring | None = None) -> Store:
    return Store.open(settings.database_url, ring or load_keyring(settings))
