"""Clinician control of a client's schedule: check-in time, days, the self-service window, pause.

Parsing is pure (plain strings in, plain values out); ScheduleService applies a change in
the caller's unit of work, audits it, and never commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from babel.dates import get_day_names

from journal.clock import Clock
from journal.enrolment import parse_time
from journal.errors import InvalidInput
from journal.i18n import N_, gettext_for
from journal.people import CURRENT, visible_client
from storage.records import Client, ClientStatus, Clinician
from storage.uow import UnitOfWork

if TYPE_CHECKING:
    from journal.sharing import SharingService

# Short plaintext codes only: the reason column is not encrypted, so no free text goes in.
PAUSE_REASONS: Final = ("hospital", "custody", "other")
PAUSE_REASON_NAMES: Final = {
    "hospital": N_("in hospital"),
    "custody": N_("in custody"),
    "other": N_("other reason"),
}
ALL_DAYS: Final = "0123456"
_DAY_KEYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_NAMES: Final = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday",
                     "sunday")
_DAY_SETS: Final = {"daily": ALL_DAYS, "everyday": ALL_DAYS, "weekdays": "01234",
                    "weekends": "56"}

SCHEDULE_CHANGED: Final = N_("Your daily check-in time changed.\nIt now comes at {time} "
                             "({timezone}), {days}.")
RESUMED: Final = N_("Your daily check-ins start again. The next one comes at {time} "
                    "({timezone}).")
EVERY_DAY: Final = N_("every day")


class OutsideWindow(InvalidInput):
    """A check-in time outside the range the clinician allows."""

    key = "time.outside_window"

    def __init__(self, start: str, end: str) -> None:
        super().__init__(f"outside {start}-{end}")
        self.start, self.end = start, end


class NotEnrolled(InvalidInput):
    """Pausing and resuming apply to enrolled clients."""

    key = "schedule.not_enrolled"


@dataclass(frozen=True, slots=True)
class ScheduleRequest:
    """/schedule CODE HH:MM [days] [window HH:MM-HH:MM | window off]; None keeps as is."""

    code: str
    checkin_time: str
    days: str | None = None
    window: tuple[str, str] | None = None
    clear_window: bool = False


# ------------------------------------------------------------------------------- parsing


def _day(name: str) -> int:
    word = name.strip().lower()
    for number, (short, full) in enumerate(zip(_DAY_KEYS, _DAY_NAMES, strict=True)):
        if word in (short, full):
            return number
    raise InvalidInput("unknown day", key="schedule.usage")


def parse_days(text: str) -> str:
    """"daily", "weekdays", "weekends", "mon-fri" (wrapping: "fri-mon"), "mon,wed,fri" or a
    mix ("mon-wed,sat") to weekday digits, Monday being 0."""
    spec = text.strip().lower()
    if spec in _DAY_SETS:
        return _DAY_SETS[spec]
    chosen: set[int] = set()
    for part in spec.split(","):
        if not part.strip():
            raise InvalidInput("empty day", key="schedule.usage")
        first, dash, last = part.partition("-")
        start = _day(first)
        if not dash:
            chosen.add(start)
            continue
        end = _day(last)
        for step in range((end - start) % 7 + 1):
            chosen.add((start + step) % 7)
    return "".join(str(d) for d in sorted(chosen))


def parse_window(text: str) -> tuple[str, str]:
    """"18:00-22:00" to ("18:00", "22:00"); a range may wrap past midnight."""
    first, dash, last = text.partition("-")
    if not dash:
        raise InvalidInput("no range", key="schedule.usage")
    try:
        start, end = parse_time(first), parse_time(last)
    except InvalidInput:
        raise InvalidInput("bad window", key="schedule.usage") from None
    if start == end:
        raise InvalidInput("empty window", key="schedule.usage")
    return start, end


def parse_schedule(args: str | None) -> ScheduleRequest:
    words = (args or "").split()
    if len(words) < 2:
        raise InvalidInput("too few arguments", key="schedule.usage")
    code, time_text, rest = words[0].upper(), words[1], words[2:]
    try:
        checkin_time = parse_time(time_text)
    except InvalidInput:
        raise InvalidInput("bad time", key="schedule.usage") from None
    days: str | None = None
    window: tuple[str, str] | None = None
    clear = False
    if rest and rest[0].lower() != "window":
        days = parse_days(rest.pop(0))
    if rest:
        if rest[0].lower() != "window" or len(rest) != 2:
            raise InvalidInput("unexpected words", key="schedule.usage")
        if rest[1].lower() in ("off", "none"):
            clear = True
        else:
            window = parse_window(rest[1])
    if days == "":
        raise InvalidInput("no days", key="schedule.usage")
    return ScheduleRequest(code, checkin_time, days, window, clear)


def parse_pause(args: str | None) -> tuple[str, str]:
    """/pause CODE reason: exactly a code and one of PAUSE_REASONS, nothing else."""
    words = (args or "").split()
    if len(words) != 2 or words[1].lower() not in PAUSE_REASONS:
        raise InvalidInput("bad pause", key="pause.usage")
    return words[0].upper(), words[1].lower()


def parse_code(args: str | None) -> str:
    words = (args or "").split()
    if len(words) != 1:
        raise InvalidInput("bad resume", key="resume.usage")
    return words[0].upper()


def within_window(checkin_time: str, start: str | None, end: str | None) -> bool:
    """Whether "HH:MM" lies in [start, end]; no window allows any time. "HH:MM" strings
    compare in time order, and a window like 22:00-02:00 wraps past midnight."""
    if not start or not end:
        return True
    if start <= end:
        return start <= checkin_time <= end
    return checkin_time >= start or checkin_time <= end


def days_text(days: str, language: str) -> str:
    """Weekday digits as the person reads them: "every day" or "Mon, Wed, Fri"."""
    if days == ALL_DAYS:
        return gettext_for(language, EVERY_DAY)
    names = get_day_names("abbreviated", locale=language)
    return ", ".join(str(names[int(d)]) for d in days)


# ------------------------------------------------------------------------------- service


class ScheduleService:
    """Keyword-only: the clock is injected so pause times are testable."""

    def __init__(self, *, clock: Clock, team: SharingService | None = None) -> None:
        self._team = team  # officers who agreed to hear of status changes
        self._clock = clock

    async def client_for(self, uow: UnitOfWork, clinician: Clinician, code: str) -> Client:
        """The clinician's own client by code, or any for a supervisor; anything else is
        answered exactly like a code that does not exist."""
        return await visible_client(uow, clinician, code, statuses=CURRENT)

    async def set_schedule(self, uow: UnitOfWork, clinician: Clinician,
                           request: ScheduleRequest) -> Client:
        client = await self.client_for(uow, clinician, request.code)
        start, end = client.window_start, client.window_end
        if request.clear_window:
            start = end = None
        elif request.window is not None:
            start, end = request.window
        if not within_window(request.checkin_time, start, end):
            raise InvalidInput("time outside the window", key="schedule.outside_window")
        days = request.days or client.checkin_days
        updated = await uow.clients.update(client.id, checkin_time=request.checkin_time,
                                           checkin_days=days, window_start=start,
                                           window_end=end)
        now = self._clock.now()
        window = f"{start}-{end}" if start and end else "none"
        await uow.audit(at=now, actor=f"clinician:{clinician.id}", action="client.schedule",
                        client_id=client.id,
                        detail=f"time {request.checkin_time} days {days} window {window}")
        if updated.status == ClientStatus.ACTIVE and updated.telegram_id is not None:
            await self._tell(uow, updated, gettext_for(updated.language, SCHEDULE_CHANGED).format(
                time=updated.checkin_time, timezone=updated.timezone,
                days=days_text(days, updated.language)))
        return updated

    async def pause(self, uow: UnitOfWork, clinician: Clinician, code: str,
                    reason: str) -> Client:
        """No prompts and no missed-day alerts until resumed. The client is not told: they
        may be in hospital or custody, where a message helps nobody and others may read it."""
        if reason not in PAUSE_REASONS:
            raise InvalidInput("unknown reason", key="pause.usage")
        client = await self.client_for(uow, clinician, code)
        if client.status == ClientStatus.INVITED:
            raise NotEnrolled("not enrolled")
        if client.status == ClientStatus.PAUSED and client.pause_reason == reason:
            return client
        now = self._clock.now()
        updated = await uow.clients.update(
            client.id, status=ClientStatus.PAUSED, pause_reason=reason,
            paused_at=client.paused_at if client.status == ClientStatus.PAUSED else now)
        await uow.audit(at=now, actor=f"clinician:{clinician.id}", action="client.pause",
                        client_id=client.id, detail=f"reason {reason}")
        if self._team is not None and client.status != ClientStatus.PAUSED:
            await self._team.status_changed(uow, updated, ClientStatus.PAUSED)
        return updated

    async def resume(self, uow: UnitOfWork, clinician: Clinician, code: str
                     ) -> tuple[Client, bool]:
        """Back to daily check-ins; False when the client was not paused. The paused days are
        never marked missed: the scheduler starts counting from this moment (resumed_at)."""
        client = await self.client_for(uow, clinician, code)
        if client.status == ClientStatus.INVITED:
            raise NotEnrolled("not enrolled")
        if client.status != ClientStatus.PAUSED:
            return client, False
        now = self._clock.now()
        updated = await uow.clients.update(client.id, status=ClientStatus.ACTIVE, pause_reason=None,
                                           paused_at=None, resumed_at=now)
        await uow.audit(at=now, actor=f"clinician:{clinician.id}", action="client.resume",
                        client_id=client.id, detail=f"was {client.pause_reason}")
        if self._team is not None:
            await self._team.status_changed(uow, updated, ClientStatus.ACTIVE)
        if updated.telegram_id is not None and not updated.unreachable:
            await self._tell(uow, updated, gettext_for(updated.language, RESUMED).format(
                time=updated.checkin_time, timezone=updated.timezone))
        return updated, True

    async def _tell(self, uow: UnitOfWork, client: Client, text: str) -> None:
        assert client.telegram_id is not None
        await uow.outbox.add(chat_id=client.telegram_id, kind="notice", method="sendMessage",
                             params={"text": text}, now=self._clock.now(), client_id=client.id)


__all__ = ["PAUSE_REASONS", "PAUSE_REASON_NAMES", "NotEnrolled",
           "OutsideWindow", "ScheduleRequest", "ScheduleService", "days_text", "parse_code",
           "parse_days", "parse_pause", "parse_schedule", "parse_window", "within_window"]
