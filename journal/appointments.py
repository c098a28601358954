"""Appointments: sessions, officer visits, polygraph examinations, court dates.

A clinician (chat, workspace) or the command line records one for a client at a local date
and time in the client's zone; the client is told, reminded at the program's offsets
(journal/appointments.toml), and answers "I will be there" or "I cannot come" (with a
reason, sealed). After the time staff record attended, late, excused or no-show (the
clinician who recorded it is reminded if nobody did); a no-show raises an alert at the
level the risk rules set.

The scheduler's part is the same due-instant design as the check-in's: each appointment
stores when it is next due (`next_due_at`, indexed), worked out here by `next_due()` after
each visit, so a tick reads only what is due.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from journal.alerts.service import AlertService
from journal.buttons import (
    APPOINTMENT_ATTENDANCE,
    APPOINTMENT_CONFIRM,
    APPOINTMENT_DECLINE,
    Button,
    rows_data,
)
from journal.checkin.days import local_instant
from journal.checkin.questionnaire_file import file_version, read_data_file
from journal.clock import Clock
from journal.errors import DataFileError, InvalidInput, NotFound
from journal.i18n import N_, gettext_for
from journal.people import visible_client
from journal.staff import StaffDefaults, StaffLocale
from journal.times import shown_time
from storage.records import Appointment, Client, ClientStatus, Clinician
from storage.uow import UnitOfWork

DEFAULT_FILE: Final = "appointments.toml"
REASON_STATE: Final = "appointment.reason"  # the conversation awaiting a reason
PLACE_LIMIT: Final = 200
REASON_LIMIT: Final = 1000
UPCOMING_SHOWN: Final = 5

# Attendance marks, as stored, and their names.
ATTENDED, LATE, EXCUSED, NO_SHOW = "attended", "late", "excused", "no_show"
ATTENDANCE_NAMES: Final[Mapping[str, str]] = MappingProxyType({
    ATTENDED: N_("attended"), LATE: N_("late"), EXCUSED: N_("excused"),
    NO_SHOW: N_("no-show")})
# The client's answer, as stored, and its name for staff.
NO_ANSWER, CONFIRMED, DECLINED = "none", "confirmed", "declined"
RESPONSE_NAMES: Final[Mapping[str, str]] = MappingProxyType({
    NO_ANSWER: N_("no answer yet"), CONFIRMED: N_("confirmed"),
    DECLINED: N_("cannot come")})

# The first line of what a client's phone shows: no kind, no treatment, no offence.
NEW_TEXT: Final = N_("You have a new appointment: {when}.")
REMINDER_TEXT: Final = N_("Reminder: you have an appointment {when}.")
ONLINE_TEXT: Final = N_("Online")
CONFIRM_LABEL: Final = N_("I will be there")
DECLINE_LABEL: Final = N_("I cannot come")
# Staff texts: the client's code only, never the place or the reason.
CONFIRMED_NOTICE: Final = N_("Client {code} confirmed the appointment of {when} ({kind}).")
DECLINED_NOTICE: Final = N_("Client {code} cannot come to the appointment of {when} ({kind}). "
                            "See /appointments {code}.")
ATTENDANCE_REMINDER: Final = N_("Please record the attendance of client {code} at the "
                                "appointment of {when} ({kind}).")
# The workspace's answer to a form it could not save.
NOT_SAVED: Final = N_("The appointment was not saved. Check the kind, the date and the time "
                      "(in the client's time zone, not past) and the place (at most 200 "
                      "characters).")

_OFFSET: Final = re.compile(r"([1-9][0-9]{0,3})([dhm])")


class AppointmentsError(DataFileError):
    """The appointments file is not valid."""


@dataclass(frozen=True, slots=True)
class Offset:
    """A reminder's distance before the start: whole local days (same wall-clock time in
    the client's zone) or real hours and minutes."""

    amount: int
    unit: str  # d | h | m

    @classmethod
    def parse(cls, text: object) -> Offset | None:
        match = _OFFSET.fullmatch(text) if isinstance(text, str) else None
        return cls(int(match.group(1)), match.group(2)) if match else None

    def before(self, starts_at: datetime, zone: ZoneInfo) -> datetime:
        if self.unit == "d":
            local = starts_at.astimezone(zone)
            return local_instant(local.date() - timedelta(days=self.amount),
                                 local.time().replace(tzinfo=None), zone)
        return starts_at - self.span

    @property
    def span(self) -> timedelta:
        return {"d": timedelta(days=self.amount), "h": timedelta(hours=self.amount),
                "m": timedelta(minutes=self.amount)}[self.unit]


