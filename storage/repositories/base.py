"""What every repository shares: the session and vault, ids, and the record builders."""

from __future__ import annotations

import secrets
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ClientRow, ClinicianRow
from storage.records import Client, Clinician
from storage.vault import Vault

# Client codes avoid look-alike characters (0/O, 1/I/L) so they can be read aloud.
_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


def new_id() -> str:
    return uuid.uuid4().hex


def new_client_code() -> str:
    pick = [secrets.choice(_CODE_ALPHABET) for _ in range(5)]
    return "".join(pick[:3]) + "-" + "".join(pick[3:])


class DuplicateError(Exception):
    """A unique fact already exists (same Telegram account, same day's check-in...)."""


def _clinician(row: ClinicianRow) -> Clinician:
    return Clinician(id=row.id, telegram_id=row.telegram_id, name=row.name, role=row.role,
                     active=row.active, contact=row.contact, has_email=row.email_ct is not None,
                     language=row.language, timezone=row.timezone)


def _client(row: ClientRow, telegram_id: int | None) -> Client:
    """The record of a row; `telegram_id` opened from its sealed column by the caller (or
    known to it: the account an update came from)."""
    return Client(
        id=row.id, code=row.code, telegram_id=telegram_id, clinician_id=row.clinician_id,
        status=row.status, language=row.language, timezone=row.timezone,
        checkin_time=row.checkin_time, checkin_days=row.checkin_days,
        pause_reason=row.pause_reason, unreachable=row.unreachable, created_at=row.created_at,
        enrolled_at=row.enrolled_at, discharged_at=row.discharged_at, paused_at=row.paused_at,
        resumed_at=row.resumed_at,
        window_start=row.window_start, window_end=row.window_end, erase_after=row.erase_after,
        phase=row.phase, phase_since=row.phase_since,
    )


class Repository:
    def __init__(self, session: AsyncSession, vault: Vault) -> None:
        self.session = session
        self.vault = vault
