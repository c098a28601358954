"""Append-only audit trail: each event's HMAC chains over the previous one.

A plain hash chain can be recomputed by anyone who can write to the database. The chain
is therefore keyed: the MAC key is a system data key wrapped by the master key, which
lives outside the database. The chain's tip is sealed in `audit_head` so that cutting
events off the end is detected too.

What the database alone cannot show is that it was wiped, or that an older copy of it was
put back (both are intact chains). The checkpoint (`CheckpointFile`) is kept outside the
database: the last event this process saw committed (its sequence and MAC), sealed with a
key derived from the audit key, rewritten after each commit that appended events and
logged as a line. The trail must reach at least that far and hold that MAC at that
sequence; instances sharing one database may each keep their own, each behind the head.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import AFTER_COMMIT
from storage.models import AuditEventRow, AuditHeadRow, ClientRow, ClinicianRow
from storage.records import AuditEvent, AuditVerdict
from storage.vault import Vault

log = logging.getLogger(__name__)

_GENESIS = "0" * 64
SEALED_PLACE = "audit_events.sealed"  # who, about whom, what: [actor, client_id, detail]
GENESIS_ACTION = "audit.genesis"


def _canonical(seq: int, at: datetime, actor: str, action: str, client_id: str | None,
               detail: str) -> bytes:
    return json.dumps(
        [seq, at.isoformat(timespec="microseconds"), actor, action, client_id, detail],
        ensure_ascii=False, separators=(",", ":"),
    ).encode()


def _mac(key: bytes, prev: str, body: bytes) -> str:
    return hmac.new(key, prev.encode() + b"|" + body, hashlib.sha256).hexdigest()


def _head_mac(key: bytes, seq: int, last: str) -> str:
    return hmac.new(key, f"head|{seq}|{last}".encode(), hashlib.sha256).hexdigest()


async def append(session: AsyncSession, vault: Vault, *, at: datetime, actor: str, action: str,
                 client_id: str | None = None, detail: str = "",
                 checkpoint: CheckpointFile | None = None) -> AuditEvent:
    """Append one event. With `checkpoint`, it is moved to this event once the session's
    transaction commits (never for an event that rolled back)."""
    key = (await vault.system_key("audit", at)).secret
    # FOR UPDATE serialises appenders on PostgreSQL; SQLite transactions are IMMEDIATE.
    head = await session.scalar(select(AuditHeadRow).where(AuditHeadRow.id == 1).with_for_update())
    if head is None:  # the first event ever; another instance may be writing it right now
        try:
            async with session.begin_nested():
                head = AuditHeadRow(id=1, seq=0, mac=_GENESIS)
                session.add(head)
                await session.flush()
        except IntegrityError:  # it was: wait for its transaction, then go on after it
            head = await session.scalar(select(AuditHeadRow).where(AuditHeadRow.id == 1)
                                        .with_for_update().execution_options(
                                            populate_existing=True))
            if head is None:
                raise
    prev = (await session.scalar(select(AuditEventRow.mac).where(AuditEventRow.seq == head.seq))
            if head.seq else _GENESIS) or _GENESIS
    seq = head.seq + 1
    mac = _mac(key, prev, _canonical(seq, at, actor, action, client_id, detail))
    session.add(AuditEventRow(
        seq=seq, at=at, action=action,
        client_index=await vault.client_index(client_id) if client_id is not None else None,
        sealed=await vault.seal_person(SEALED_PLACE, str(seq), [actor, client_id, detail]),
        mac=mac))
    head.seq = seq
    head.mac = _head_mac(key, seq, mac)
    await session.flush()
    if checkpoint is not None:
        session.info.setdefault(AFTER_COMMIT, []).append(
            lambda: checkpoint.advance(key, seq, mac, at))
    return AuditEvent(seq=seq, at=at, actor=actor, action=action, client_id=client_id, detail=detail)


async def verify(session: AsyncSession, vault: Vault, now: datetime,
                 checkpoint: CheckpointFile | None = None) -> AuditVerdict:
    """Walk the chain in order; name the first event that does not fit. Then hold the
    trail against the checkpoint kept outside the database, when there is one."""
    key = (await vault.system_key("audit", now)).secret
    try:
        seen = checkpoint.read(key) if checkpoint is not None else None
    except CheckpointError as exc:
        return AuditVerdict(False, 0, None, str(exc), compared=checkpoint_place(checkpoint))
    compared = _compared(checkpoint, seen)
    prev = _GENESIS
    expected = 1
    count = 0
    mac_at_checkpoint: str | None = None
    result = await session.stream_scalars(select(AuditEventRow).order_by(AuditEventRow.seq))
    async for row in result:
        if row.seq != expected:
            return AuditVerdict(False, count, expected,
                                f"event {expected} is missing (next stored is {row.seq})",
                                compared=compared)
        try:
            actor, client_id, detail = await _opened(vault, row)
        except Exception:  # a sealed part that does not open was changed or moved
            return AuditVerdict(False, count, row.seq,
                                f"event {row.seq} was altered, reordered, or follows a removed event",
                                compared=compared)
        body = _canonical(row.seq, row.at, actor, row.action, client_id, detail)
        if not hmac.compare_digest(_mac(key, prev, body), row.mac):
            return AuditVerdict(False, count, row.seq,
                                f"event {row.seq} was altered, reordered, or follows a removed event",
                                compared=compared)
        if seen is not None and row.seq == seen.seq:
            mac_at_checkpoint = row.mac
        prev = row.mac
        expected += 1
        count += 1
    head = await session.get(AuditHeadRow, 1)
    if head is None:
        if count:
            return AuditVerdict(False, count, count, "the chain's sealed tip is missing",
                                compared=compared)
    elif head.seq != count or not hmac.compare_digest(_head_mac(key, head.seq, prev), head.mac):
        return AuditVerdict(False, count, count + 1 if head.seq > count else count,
                            f"the sealed tip says {head.seq} events but {count} are stored"
                            if head.seq != count else "the chain's sealed tip was altered",
                            compared=compared)
    problem = _against_checkpoint(checkpoint, seen, count, mac_at_checkpoint)
    if problem is None and count == 0:
        problem = await _emptied(session)
    if problem is not None:
        return AuditVerdict(False, count, count + 1, problem, compared=compared)
    return AuditVerdict(True, count, compared=compared)


async def check_head(session: AsyncSession, vault: Vault, now: datetime,
                     checkpoint: CheckpointFile | None) -> tuple[str | None, int]:
    """What a start can afford (no walk of the chain): the sealed tip against the
    checkpoint. (the problem or None, the head's sequence)."""
    key = (await vault.system_key("audit", now)).secret
    try:
        seen = checkpoint.read(key) if checkpoint is not None else None
    except CheckpointError as exc:
        return str(exc), 0
    head = await session.get(AuditHeadRow, 1)
    count = head.seq if head is not None else 0
    if head is not None and head.seq and not hmac.compare_digest(
            _head_mac(key, head.seq, (await session.scalar(
                select(AuditEventRow.mac).where(AuditEventRow.seq == head.seq))) or ""),
            head.mac):
        return "the chain's sealed tip does not match its last event", count
    mac = None
    if seen is not None and seen.seq <= count:
        mac = await session.scalar(select(AuditEventRow.mac).where(AuditEventRow.seq == seen.seq))
    problem = _against_checkpoint(checkpoint, seen, count, mac)
    if problem is None and count == 0:
        problem = await _emptied(session)
    return problem, count


def _against_checkpoint(checkpoint: CheckpointFile | None, seen: Checkpoint | None, count: int,
                        mac_at_checkpoint: str | None) -> str | None:
    if checkpoint is None:
        return None
    if seen is None:
        return None if count == 0 else (
            f"there is no audit checkpoint at {checkpoint.path}, though the trail has "
            f"{count} events (after checking the trail, `steadfast audit checkpoint` "
            "writes one)")
    if count < seen.seq:
        return (f"the trail ends at event {count}, but the checkpoint saw event {seen.seq}: "
                "events were cut off, or an older copy of the trail was restored")
    if mac_at_checkpoint is None or not hmac.compare_digest(mac_at_checkpoint, seen.mac):
        return (f"event {seen.seq} is not the one the checkpoint saw: an older or another "
                "copy of the trail was restored")
    return None


async def _emptied(session: AsyncSession) -> str | None:
    """An empty trail in a database that has people in it was wiped: adding each of them
    wrote an event."""
    clients = await session.scalar(select(func.count()).select_from(ClientRow)) or 0
    staff = await session.scalar(select(func.count()).select_from(ClinicianRow)) or 0
    if clients or staff:
        return (f"the trail is empty, but the database holds {clients} clients and {staff} "
                "staff members, whose enrolment wrote events: it was wiped")
    return None


def _compared(checkpoint: CheckpointFile | None, seen: Checkpoint | None) -> str:
    if checkpoint is None:
        return "no checkpoint (none configured)"
    if seen is None:
        return f"no checkpoint yet at {checkpoint.path}"
    return (f"the checkpoint at {checkpoint.path}: event {seen.seq}, written "
            f"{seen.at.isoformat(timespec='seconds')}")


def checkpoint_place(checkpoint: CheckpointFile | None) -> str:
    return "no checkpoint (none configured)" if checkpoint is None else \
        f"the checkpoint at {checkpoint.path}"


async def genesis(session: AsyncSession, vault: Vault, now: datetime,
                  checkpoint: CheckpointFile | None) -> bool:
    """Begin an empty trail with one event, so that from the first start the checkpoint has
    something to hold and a wiped trail is never merely "empty". False: it was not empty."""
    head = await session.get(AuditHeadRow, 1)
    if head is not None and head.seq:
        return False
    await append(session, vault, at=now, actor="system", action=GENESIS_ACTION,
                 detail="the audit trail begins", checkpoint=checkpoint)
    return True


async def seal_checkpoint(session: AsyncSession, vault: Vault, now: datetime,
                          checkpoint: CheckpointFile) -> int:
    """Write the checkpoint at the database's head as it is (after a verify the operator
    trusts: a new host, an upgrade, a deliberate restore). The head's sequence."""
    key = (await vault.system_key("audit", now)).secret
    head = await session.get(AuditHeadRow, 1)
    seq = head.seq if head is not None else 0
    mac = (await session.scalar(select(AuditEventRow.mac).where(AuditEventRow.seq == seq))
           if seq else None) or _GENESIS
    checkpoint.write(key, seq, mac, now, force=True)
    return seq


class CheckpointError(Exception):
    """The checkpoint file exists but cannot be read or does not verify."""


@dataclass(frozen=True, slots=True)
class Checkpoint:
    seq: int
    mac: str
    at: datetime


def _checkpoint_key(audit_key: bytes) -> bytes:
    # Its own key, derived from the audit key (itself unwrapped by the master key), so a
    # checkpoint's seal can never pass for an event's MAC or the head's.
    return hmac.new(audit_key, b"steadfast audit checkpoint v1", hashlib.sha256).digest()


def _seal(key: bytes, seq: int, mac: str, at: str) -> str:
    return hmac.new(_checkpoint_key(key), f"checkpoint|{seq}|{mac}|{at}".encode(),
                    hashlib.sha256).hexdigest()


class CheckpointFile:
    """The audit checkpoint kept in a file outside the database (mode 0600).

    Rewritten after each commit that appended events, without fsync: the database
    committed first, so a file that a machine crash leaves behind is older than the
    trail, which still passes (a checkpoint only says "at least this far"). Written to a
    temporary file and renamed, so a reader sees one whole checkpoint or the other."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._written = -1

    def read(self, audit_key: bytes) -> Checkpoint | None:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise CheckpointError(f"the audit checkpoint at {self.path} cannot be read "
                                  f"({exc.strerror or type(exc).__name__})") from None
        try:
            data = json.loads(text)
            seq, mac, at, seal = int(data["seq"]), str(data["mac"]), str(data["at"]), \
                str(data["seal"])
            moment = datetime.fromisoformat(at)
        except (ValueError, KeyError, TypeError):
            raise CheckpointError(f"the audit checkpoint at {self.path} is not a checkpoint "
                                  "(damaged or replaced)") from None
        if not hmac.compare_digest(_seal(audit_key, seq, mac, at), seal):
            raise CheckpointError(f"the audit checkpoint at {self.path} does not verify: it "
                                  "was altered, or belongs to another database's keys")
        self._written = max(self._written, seq)
        return Checkpoint(seq=seq, mac=mac, at=moment)

    def advance(self, audit_key: bytes, seq: int, mac: str, at: datetime) -> None:
        """After a commit: move the checkpoint to this event, unless it is already there
        or beyond (commits of one process can finish out of order). Never raises: the
        events are committed; a checkpoint that cannot be written is logged."""
        if seq <= self._written:
            return
        try:
            self.write(audit_key, seq, mac, at)
        except OSError as exc:
            log.warning("audit checkpoint not written to %s (%s): it stays at event %d",
                        self.path, exc.strerror or type(exc).__name__, self._written)

    def write(self, audit_key: bytes, seq: int, mac: str, at: datetime, *,
              force: bool = False) -> None:
        if seq <= self._written and not force:
            return
        moment = at.isoformat(timespec="microseconds")
        line = json.dumps({"seq": seq, "mac": mac, "at": moment,
                           "seal": _seal(audit_key, seq, mac, moment)},
                          separators=(",", ":"))
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(descriptor, line.encode() + b"\n")
        finally:
            os.close(descriptor)
        os.replace(temporary, self.path)
        self._written = seq if not force else seq
        # The same line in the log, which is kept elsewhere: a copy no one with the database
        # and this host can take back. Only the sequence and MACs: nothing about anyone.
        log.info("audit checkpoint: %s", line)


async def _opened(vault: Vault, row: AuditEventRow) -> tuple[str, str | None, str]:
    actor, client_id, detail = await vault.open_person(SEALED_PLACE, str(row.seq), row.sealed)
    return actor, client_id, detail


async def events(session: AsyncSession, vault: Vault, *, client_id: str | None = None,
                 limit: int = 200) -> list[AuditEvent]:
    query = select(AuditEventRow).order_by(AuditEventRow.seq.desc()).limit(limit)
    if client_id is not None:
        query = query.where(AuditEventRow.client_index == await vault.client_index(client_id))
    found = []
    for row in reversed((await session.scalars(query)).all()):
        actor, client, detail = await _opened(vault, row)
        found.append(AuditEvent(seq=row.seq, at=row.at, actor=actor, action=row.action,
                                client_id=client, detail=detail))
    return found