@dataclass(frozen=True)
class AppointmentProgram:
    """The program's kinds (code -> English msgid), reminders (furthest first) and when
    staff are asked for the attendance."""

    kinds: Mapping[str, str]
    reminders: tuple[Offset, ...] = (Offset(1, "d"), Offset(1, "h"))
    attendance_after: timedelta = timedelta(hours=2)

    def kind_name(self, kind: str, language: str) -> str:
        return gettext_for(language, self.kinds.get(kind, kind))


def load_program(path: Path | None = None) -> AppointmentProgram:
    """Read and check an appointments file; None reads the packaged default."""
    return parse_program(read_data_file(path, DEFAULT_FILE, AppointmentsError, "appointments"))


def parse_program(data: Mapping[str, Any]) -> AppointmentProgram:
    problems: list[str] = []
    for key in sorted(set(data) - {"id", "version", "reminders", "attendance_after", "kinds"}):
        problems.append(f"unknown top-level key {key!r}")
    file_version(data, problems)
    kinds = data.get("kinds")
    if not isinstance(kinds, dict) or not kinds:
        problems.append("[kinds] must name at least one kind")
        kinds = {}
    for code, name in kinds.items():
        if not re.fullmatch(r"[a-z][a-z0-9_]{0,31}", code):
            problems.append(f"kind {code!r}: a code like officer_visit")
        if not isinstance(name, str) or not name.strip():
            problems.append(f"kind {code!r}: its name must be a non-empty text")
    raw = data.get("reminders", [])
    offsets = [Offset.parse(o) for o in raw] if isinstance(raw, list) else [None]
    if None in offsets:
        problems.append('reminders must be a list like ["1d", "1h"] (days, hours, minutes)')
    after = Offset.parse(data.get("attendance_after", "2h"))
    if after is None or after.unit == "d":
        problems.append('attendance_after must be hours or minutes, like "2h"')
    if problems:
        raise AppointmentsError(problems)
    assert after is not None
    ordered = sorted((o for o in offsets if o is not None), key=lambda o: o.span, reverse=True)
    return AppointmentProgram(MappingProxyType(dict(kinds)), tuple(ordered), after.span)


