"""Envelope encryption: master keys wrap per-client data keys; AES-256-GCM seals records."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_BYTES = 32
NONCE_BYTES = 12
_FORMAT_V1 = b"\x01"
_KEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


class CryptoError(Exception):
    """Base of every encryption failure. Messages name places, never contents or keys."""


class KeyringError(CryptoError):
    """The master keys are missing, malformed or inconsistent."""


class KeyMismatchError(KeyringError):
    """The loaded master keys do not open the data keys the database holds."""

    def __init__(self, master_id: str, *, missing: bool) -> None:
        self.master_id = master_id
        self.missing = missing
        super().__init__(f"master key {master_id!r} is not among the loaded keys" if missing
                         else f"master key {master_id!r} does not open the database's data keys")


class DecryptionError(CryptoError):
    """A sealed value cannot be opened: wrong row, wrong client, tampered, or key erased."""


class KeyErasedError(DecryptionError):
    """The client's data key was destroyed: their records are unreadable by design."""


@dataclass(frozen=True, slots=True)
class DataKey:
    """A 256-bit data key with the id that binds ciphertexts to it."""

    id: str
    secret: bytes

    def __repr__(self) -> str:  # never show the secret
        return f"DataKey(id={self.id!r})"


class MasterKeyring:
    """Master keys by id; the first one is primary and wraps every new data key."""

    def __init__(self, keys: Mapping[str, bytes]) -> None:
        if not keys:
            raise KeyringError("no master key is configured")
        for key_id, key in keys.items():
            if not _KEY_ID.match(key_id):
                raise KeyringError(f"master key id {key_id!r} must be 1-32 letters, digits, - or _")
            if len(key) != KEY_BYTES:
                raise KeyringError(f"master key {key_id!r} must be {KEY_BYTES} bytes")
        self._keys = dict(keys)

    def __repr__(self) -> str:
        return f"MasterKeyring(ids={self.ids})"

    @property
    def primary_id(self) -> str:
        return next(iter(self._keys))

    @property
    def ids(self) -> list[str]:
        return list(self._keys)

    def __contains__(self, key_id: object) -> bool:
        return key_id in self._keys

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def key(self, key_id: str) -> bytes:
        try:
            return self._keys[key_id]
        except KeyError:
            raise KeyringError(
                f"master key {key_id!r} is not configured; it is still needed to unwrap data keys"
            ) from None

    # -- text form: one "id:base64" per line or comma, first is primary ------------------
    @classmethod
    def parse(cls, text: str) -> MasterKeyring:
        keys: dict[str, bytes] = {}
        lines = [line for line in text.splitlines() if not line.strip().startswith("#")]
        for raw in ",".join(lines).split(","):
            entry = raw.strip()
            if not entry:
                continue
            key_id, sep, encoded = entry.partition(":")
            if not sep:
                raise KeyringError("each master key must be written as id:base64")
            try:
                key = base64.b64decode(encoded.strip(), validate=True)
            except (binascii.Error, ValueError):
                raise KeyringError(f"master key {key_id.strip()!r} is not valid base64") from None
            if key_id.strip() in keys:
                raise KeyringError(f"master key id {key_id.strip()!r} appears twice")
            keys[key_id.strip()] = key
        return cls(keys)

    def dump(self) -> str:
        lines = ["# Steadfast master keys: id:base64, the first is primary. Keep secret."]
        lines += [f"{kid}:{base64.b64encode(key).decode()}" for kid, key in self._keys.items()]
        return "\n".join(lines) + "\n"

    def with_new_primary(self) -> MasterKeyring:
        """A keyring with a fresh primary key in front of every existing one."""
        key_id = new_key_id()
        while key_id in self._keys:
            key_id = new_key_id()
        return MasterKeyring({key_id: secrets.token_bytes(KEY_BYTES), **self._keys})

    def without(self, key_id: str) -> MasterKeyring:
        if key_id not in self._keys:
            raise KeyringError(f"master key {key_id!r} is not in the keyring")
        if key_id == self.primary_id:
            raise KeyringError(f"master key {key_id!r} is primary; rotate before retiring it")
        return MasterKeyring({k: v for k, v in self._keys.items() if k != key_id})

    @classmethod
    def generate(cls) -> MasterKeyring:
        return cls({new_key_id(): secrets.token_bytes(KEY_BYTES)})

    # -- files -----------------------------------------------------------------------------
    @classmethod
    def load_file(cls, path: Path) -> MasterKeyring:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise KeyringError(
                f"master key file {path} does not exist; create it with 'steadfast keys generate'"
            ) from None
        except UnicodeDecodeError:
            raise KeyringError(f"master key file {path} is not UTF-8 text") from None
        except OSError as exc:
            raise KeyringError(f"master key file {path} cannot be read ({exc.strerror})") from None
        return cls.parse(text)

    def same_as(self, other: MasterKeyring) -> bool:
        """The same keys in the same order (the same primary)."""
        return list(self._keys.items()) == list(other._keys.items())

    def create_file(self, path: Path) -> None:
        """Write a new key file with mode 0600; refuse to overwrite an existing one."""
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise KeyringError(f"{path} already exists; refusing to overwrite a key file") from None
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(self.dump())

    def replace_file(self, path: Path) -> None:
        """Atomically replace a key file, keeping mode 0600."""
        tmp = path.with_name(path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(self.dump())
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)


