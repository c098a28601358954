"""Treatment groups: facilitators, members, the weekly session and its preparation sheet.

A group has one or more facilitators (clinicians) and members (clients of any
facilitator). A session creates each member's appointment (kind "group", one instant for
all) through AppointmentService; its attendance is taken for the whole group at once.
Before a session the facilitators read the preparation sheet: per member, the check-ins
since the last session, alerts and their state, high-risk situations reported, a plan
change, homework due and done, sorted by need.

The access rule: a facilitator sees a member who is not their own client only through the
group's sheet (and its attendance screen); every other page and command asks
journal/people.py's `visible_client`, which knows nothing of groups. Each sheet read is
audited per member. Nothing a member wrote reaches another member: the bot stays in private
chats, and the sheet is for staff only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Final

from journal.alerts.levels import level_rank
from journal.appointments import AppointmentService, zone_of
from journal.checkin.days import local_instant, parse_hhmm
from journal.checkin.questionnaire import Questionnaire
from journal.clock import Clock
from journal.errors import InvalidInput, NotFound
from journal.homework import DONE, LATE, MISSING, HomeworkRequest, HomeworkService, state_of
from journal.review.situations import situations
from storage.records import (
    Appointment,
    Client,
    ClientStatus,
    Clinician,
    DayStatus,
    Group,
    Homework,
)
from storage.uow import UnitOfWork

GROUP_KIND: Final = "group"
NAME_LIMIT: Final = 80
FIRST_SHEET_DAYS: Final = 7  # before a group's first session the sheet looks back a week


@dataclass(frozen=True, slots=True)
class MemberSheet:
    """One member's week on the preparation sheet."""

    code: str
    client_id: str
    own_clinician: int
    checkins_done: int
    checkins_missed: int
    open_alerts: dict[str, int]
    alerts_since: int
    situations: tuple[str, ...]  # each reported high-risk situation, its day and words
    plan_changed: datetime | None
    homework_done: int
    homework_missing: int
    last_attendance: str | None

    @property
    def need(self) -> tuple[int, ...]:
        """Most in need first: open critical, open high alerts, situations, missed days,
        missing homework."""
        return (-self.open_alerts.get("critical", 0), -self.open_alerts.get("high", 0),
                -sum(self.open_alerts.values()), -len(self.situations),
                -self.checkins_missed, -self.homework_missing)


@dataclass(frozen=True)
class Sheet:
    group: Group
    since: datetime
    session: datetime | None
    members: list[MemberSheet] = field(default_factory=list)