def zone_of(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def reminder_instants(program: AppointmentProgram, starts_at: datetime, zone: ZoneInfo
                      ) -> list[datetime]:
    """When each of the program's reminders falls, furthest first."""
    return [offset.before(starts_at, zone) for offset in program.reminders]


def reminders_behind(program: AppointmentProgram, starts_at: datetime, zone: ZoneInfo,
                     now: datetime) -> int:
    """How many reminders' instants have passed at `now` (in order, furthest first)."""
    return sum(1 for at in reminder_instants(program, starts_at, zone) if at <= now)


def next_due(program: AppointmentProgram, appointment: Appointment, zone: ZoneInfo
             ) -> datetime | None:
    """When the scheduler next has something to do for `appointment`: its next reminder
    (none once the client said they cannot come), then the staff's attendance reminder;
    None once attendance is recorded, the reminder sent, or it was cancelled."""
    if appointment.cancelled_at is not None or appointment.attendance is not None:
        return None
    if appointment.response != DECLINED:
        instants = reminder_instants(program, appointment.starts_at, zone)
        ahead = instants[appointment.reminders_done:]
        if ahead and ahead[0] < appointment.starts_at:
            return ahead[0]
    if appointment.staff_reminded_at is None:
        return appointment.starts_at + program.attendance_after
    return None


@dataclass(frozen=True, slots=True)
class AppointmentRequest:
    code: str
    kind: str
    day: date
    at: time
    online: bool = False
    place: str = ""


def parse_request(args: str | None) -> AppointmentRequest:
    """`CODE KIND YYYY-MM-DD HH:MM [online | place words...]` (the chat command)."""
    words = (args or "").split()
    if len(words) < 4:
        raise InvalidInput("too few words", key="appointment.usage")
    code, kind, day_text, time_text, *rest = words
    try:
        day = date.fromisoformat(day_text)
        hours, _, minutes = time_text.partition(":")
        at = time(int(hours), int(minutes))
    except ValueError:
        raise InvalidInput("bad date or time", key="appointment.usage") from None
    online = len(rest) == 1 and rest[0].lower() in ("online", "en-línea", "en_linea")
    place = "" if online else " ".join(rest)
    return AppointmentRequest(code.upper(), kind.lower(), day, at, online, place)


@dataclass(frozen=True, slots=True)
class AppointmentLine:
    """One appointment as a list shows it: the time in the reader's zone and plain words."""

    id: str
    when: str
    kind: str
    where: str
    response: str
    attendance: str | None
    begun: bool = False  # its time has come: the attendance can be recorded


# Called with (uow, client, appointment) when a no-show is recorded; the seam through
# which the sharing agreement's officer copy is added (nothing is wired by default).
NoShowHook = Callable[[UnitOfWork, Client, Appointment], Awaitable[None]]


@dataclass
class AppointmentVisit:
    """What one tick did for one appointment."""

    reminded: bool = False
    staff_reminded: bool = False


class AppointmentService:
    """Keyword-only: `program` is the appointments file; `alerts` raises the no-show
    alert; `no_show_hooks` are told of every no-show after the alert (see NoShowHook)."""

    def __init__(self, *, clock: Clock, program: AppointmentProgram, alerts: AlertService,
                 staff_language: str = "en", display_timezone: str = "UTC",
                 no_show_hooks: Sequence[NoShowHook] = ()) -> None:
        self._clock = clock
        self.program = program
        self._alerts = alerts
        self._staff = StaffDefaults(staff_language, display_timezone)
        self._no_show_hooks = tuple(no_show_hooks)

    def staff_locale(self, clinician: Clinician | None) -> StaffLocale:
        return self._staff.of(clinician)

    # -- recording -----------------------------------------------------------------------
    async def add(self, uow: UnitOfWork, clinician: Clinician, request: AppointmentRequest,
                  *, actor: str | None = None) -> tuple[Client, Appointment]:
        """Record an appointment for a client the clinician may see; the client is told at
        once (with the buttons to answer). Its time is the client's local time."""
        client = await visible_client(uow, clinician, request.code,
                                      statuses=(ClientStatus.ACTIVE, ClientStatus.PAUSED,
                                                ClientStatus.INVITED))
        return client, await self.add_for(uow, client, clinician.id, request,
                                          actor=actor or f"clinician:{clinician.id}")

    async def add_by_code(self, uow: UnitOfWork, request: AppointmentRequest
                          ) -> tuple[Client, Appointment]:
        """The command line's: for any current client, on their clinician's behalf."""
        client = await uow.clients.by_code(request.code)
        if client is None or client.status not in (ClientStatus.ACTIVE, ClientStatus.PAUSED,
                                                   ClientStatus.INVITED):
            raise NotFound(f"no current client {request.code}", key="client.not_found")
        return client, await self.add_for(uow, client, client.clinician_id, request,
                                          actor="admin")

    async def add_for(self, uow: UnitOfWork, client: Client, clinician_id: int,
                      request: AppointmentRequest, *, actor: str) -> Appointment:
        if request.kind not in self.program.kinds:
            raise InvalidInput("unknown kind", key="appointment.kind")
        place = request.place.strip()
        if len(place) > PLACE_LIMIT:
            raise InvalidInput("place too long", key="appointment.place_too_long")
        starts_at = local_instant(request.day, request.at, zone_of(client.timezone))
        return await self.add_at(uow, client, clinician_id, request.kind, starts_at,
                                 online=request.online, place=place, actor=actor)

    async def add_at(self, uow: UnitOfWork, client: Client, clinician_id: int, kind: str,
                     starts_at: datetime, *, online: bool, place: str, actor: str,
                     group_id: str | None = None) -> Appointment:
        """Record an appointment at an instant (a group session's, the same for every
        member); the client is told at once."""
        now = self._clock.now()
        if starts_at <= now:
            raise InvalidInput("in the past", key="appointment.past")
        zone = zone_of(client.timezone)
        behind = reminders_behind(self.program, starts_at, zone, now)
        appointment = await uow.appointments.add(
            client_id=client.id, clinician_id=clinician_id, kind=kind,
            starts_at=starts_at, online=online, place=place, reminders_done=behind,
            next_due_at=None, now=now, group_id=group_id)
        appointment = await uow.appointments.update(
            appointment.id, next_due_at=next_due(self.program, appointment, zone))
        await uow.audit(at=now, actor=actor, action="appointment.add", client_id=client.id,
                        detail=f"appointment {appointment.id} kind {kind}")
        if self._reachable(client):
            await self._tell_client(uow, client, appointment, NEW_TEXT,
                                    dedupe=f"appt-new:{appointment.id}")
        return appointment

    # -- the client's answer ---------------------------------------------------------------
    async def _own(self, uow: UnitOfWork, client: Client, appointment_id: str) -> Appointment:
        appointment = await uow.appointments.get(appointment_id, lock=True)
        if (appointment is None or appointment.client_id != client.id
                or appointment.cancelled_at is not None):
            raise NotFound("no such appointment", key="appointment.gone")
        if appointment.starts_at <= self._clock.now():
            raise InvalidInput("already begun", key="appointment.begun")
        return appointment

    async def confirm(self, uow: UnitOfWork, client: Client, appointment_id: str
                      ) -> Appointment:
        appointment = await self._own(uow, client, appointment_id)
        if appointment.response == CONFIRMED:
            return appointment
        now = self._clock.now()
        updated = await uow.appointments.update(appointment.id, response=CONFIRMED,
                                                responded_at=now, reason="")
        zone = zone_of(client.timezone)
        updated = await uow.appointments.update(
            updated.id, next_due_at=next_due(self.program, updated, zone))
        await self._tell_staff(uow, client, updated, CONFIRMED_NOTICE)
        return updated

    async def decline(self, uow: UnitOfWork, client: Client, appointment_id: str
                      ) -> Appointment:
        """The client cannot come: no more reminders, the clinician is told, and the
        client's next message is taken as the reason (see `give_reason`)."""
        appointment = await self._own(uow, client, appointment_id)
        now = self._clock.now()
        updated = appointment
        if appointment.response != DECLINED:
            updated = await uow.appointments.update(appointment.id, response=DECLINED,
                                                    responded_at=now)
            updated = await uow.appointments.update(
                updated.id, next_due_at=next_due(self.program, updated, zone_of(client.timezone)))
            await self._tell_staff(uow, client, updated, DECLINED_NOTICE)
        if client.telegram_id is not None:
            await uow.conversations.set(client.telegram_id, REASON_STATE,
                                        {"appointment": appointment.id}, now)
        return updated

    async def awaiting_reason(self, uow: UnitOfWork, client: Client) -> str | None:
        """The appointment whose reason the client's next message gives, if any."""
        if client.telegram_id is None:
            return None
        conversation = await uow.conversations.get(client.telegram_id)
        if conversation is None or conversation.state != REASON_STATE:
            return None
        return str(conversation.data.get("appointment", "")) or None

    async def give_reason(self, uow: UnitOfWork, client: Client, text: str) -> Appointment:
        """The reason the client cannot come, sealed; too long a text changes nothing."""
        appointment_id = await self.awaiting_reason(uow, client)
        if appointment_id is None:
            raise NotFound("no reason awaited", key="appointment.gone")
        if len(text) > REASON_LIMIT:
            raise InvalidInput("reason too long", key="appointment.reason_too_long")
        appointment = await uow.appointments.get(appointment_id)
        assert client.telegram_id is not None
        await uow.conversations.clear(client.telegram_id)
        if appointment is None or appointment.client_id != client.id:
            raise NotFound("no such appointment", key="appointment.gone")
        return await uow.appointments.update(appointment.id, reason=text.strip())

    async def skip_reason(self, uow: UnitOfWork, client: Client) -> None:
        if client.telegram_id is not None and await self.awaiting_reason(uow, client):
            await uow.conversations.clear(client.telegram_id)

    # -- attendance ------------------------------------------------------------------------
    async def visible(self, uow: UnitOfWork, clinician: Clinician, appointment_id: str
                      ) -> tuple[Client, Appointment]:
        """The appointment, if the clinician may see its client (their own client, one
        they recorded it for, or anyone's for a supervisor); else "not found"."""
        appointment = await uow.appointments.get(appointment_id)
        client = await uow.clients.get(appointment.client_id) if appointment else None
        if (appointment is None or client is None or client.status == "erased"
                or not (clinician.is_supervisor or client.clinician_id == clinician.id
                        or appointment.clinician_id == clinician.id)):
            raise NotFound("no such appointment", key="appointment.gone")
        return client, appointment

    async def record_attendance(self, uow: UnitOfWork, clinician: Clinician,
                                appointment_id: str, mark: str) -> tuple[Client, Appointment]:
        """Attended, late, excused or no-show, once the appointment has begun; a no-show
        raises the alert the rules set (once, however often it is recorded)."""
        if mark not in ATTENDANCE_NAMES:
            raise InvalidInput("unknown mark", key="attendance.usage")
        client, appointment = await self.visible(uow, clinician, appointment_id)
        return client, await self.record_for(uow, clinician, client, appointment, mark)

    async def record_for(self, uow: UnitOfWork, clinician: Clinician, client: Client,
                         appointment: Appointment, mark: str) -> Appointment:
        """Record the attendance; the caller has checked the clinician may (their client's,
        or a group session they facilitate)."""
        if mark not in ATTENDANCE_NAMES:
            raise InvalidInput("unknown mark", key="attendance.usage")
        now = self._clock.now()
        if appointment.starts_at > now:
            raise InvalidInput("not begun", key="attendance.not_yet")
        if appointment.attendance == mark:
            return appointment
        before = appointment.attendance
        updated = await uow.appointments.update(appointment.id, attendance=mark,
                                                attendance_at=now, attendance_by=clinician.id,
                                                next_due_at=None)
        await uow.audit(at=now, actor=f"clinician:{clinician.id}",
                        action="appointment.attendance", client_id=client.id,
                        detail=f"appointment {appointment.id} {mark}")
        if mark == NO_SHOW and before != NO_SHOW:
            await self._alerts.on_no_show(uow, client, appointment.id)
            for hook in self._no_show_hooks:
                await hook(uow, client, updated)
        return updated

    async def latest_unrecorded(self, uow: UnitOfWork, clinician: Clinician, code: str
                                ) -> tuple[Client, Appointment]:
        """The client's latest begun appointment without attendance (for /attendance)."""
        client = await visible_client(uow, clinician, code)
        for appointment in await uow.appointments.recent_of_client(client.id,
                                                                   before=self._clock.now()):
            if appointment.attendance is None:
                return client, appointment
        raise NotFound("nothing to record", key="attendance.none")

    # -- lists -----------------------------------------------------------------------------
    async def upcoming_for_client(self, uow: UnitOfWork, client: Client) -> list[AppointmentLine]:
        """The client's own next appointments, in their language and zone."""
        items = await uow.appointments.of_client(client.id, since=self._clock.now(),
                                                 limit=UPCOMING_SHOWN)
        return [self._line(a, client.language, client.timezone) for a in items]

    def kind_choices(self, language: str) -> list[tuple[str, str]]:
        """(code, name) of each kind, in the reader's language."""
        return [(code, self.program.kind_name(code, language)) for code in self.program.kinds]

    async def for_staff(self, uow: UnitOfWork, clinician: Clinician, code: str
                        ) -> tuple[Client, list[AppointmentLine], list[AppointmentLine]]:
        """A client's next appointments and the latest past ones, for the clinician: what
        the client answered (the reason included) and the attendance recorded."""
        client = await visible_client(uow, clinician, code)
        locale = self._staff.of(clinician)
        now = self._clock.now()
        ahead = await uow.appointments.of_client(client.id, since=now, limit=UPCOMING_SHOWN)
        past = await uow.appointments.recent_of_client(client.id, before=now, limit=5)
        await uow.audit(at=now, actor=f"clinician:{clinician.id}", action="appointment.view",
                        client_id=client.id, detail=f"client {client.code}")
        return (client, [self._line(a, locale.language, locale.timezone) for a in ahead],
                [self._line(a, locale.language, locale.timezone) for a in past])

    def _line(self, appointment: Appointment, language: str, zone: str) -> AppointmentLine:
        where = (gettext_for(language, ONLINE_TEXT) if appointment.online
                 else appointment.place)
        response = gettext_for(language, RESPONSE_NAMES.get(appointment.response,
                                                            appointment.response))
        if appointment.response == DECLINED and appointment.reason:
            response += ": " + appointment.reason
        attendance = (gettext_for(language, ATTENDANCE_NAMES[appointment.attendance])
                      if appointment.attendance else None)
        return AppointmentLine(appointment.id, shown_time(appointment.starts_at, zone),
                               self.program.kind_name(appointment.kind, language), where,
                               response, attendance,
                               begun=appointment.starts_at <= self._clock.now())

    # -- the scheduler's part --------------------------------------------------------------
    async def visit(self, uow: UnitOfWork, appointment: Appointment, now: datetime
                    ) -> AppointmentVisit:
        """What is due for `appointment` at `now`, done, and its next due instant stored:
        the nearest reminder whose time has come (older ones are skipped, never sent
        late in a row), then, once the attendance is overdue, the staff's reminder."""
        visit = AppointmentVisit()
        client = await uow.clients.get(appointment.client_id)
        if client is None or client.status == "erased":
            await uow.appointments.update(appointment.id, next_due_at=None)
            return visit
        zone = zone_of(client.timezone)
        done = appointment.reminders_done
        behind = reminders_behind(self.program, appointment.starts_at, zone, now)
        values: dict[str, Any] = {}
        if behind > done:
            values["reminders_done"] = behind
            if (now < appointment.starts_at and appointment.response != DECLINED
                    and appointment.attendance is None and appointment.cancelled_at is None
                    and client.status == ClientStatus.ACTIVE and self._reachable(client)):
                await self._tell_client(uow, client, appointment, REMINDER_TEXT,
                                        dedupe=f"appt-remind:{appointment.id}:{behind}")
                visit.reminded = True
        if (now >= appointment.starts_at + self.program.attendance_after
                and appointment.attendance is None and appointment.staff_reminded_at is None
                and appointment.cancelled_at is None):
            await self._remind_staff(uow, client, appointment)
            values["staff_reminded_at"] = now
            visit.staff_reminded = True
        updated = await uow.appointments.update(appointment.id, **values) if values else appointment
        await uow.appointments.update(appointment.id,
                                      next_due_at=next_due(self.program, updated, zone))
        return visit

    # -- messages --------------------------------------------------------------------------
    @staticmethod
    def _reachable(client: Client) -> bool:
        return client.telegram_id is not None and not client.unreachable

    async def _tell_client(self, uow: UnitOfWork, client: Client, appointment: Appointment,
                           first_line: str, *, dedupe: str) -> None:
        language = client.language

        def t(text: str) -> str:
            return gettext_for(language, text)

        lines = [t(first_line).format(when=shown_time(appointment.starts_at, client.timezone)),
                 self.program.kind_name(appointment.kind, language)]
        where = t(ONLINE_TEXT) if appointment.online else appointment.place
        if where:
            lines.append(where)
        params = {"text": "\n".join(lines), "buttons": rows_data([[
            Button(APPOINTMENT_CONFIRM, t(CONFIRM_LABEL), appointment=appointment.id),
            Button(APPOINTMENT_DECLINE, t(DECLINE_LABEL), appointment=appointment.id)]])}
        assert client.telegram_id is not None
        await uow.outbox.add(chat_id=client.telegram_id, kind="notice", method="sendMessage",
                             params=params, now=self._clock.now(), client_id=client.id,
                             dedupe_key=dedupe, useful_until=appointment.starts_at)

    async def _tell_staff(self, uow: UnitOfWork, client: Client, appointment: Appointment,
                          text: str) -> None:
        clinician = await uow.clinicians.get(appointment.clinician_id)
        if clinician is None or not clinician.active:
            clinician = await uow.clinicians.get(client.clinician_id)
        if clinician is None:
            return
        locale = self._staff.of(clinician)
        message = gettext_for(locale.language, text).format(
            code=client.code, when=shown_time(appointment.starts_at, locale.timezone),
            kind=self.program.kind_name(appointment.kind, locale.language))
        await uow.outbox.add(chat_id=clinician.telegram_id, kind="notice",
                             method="sendMessage", params={"text": message},
                             now=self._clock.now(), client_id=client.id)

    async def _remind_staff(self, uow: UnitOfWork, client: Client,
                            appointment: Appointment) -> None:
        clinician = await uow.clinicians.get(appointment.clinician_id)
        if clinician is None or not clinician.active:
            clinician = await uow.clinicians.get(client.clinician_id)
        if clinician is None:
            return
        locale = self._staff.of(clinician)

        def t(text: str) -> str:
            return gettext_for(locale.language, text)

        message = t(ATTENDANCE_REMINDER).format(
            code=client.code, when=shown_time(appointment.starts_at, locale.timezone),
            kind=self.program.kind_name(appointment.kind, locale.language))
        buttons = rows_data([[Button(APPOINTMENT_ATTENDANCE, t(ATTENDANCE_NAMES[mark]),
                                     appointment=appointment.id, mark=mark)
                              for mark in (ATTENDED, LATE)],
                             [Button(APPOINTMENT_ATTENDANCE, t(ATTENDANCE_NAMES[mark]),
                                     appointment=appointment.id, mark=mark)
                              for mark in (EXCUSED, NO_SHOW)]])
        await uow.outbox.add(chat_id=clinician.telegram_id, kind="notice",
                             method="sendMessage", params={"text": message, "buttons": buttons},
                             now=self._clock.now(), client_id=client.id,
                             dedupe_key=f"appt-staff:{appointment.id}")


__all__ = ["ATTENDANCE_NAMES", "AppointmentLine", "AppointmentProgram", "AppointmentRequest",
           "AppointmentService", "AppointmentVisit", "AppointmentsError", "NoShowHook",
           "Offset", "load_program", "next_due", "parse_program", "parse_request",
           "reminder_instants", "reminders_behind", "zone_of"]
