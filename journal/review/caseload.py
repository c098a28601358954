"""A clinician's caseload ordered by need, the program at a glance for supervisors, and
moving a client to another caseload."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, cast

from journal.alerts.levels import LEVELS, Level, level_rank
from journal.clock import Clock
from journal.errors import NotAllowed, NotFound
from journal.i18n import N_, gettext_for
from journal.people import actor_of, existing_client
from journal.review.adherence import Adherence, adherence, client_today, states_by_status
from journal.staff import StaffDefaults
from storage.records import Client, Clinician
from storage.uow import UnitOfWork

if TYPE_CHECKING:
    from journal.phases.service import PhaseService

STAFF_NEW_CLIENT: Final = N_("Client {code} is now on your caseload.")
STAFF_CLIENT_MOVED: Final = N_("Client {code} was moved to the caseload of {name}.")


class UnknownClinician(NotFound):
    """No active clinician has that Telegram id."""

    key = "clinician.not_found"


@dataclass(frozen=True)
class CaseloadEntry:
    """One client on a caseload, from plaintext columns only (nothing is decrypted)."""

    client: Client
    today: date
    last_checkin: date | None
    latest_level: str | None
    week: Adherence
    month: Adherence
    open_alerts: Mapping[str, int] = field(default_factory=dict)
    phase: str | None = None  # the phase's name in the viewer's language
    phase_state: str | None = None  # ready (criteria met) | proposed (awaiting approval)
    rating_overdue: bool = False


def need_order(entry: CaseloadEntry) -> tuple[Any, ...]:
    """Most in need first: open critical alerts, open high alerts, the latest indicator
    level, then the weakest adherence (a client never asked yet sorts last)."""
    ratio = entry.week.ratio
    level = cast(Level, entry.latest_level) if entry.latest_level in LEVELS else "low"
    return (-entry.open_alerts.get("critical", 0), -entry.open_alerts.get("high", 0),
            -level_rank(level),
            ratio if ratio is not None else 2.0,
            entry.month.ratio if entry.month.ratio is not None else 2.0, entry.client.code)


# How long an open alert has waited, as the program page groups them.
AGE_BANDS: Final = (("hour", N_("under 1 hour")), ("day", N_("1 to 24 hours")),
                    ("older", N_("over a day")))


def age_band(raised: datetime, now: datetime) -> str:
    waited = now - raised
    return "hour" if waited < timedelta(hours=1) else (
        "day" if waited <= timedelta(hours=24) else "older")


@dataclass(frozen=True)
class CaseloadWeek:
    """One clinician's caseload on the program page: check-ins done of those due over
    the last 7 days of each client and the 7 before, and open alerts past their
    escalation time (acknowledgements overdue)."""

    clinician: Clinician
    clients: int
    this_week: Adherence
    last_week: Adherence
    overdue: int


@dataclass(frozen=True)
class ProgramGlance:
    caseloads: list[CaseloadWeek]
    open_alerts: Mapping[str, Mapping[str, int]]  # {level: {age band: open alerts}}

    @property
    def overdue(self) -> list[CaseloadWeek]:
        return sorted((c for c in self.caseloads if c.overdue),
                      key=lambda c: (-c.overdue, c.clinician.name))


@dataclass(frozen=True)
class Reassignment:
    client: Client
    before: Clinician | None
    after: Clinician


class CaseloadService:
    def __init__(self, *, clock: Clock, staff_language: str = "en",
                 phases: PhaseService | None = None) -> None:
        self._phases = phases
        self._clock = clock
        self._staff = StaffDefaults(language=staff_language)

    async def caseload(self, uow: UnitOfWork, clinician: Clinician) -> list[CaseloadEntry]:
        clients = await uow.clients.for_clinician(None if clinician.is_supervisor
                                                  else clinician.id)
        ids = [c.id for c in clients]
        counts = await uow.alerts.open_counts(ids)
        now = self._clock.now()
        todays = {c.id: client_today(c, now) for c in clients}
        window = timedelta(days=29)  # clients' todays differ by time zone: read the union
        statuses = (await uow.checkins.statuses_of(ids, since=min(todays.values()) - window,
                                                   until=max(todays.values()))
                    ) if clients else {}
        latest_days = await uow.checkins.latest_days(ids) if clients else {}
        marks = await self._phases.caseload_marks(uow, clients) if self._phases else {}
        language = self._staff.of(clinician).language
        entries = []
        for client in clients:
            today = todays[client.id]
            start = today - window
            latest = latest_days.get(client.id)
            states = states_by_status(client, statuses[client.id], start=start, end=today,
                                      today=today)
            entries.append(CaseloadEntry(
                client=client, today=today,
                last_checkin=latest.local_date if latest else None,
                latest_level=latest.risk_level if latest else None,
                week=adherence(states, start=today - timedelta(days=6), end=today),
                month=adherence(states, start=start, end=today),
                open_alerts=counts.get(client.id, {}),
                **self._phase_fields(marks.get(client.id), language)))
        entries.sort(key=need_order)
        await uow.audit(at=now, actor=actor_of(clinician), action="caseload.view",
                        detail=f"clients: {len(entries)}")
        return entries

    async def program(self, uow: UnitOfWork, viewer: Clinician) -> ProgramGlance:
        """Every caseload's adherence this week and last, open alerts by level and age,
        and overdue acknowledgements: for supervisors only (anyone else finds nothing, as
        with another caseload's client). A few grouped statements whatever the caseloads;
        nothing is decrypted but the open alerts' levels (see open_ages)."""
        if not viewer.is_supervisor:
            raise NotFound("the program page is for supervisors")
        now = self._clock.now()
        clients = await uow.clients.for_clinician(None)
        todays = {c.id: client_today(c, now) for c in clients}
        window = timedelta(days=13)
        statuses = (await uow.checkins.statuses_of(
            [c.id for c in clients], since=min(todays.values()) - window,
            until=max(todays.values()))) if clients else {}
        open_alerts = await uow.alerts.open_ages(now)
        staff = await uow.clinicians.everyone()
        week: dict[int, list[int]] = {}  # clinician id: [clients, done, due, done, due]
        for client in clients:
            today = todays[client.id]
            states = states_by_status(client, statuses[client.id], start=today - window,
                                      end=today, today=today)
            this = adherence(states, start=today - timedelta(days=6), end=today)
            last = adherence(states, start=today - window, end=today - timedelta(days=7))
            sums = week.setdefault(client.clinician_id, [0, 0, 0, 0, 0])
            for n, value in enumerate((1, this.done, this.expected, last.done, last.expected)):
                sums[n] += value
        overdue: dict[int, int] = {}
        by_level: dict[str, dict[str, int]] = {}
        for alert in open_alerts:
            band = by_level.setdefault(alert.level, {})
            key = age_band(alert.created_at, now)
            band[key] = band.get(key, 0) + 1
            if alert.overdue:
                overdue[alert.clinician_id] = overdue.get(alert.clinician_id, 0) + 1
        caseloads = []
        for person in staff:
            sums = week.get(person.id, [0, 0, 0, 0, 0])
            if not (person.active or sums[0] or overdue.get(person.id)):
                continue
            caseloads.append(CaseloadWeek(
                clinician=person, clients=sums[0], this_week=Adherence(sums[1], sums[2]),
                last_week=Adherence(sums[3], sums[4]), overdue=overdue.get(person.id, 0)))
        caseloads.sort(key=lambda c: (-c.overdue, c.clinician.name))
        await uow.audit(at=now, actor=actor_of(viewer), action="program.view",
                        detail=f"caseloads: {len(caseloads)}")
        return ProgramGlance(caseloads=caseloads, open_alerts=by_level)

    async def reassign(self, uow: UnitOfWork, code: str, to_telegram_id: int, *,
                       by: Clinician | None = None, actor: str = "admin:cli") -> Reassignment:
        """Move a client to another clinician's caseload; both clinicians are told.

        `by` is the supervisor giving the command in the bot (None from the command line)."""
        if by is not None:
            if not by.is_supervisor:
                raise NotAllowed("only supervisors reassign clients")
            actor = actor_of(by)
        client = await existing_client(uow, code)
        target = await uow.clinicians.by_telegram_id(to_telegram_id)
        if target is None or target.is_officer:
            raise UnknownClinician(f"no active clinician with Telegram id {to_telegram_id}")
        before = await uow.clinicians.get(client.clinician_id)
        if target.id == client.clinician_id:
            return Reassignment(client, before, target)
        now = self._clock.now()
        client = await uow.clients.update(client.id, clinician_id=target.id)
        if before is not None:  # what was queued to the old clinician about them is stopped
            await uow.outbox.cancel_to(chat_id=before.telegram_id, client_id=client.id)
        await uow.audit(at=now, actor=actor, action="client.reassign", client_id=client.id,
                        detail=f"client {client.code} from clinician "
                               f"{before.id if before else '-'} to clinician {target.id}")
        await uow.outbox.add(chat_id=target.telegram_id, kind="notice", method="sendMessage",
                             params={"text": self._t(STAFF_NEW_CLIENT, target).format(
                                 code=client.code)},
                             now=now, client_id=client.id)
        if before is not None and before.active:
            await uow.outbox.add(
                chat_id=before.telegram_id, kind="notice", method="sendMessage",
                params={"text": self._t(STAFF_CLIENT_MOVED, before).format(
                    code=client.code, name=target.name)},
                now=now, client_id=client.id)
        return Reassignment(client, before, target)

    def _phase_fields(self, mark: tuple[str, str | None, bool] | None, language: str
                      ) -> dict[str, Any]:
        if mark is None or self._phases is None:
            return {}
        phase, state, overdue = mark
        return {"phase": self._phases.phases.of(phase).name.get(language), "phase_state": state,
                "rating_overdue": overdue}

    def _t(self, message: str, reader: Clinician | None) -> str:
        """In the reader's own language, else the program's."""
        return gettext_for(self._staff.of(reader).language, message)


__all__ = ["AGE_BANDS", "CaseloadEntry", "CaseloadService", "CaseloadWeek", "ProgramGlance",
           "Reassignment", "UnknownClinician", "need_order"]