class GroupService:
    def __init__(self, *, clock: Clock, appointments: AppointmentService,
                 homework: HomeworkService, questionnaire: Questionnaire,
                 default_timezone: str = "UTC") -> None:
        self._clock = clock
        self._appointments = appointments
        self._homework = homework
        self._q = questionnaire
        self._zone = default_timezone

    # -- the group ---------------------------------------------------------------------------
    async def create(self, uow: UnitOfWork, clinician: Clinician, name: str, weekday: int,
                     at_time: str) -> Group:
        name = name.strip()
        if not name or len(name) > NAME_LIMIT or not 0 <= weekday <= 6:
            raise InvalidInput("bad group", key="group.invalid")
        try:
            parse_hhmm(at_time)
        except ValueError:
            raise InvalidInput("bad time", key="group.invalid") from None
        now = self._clock.now()
        group = await uow.groups.add(name=name, weekday=weekday, at_time=at_time,
                                     timezone=clinician.timezone or self._zone,
                                     created_by=clinician.id, now=now)
        await uow.audit(at=now, actor=f"clinician:{clinician.id}", action="group.create",
                        detail=f"group {group.id}")
        return group

    async def mine(self, uow: UnitOfWork, clinician: Clinician) -> list[Group]:
        return await uow.groups.of_facilitator(None if clinician.is_supervisor
                                               else clinician.id)

    async def facilitated(self, uow: UnitOfWork, clinician: Clinician, group_id: str) -> Group:
        """The group, if the clinician facilitates it (a supervisor: any); else "not found"."""
        group = await uow.groups.get(group_id)
        if group is None or not (clinician.is_supervisor
                                 or clinician.id in group.facilitators):
            raise NotFound("no such group", key="group.not_found")
        return group

    async def add_facilitator(self, uow: UnitOfWork, clinician: Clinician, group_id: str,
                              telegram_id: int) -> Group:
        group = await self.facilitated(uow, clinician, group_id)
        other = await uow.clinicians.by_telegram_id(telegram_id)
        if other is None or not other.active:
            raise NotFound("no such clinician", key="clinician.not_found")
        await uow.groups.add_facilitator(group.id, other.id)
        await uow.audit(at=self._clock.now(), actor=f"clinician:{clinician.id}",
                        action="group.facilitator", detail=f"group {group.id} {other.id}")
        return await self.facilitated(uow, clinician, group_id)

    async def add_member(self, uow: UnitOfWork, clinician: Clinician, group_id: str,
                         code: str) -> Group:
        """A member is a client of one of the group's facilitators (any, for a supervisor)."""
        group = await self.facilitated(uow, clinician, group_id)
        client = await uow.clients.by_code(code.strip().upper())
        if (client is None or client.status not in (ClientStatus.ACTIVE, ClientStatus.PAUSED)
                or not (clinician.is_supervisor
                        or client.clinician_id in group.facilitators)):
            raise NotFound("no such client", key="client.not_found")
        await uow.groups.add_member(group.id, client.id)
        await uow.audit(at=self._clock.now(), actor=f"clinician:{clinician.id}",
                        action="group.member", client_id=client.id, detail=f"group {group.id}")
        return await self.facilitated(uow, clinician, group_id)

    async def members(self, uow: UnitOfWork, group: Group) -> list[Client]:
        found = [await uow.clients.get(client_id) for client_id in group.members]
        return sorted((c for c in found if c is not None and c.status != "erased"),
                      key=lambda c: c.code)

    # -- sessions --------------------------------------------------------------------------
    def next_session(self, group: Group, after: datetime) -> datetime:
        """The group's next weekly session after `after`, in its zone (DST-safe)."""
        zone = zone_of(group.timezone)
        day = after.astimezone(zone).date()
        at = parse_hhmm(group.at_time)
        for ahead in range(8):
            candidate = day + timedelta(days=ahead)
            if candidate.weekday() == group.weekday:
                instant = local_instant(candidate, at, zone)
                if instant > after:
                    return instant
        return local_instant(day + timedelta(days=7 + (group.weekday - day.weekday()) % 7),
                             at, zone)

    async def schedule_next(self, uow: UnitOfWork, clinician: Clinician, group_id: str,
                            *, place: str = "", online: bool = False
                            ) -> tuple[datetime, list[Appointment]]:
        """The next weekly session: an appointment for each member who has none then."""
        group = await self.facilitated(uow, clinician, group_id)
        starts_at = self.next_session(group, self._clock.now())
        have = {a.client_id for a in await uow.appointments.of_group_session(group.id,
                                                                             starts_at)}
        made = []
        for client in await self.members(uow, group):
            if client.id in have or client.status != ClientStatus.ACTIVE:
                continue
            made.append(await self._appointments.add_at(
                uow, client, clinician.id, GROUP_KIND, starts_at, online=online, place=place,
                actor=f"clinician:{clinician.id}", group_id=group.id))
        return starts_at, made

    async def session(self, uow: UnitOfWork, clinician: Clinician, group_id: str,
                      starts_at: datetime) -> tuple[Group, list[tuple[Client, Appointment]]]:
        """One session's attendance screen: each member's appointment."""
        group = await self.facilitated(uow, clinician, group_id)
        found = []
        for appointment in await uow.appointments.of_group_session(group.id, starts_at):
            client = await uow.clients.get(appointment.client_id)
            if client is not None and client.status != "erased":
                found.append((client, appointment))
        return group, sorted(found, key=lambda pair: pair[0].code)

    async def record_attendance(self, uow: UnitOfWork, clinician: Clinician, group_id: str,
                                starts_at: datetime, marks: dict[str, str]) -> int:
        """The whole group's attendance at once: {client code: mark}; returns how many were
        recorded. A facilitator records it for every member, their own clients or not."""
        _group, pairs = await self.session(uow, clinician, group_id, starts_at)
        recorded = 0
        for client, appointment in pairs:
            mark = marks.get(client.code)
            if mark:
                await self._appointments.record_for(uow, clinician, client, appointment, mark)
                recorded += 1
        return recorded

    async def give_homework(self, uow: UnitOfWork, clinician: Clinician, group_id: str,
                            request: HomeworkRequest) -> list[tuple[Client, Homework]]:
        """The same task for every active member of a group the clinician facilitates."""
        group = await self.facilitated(uow, clinician, group_id)
        members = [c for c in await self.members(uow, group)
                   if c.status in (ClientStatus.ACTIVE, ClientStatus.PAUSED)]
        if not members:
            raise InvalidInput("no members", key="group.invalid")
        return await self._homework.assign_to(uow, clinician, members, request)

    # -- the preparation sheet ----------------------------------------------------------------
    async def sheet(self, uow: UnitOfWork, clinician: Clinician, group_id: str,
                    language: str) -> Sheet:
        """Each member's week since the last session, most in need first. Reading it is
        audited for every member whose record it shows."""
        group = await self.facilitated(uow, clinician, group_id)
        now = self._clock.now()
        sessions = await uow.appointments.group_sessions(group.id)
        past = [s for s in sessions if s <= now]
        ahead = [s for s in sessions if s > now]
        since = past[0] if past else now - timedelta(days=FIRST_SHEET_DAYS)
        members = []
        for client in await self.members(uow, group):
            members.append(await self._member(uow, client, since, now, language,
                                              last_session=past[0] if past else None,
                                              group_id=group.id))
            await uow.audit(at=now, actor=f"clinician:{clinician.id}", action="group.sheet",
                            client_id=client.id, detail=f"group {group.id}")
        members.sort(key=lambda m: (m.need, m.code))
        return Sheet(group, since, ahead[-1] if ahead else None, members)

    async def _member(self, uow: UnitOfWork, client: Client, since: datetime, now: datetime,
                      language: str, *, last_session: datetime | None,
                      group_id: str) -> MemberSheet:
        zone = zone_of(client.timezone)
        first_day: date = since.astimezone(zone).date()
        checkins = await uow.checkins.recent(client.id, since=first_day)
        done = sum(1 for c in checkins if c.status == DayStatus.SUBMITTED)
        missed = sum(1 for c in checkins if c.status == DayStatus.MISSED)
        open_alerts = (await uow.alerts.open_counts([client.id])).get(client.id, {})
        raised = await uow.alerts.recent(client.id, since=since)
        plan = await uow.plans.get(client.id)
        found = situations(checkins, self._q, plan.coping_steps, language)
        words = tuple(f"{s.day.isoformat()}: {s.happened or '—'}" for s in found)
        homework = [h for h in await uow.homework.of_client(client.id)
                    if since <= h.due_at <= now + timedelta(days=7)]
        states = [state_of(h, now) for h in homework]
        attendance = None
        if last_session is not None:
            mine = [a for a in await uow.appointments.of_group_session(group_id, last_session)
                    if a.client_id == client.id]
            attendance = mine[0].attendance if mine else None
        return MemberSheet(
            code=client.code, client_id=client.id, own_clinician=client.clinician_id,
            checkins_done=done, checkins_missed=missed,
            open_alerts={k: v for k, v in sorted(open_alerts.items(),
                                                  key=lambda kv: -level_rank(kv[0]))},  # type: ignore[arg-type]
            alerts_since=len(raised), situations=words,
            plan_changed=plan.updated_at if plan.updated_at and plan.updated_at >= since
            else None,
            homework_done=sum(1 for s in states if s in (DONE, LATE)),
            homework_missing=sum(1 for s in states if s == MISSING),
            last_attendance=attendance)


