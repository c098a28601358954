"""A clinician's appointments and group sessions as an iCalendar feed behind a secret URL.

The URL's token is shown once and kept only as its SHA-256 (storage/repositories/calendar.py);
making a new one or revoking the feed stops the old URL at once. The feed names clients by
their pseudonymous code and the appointment's kind, never a name or a place: a calendar
app syncs it to phones and clouds outside the program's control. Built with the kept
`icalendar` library, imported only when a feed is read."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from journal.appointments import AppointmentProgram
from journal.clock import Clock
from journal.errors import NotFound
from journal.i18n import gettext_for
from storage.records import Clinician
from storage.uow import UnitOfWork

LOOK_BACK: Final = timedelta(days=30)  # past appointments kept in the feed
LENGTH: Final = timedelta(hours=1)  # an appointment's block in the calendar
PRODUCT: Final = "-//Steadfast//appointments//EN"


@dataclass(frozen=True, slots=True)
class FeedEntry:
    uid: str
    starts_at: datetime
    summary: str


class CalendarFeeds:
    def __init__(self, *, clock: Clock, program: AppointmentProgram,
                 staff_language: str = "en") -> None:
        self._clock = clock
        self._program = program
        self._language = staff_language

    async def new_link(self, uow: UnitOfWork, clinician: Clinician) -> str:
        """A new secret token for the clinician's feed (the old one stops working)."""
        token = secrets.token_urlsafe(24)
        now = self._clock.now()
        await uow.calendar.put(clinician.id, token, now)
        await uow.audit(at=now, actor=f"clinician:{clinician.id}", action="calendar.link")
        return token

    async def revoke(self, uow: UnitOfWork, clinician: Clinician) -> bool:
        revoked = await uow.calendar.revoke(clinician.id)
        if revoked:
            await uow.audit(at=self._clock.now(), actor=f"clinician:{clinician.id}",
                            action="calendar.revoke")
        return revoked

    async def since(self, uow: UnitOfWork, clinician: Clinician) -> datetime | None:
        return await uow.calendar.created_at(clinician.id)

    async def entries(self, uow: UnitOfWork, token: str) -> list[FeedEntry]:
        """The feed's events; an unknown or revoked token is "not found"."""
        owner = await uow.calendar.owner(token) if token else None
        clinician = await uow.clinicians.get(owner) if owner is not None else None
        if clinician is None or not clinician.active:
            raise NotFound("no such feed")
        language = clinician.language or self._language
        found = await uow.calendar.entries(clinician.id, self._clock.now() - LOOK_BACK)
        groups: dict[tuple[str, datetime], list[str]] = {}
        entries = []
        for appointment_id, starts_at, kind, code, group_id, _attendance in found:
            if group_id is not None:
                groups.setdefault((group_id, starts_at), []).append(code)
                continue
            entries.append(FeedEntry(f"{appointment_id}@steadfast", starts_at,
                                     f"{self._program.kind_name(kind, language)}: {code}"))
        for (group_id, starts_at), codes in groups.items():
            entries.append(FeedEntry(
                f"{group_id}-{starts_at:%Y%m%d%H%M}@steadfast", starts_at,
                f"{self._program.kind_name('group', language)}: {', '.join(sorted(codes))}"))
        return sorted(entries, key=lambda e: e.starts_at)

    def render(self, entries: list[FeedEntry], name: str) -> bytes:
        """The entries as an RFC 5545 calendar."""
        from icalendar import Calendar, Event

        calendar = Calendar()
        calendar.add("prodid", PRODUCT)
        calendar.add("version", "2.0")
        calendar.add("x-wr-calname", name)
        stamp = self._clock.now()
        for entry in entries:
            event = Event()
            event.add("uid", entry.uid)
            event.add("dtstamp", stamp)
            event.add("dtstart", entry.starts_at)
            event.add("dtend", entry.starts_at + LENGTH)
            event.add("summary", entry.summary)
            calendar.add_component(event)
        return bytes(calendar.to_ical())

    def title(self, language: str) -> str:
        return gettext_for(language, "Steadfast appointments")


__all__ = ["CalendarFeeds", "FeedEntry"]