def new_key_id() -> str:
    """A master key id unique across installations and rotations: k-YYYYMMDD-<hex>."""
    return f"k-{datetime.now(UTC):%Y%m%d}-{secrets.token_hex(4)}"


def _dek_aad(owner: str, master_id: str) -> bytes:
    return f"steadfast:dek|{owner}|{master_id}".encode()


def wrap_key(ring: MasterKeyring, secret: bytes, owner: str) -> tuple[str, bytes]:
    """Wrap a data key under the primary master key; returns (master key id, wrapped)."""
    master_id = ring.primary_id
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(ring.key(master_id)).encrypt(nonce, secret, _dek_aad(owner, master_id))
    return master_id, nonce + sealed


def unwrap_key(ring: MasterKeyring, master_id: str, wrapped: bytes, owner: str) -> bytes:
    nonce, sealed = wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:]
    try:
        return AESGCM(ring.key(master_id)).decrypt(nonce, sealed, _dek_aad(owner, master_id))
    except InvalidTag:
        raise DecryptionError(f"data key of {owner} does not open with master key {master_id!r}") from None


def new_data_key() -> DataKey:
    return DataKey(id=secrets.token_hex(8), secret=secrets.token_bytes(KEY_BYTES))


def _record_aad(place: str, row_id: str, owner: str, key_id: str) -> bytes:
    return f"steadfast:v1|{place}|{row_id}|{owner}|{key_id}".encode()


def seal(key: DataKey, plaintext: bytes, *, place: str, row_id: str, owner: str) -> bytes:
    """Seal a value for one column of one row of one owner (client id or 'system:NAME').

    The associated data binds table.column, row, owner and key id, so a ciphertext copied
    anywhere else fails to open. A fresh random 96-bit nonce is drawn for every call.
    """
    nonce = os.urandom(NONCE_BYTES)
    aad = _record_aad(place, row_id, owner, key.id)
    return _FORMAT_V1 + nonce + AESGCM(key.secret).encrypt(nonce, plaintext, aad)


def open_sealed(key: DataKey, blob: bytes, *, place: str, row_id: str, owner: str) -> bytes:
    if not blob or blob[:1] != _FORMAT_V1 or len(blob) < 1 + NONCE_BYTES + 16:
        raise DecryptionError(f"{place} of row {row_id} is not a Steadfast ciphertext")
    nonce, sealed = blob[1 : 1 + NONCE_BYTES], blob[1 + NONCE_BYTES :]
    try:
        return AESGCM(key.secret).decrypt(nonce, sealed, _record_aad(place, row_id, owner, key.id))
    except InvalidTag:
        raise DecryptionError(
            f"{place} of row {row_id} does not belong to this row and owner, or was altered"
        ) from None


def keyed_index(key: DataKey, kind: str, value: int | str) -> bytes:
    """HMAC-SHA256 of a value under a system key: equal values give equal indexes, so a
    column of them can be looked up and joined, but without the key nobody can tell
    which value one stands for (a Telegram id has too few digits to hide behind a bare
    hash). `kind` keeps one kind of value from matching another."""
    return hmac.new(key.secret, f"steadfast:{kind}|{value}".encode(), hashlib.sha256).digest()


def lock_number(index: bytes) -> int:
    """A signed 64-bit number derived from a keyed index (a PostgreSQL advisory lock's
    key), so even a lock held at this instant does not name the person."""
    return int.from_bytes(index[:8], "big", signed=True)


def nonce_of(blob: bytes) -> bytes:
    """The nonce of a sealed value (for tests and audits of nonce uniqueness)."""
    return blob[1 : 1 + NONCE_BYTES]