def sheet_pdf_data(sheet: Sheet, language: str, zone: str) -> object:
    """The sheet in the reader's words, as the PDF worker takes it (plain values)."""
    from journal.alerts.levels import WORDS
    from journal.appointments import ATTENDANCE_NAMES
    from journal.group_sheet_pdf import SheetPdf
    from journal.i18n import gettext_for, ngettext_for
    from journal.times import shown_time

    def t(text: str) -> str:
        return gettext_for(language, text)

    members = []
    for m in sheet.members:
        alerts = ", ".join(f"{t(WORDS[level]) if level in WORDS else level}: {n}"
                           for level, n in m.open_alerts.items()) or t("none")
        alerts += " (" + ngettext_for(language, "{n} raised since", "{n} raised since",
                                      m.alerts_since).format(n=m.alerts_since) + ")"
        members.append((m.code, [
            (t("Check-ins"), t("done: {done}, missed: {missed}").format(
                done=m.checkins_done, missed=m.checkins_missed)),
            (t("Open alerts"), alerts),
            (t("High-risk situations"), "; ".join(m.situations) or t("none")),
            (t("Plan"), t("changed {time}").format(time=shown_time(m.plan_changed, zone))
             if m.plan_changed else t("unchanged")),
            (t("Homework"), t("done: {done}, missing: {missing}").format(
                done=m.homework_done, missing=m.homework_missing)),
            (t("Last session"), t(ATTENDANCE_NAMES[m.last_attendance])
             if m.last_attendance else "—")]))
    subtitle = t("Since {time}, most in need first.").format(time=shown_time(sheet.since, zone))
    if sheet.session is not None:
        subtitle += " " + t("Next session: {time}.").format(time=shown_time(sheet.session,
                                                                            zone))
    return SheetPdf(f"{t('Preparation sheet')}: {sheet.group.name}", subtitle,
                    gettext_for(language, "Confidential. For the group's facilitators only."),
                    members)


async def render_sheet_pdf(data: object) -> bytes:
    from journal.group_sheet_pdf import build_sheet_pdf
    from journal.review.renderer import RENDERER  # multiprocessing, only once needed

    return await RENDERER.run(build_sheet_pdf, data)


def session_key(starts_at: datetime) -> str:
    """A session's instant in a URL: yyyymmddHHMM in UTC."""
    return starts_at.strftime("%Y%m%d%H%M")


def session_from_key(key: str) -> datetime | None:
    try:
        return datetime.strptime(key, "%Y%m%d%H%M").replace(tzinfo=UTC)
    except ValueError:
        return None


__all__ = ["GROUP_KIND", "GroupService", "MemberSheet", "Sheet", "render_sheet_pdf",
           "session_from_key", "session_key", "sheet_pdf_data"]
