"""Append-only audit trail: each event's HMAC chains over the previous one.

A plain hash chain can be recomputed by anyone who can write to the database. The chain
is therefore keyed: the MAC key is a system data key wrapped by the master key, which
lives outside the database. The chain's tip is sealed in `audit_head` so that cutting
events off the end is detected too.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditEventRow, AuditHeadRow
from storage.records import AuditEvent, AuditVerdict
from storage.vault import Vault

_GENESIS = "0" * 64


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
                 client_id: str | None = None, detail: str = "") -> AuditEvent:
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
    session.add(AuditEventRow(seq=seq, at=at, actor=actor, action=action, client_id=client_id,
                              detail=detail, mac=mac))
    head.seq = seq
    head.mac = _head_mac(key, seq, mac)
    await session.flush()
    return AuditEvent(seq=seq, at=at, actor=actor, action=action, client_id=client_id, detail=detail)


async def verify(session: AsyncSession, vault: Vault, now: datetime) -> AuditVerdict:
    """Walk the chain in order; name the first event that does not fit."""
    key = (await vault.system_key("audit", now)).secret
    prev = _GENESIS
    expected = 1
    count = 0
    result = await session.stream_scalars(select(AuditEventRow).order_by(AuditEventRow.seq))
    async for row in result:
        if row.seq != expected:
            return AuditVerdict(False, count, expected,
                                f"event {expected} is missing (next stored is {row.seq})")
        body = _canonical(row.seq, row.at, row.actor, row.action, row.client_id, row.detail)
        if not hmac.compare_digest(_mac(key, prev, body), row.mac):
            return AuditVerdict(False, count, row.seq,
                                f"event {row.seq} was altered, reordered, or follows a removed event")
        prev = row.mac
        expected += 1
        count += 1
    head = await session.get(AuditHeadRow, 1)
    if head is None:
        if count:
            return AuditVerdict(False, count, count, "the chain's sealed tip is missing")
        return AuditVerdict(True, 0)
    if head.seq != count or not hmac.compare_digest(_head_mac(key, head.seq, prev), head.mac):
        return AuditVerdict(False, count, count + 1 if head.seq > count else count,
                            f"the sealed tip says {head.seq} events but {count} are stored"
                            if head.seq != count else "the chain's sealed tip was altered")
    return AuditVerdict(True, count)


async def events(session: AsyncSession, *, client_id: str | None = None,
                 limit: int = 200) -> list[AuditEvent]:
    query = select(AuditEventRow).order_by(AuditEventRow.seq.desc()).limit(limit)
    if client_id is not None:
        query = query.where(AuditEventRow.client_id == client_id)
    rows = (await session.scalars(query)).all()
    return [AuditEvent(seq=r.seq, at=r.at, actor=r.actor, action=r.action, client_id=r.client_id,
                       detail=r.detail) for r in reversed(rows)]
