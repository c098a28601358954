"""Stepping a client through the program's phases.

Down takes two people: the criteria met, the clinician is told and may propose the step; a
supervisor other than the proposer approves it, and only then does anything change. Up
takes a rule (an alert the phases file names) or a clinician with a reason, at once. Every
change is recorded with who, why and the criteria as they stood; the schedule follows by
the client's check-in days, which the scheduler already honours at no extra cost.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from journal.alerts.levels import LEVELS, WORDS
from journal.checkin.days import DueDays, counts_from, due_count, local_date
from journal.checkin.schedule import days_text
from journal.clock import Clock
from journal.errors import InvalidInput, NotFound
from journal.i18n import N_, gettext_for, ngettext_for
from journal.people import CURRENT, visible_client
from journal.phases.model import Phase, Phases
from journal.phases.review import CriterionRow, PhaseReview, TimelineRow, compare
from journal.staff import StaffDefaults
from storage.records import Alert, Client, ClientStatus, Clinician
from storage.repositories.phases import DomainRating, PhaseStep
from storage.uow import UnitOfWork

MAX_REASON: Final = 500

# What each criterion asks, for the client (second person) and for staff; {n} the number
# the phases file asks (a count of days, a percentage), {rating} the highest rating allowed.
# Counted texts are ngettext pairs, so that one day reads right in every language.
def _criterion_texts(language: str, n: int, *, staff: bool) -> Mapping[str, str]:
    if staff:
        return {
            "min_days": gettext_for(language, N_("days in phase at least {n}")),
            "min_adherence": gettext_for(language, N_("adherence over due days at least {n}%")),
            "no_alert": ngettext_for(language, "no alert at or above {level} for {n} day",
                                     "no alert at or above {level} for {n} days", n),
            "plan_reviewed": ngettext_for(language, "plan reviewed within {n} day",
                                          "plan reviewed within {n} days", n),
            "rating": gettext_for(language, N_("clinician's latest rating at most {rating} in "
                                               "every domain")),
        }
    return {
        "min_days": ngettext_for(language, "{n} day in this step", "{n} days in this step", n),
        "min_adherence": gettext_for(language,
                                     N_("check-ins done on at least {n}% of the days asked")),
        "no_alert": ngettext_for(language, "{n} day without a serious concern",
                                 "{n} days without a serious concern", n),
        "plan_reviewed": ngettext_for(language, "your plan gone over in the last {n} day",
                                      "your plan gone over in the last {n} days", n),
        "rating": gettext_for(language, N_("your clinician's latest review at or below "
                                           "{rating} in every area")),
    }


READY_NOTICE: Final = N_("Client {code} meets the criteria to step down from {current} to "
                         "{next}. To propose it: /stepdown {code}")
PROPOSED_NOTICE: Final = N_("{name} proposes that client {code} steps down from {current} to "
                            "{next}. To approve it: /approve {code}")
APPROVED_NOTICE: Final = N_("Client {code} stepped down to {next}, approved by {name}.")
STEPPED_UP_NOTICE: Final = N_("Client {code} stepped up from {current} to {next} at once, by "
                              "the program's rule after an alert.")
STEPPED_UP_BY_NOTICE: Final = N_("Client {code} stepped up from {current} to {next} by {name}.")

# The client's words. The first line of each is discreet: a lock screen shows it.
CLIENT_DOWN: Final = N_("Good news about your check-ins.")
CLIENT_UP: Final = N_("A change to your check-ins.")
CLIENT_UP_BODY: Final = N_("For a while your check-ins come {when} again, so your team can "
                           "support you more closely. It is not a punishment: it is there to "
                           "help, and you can step down again. /progress shows what it asks.")


@dataclass(frozen=True)
class CriterionState:
    key: str  # min_days | min_adherence | no_alert | plan_reviewed | rating
    required: Mapping[str, Any]  # the numbers the phases file asks, for the texts
    actual: Any
    met: bool


@dataclass(frozen=True)
class Progress:
    """Where a client stands: their phase, since when, and what the next asks."""

    phase: Phase
    since: datetime
    days_in_phase: int
    next: Phase | None
    criteria: tuple[CriterionState, ...]
    done: int
    due: int

    @property
    def ready(self) -> bool:
        return self.next is not None and all(c.met for c in self.criteria)

    def as_record(self) -> dict[str, Any]:
        """The criteria as they stood, for the step's sealed record."""
        return {"phase": self.phase.id, "days_in_phase": self.days_in_phase,
                "done": self.done, "due": self.due,
                "criteria": [{"key": c.key, "required": dict(c.required),
                              "actual": c.actual, "met": c.met} for c in self.criteria]}


class PhaseService:
    def __init__(self, *, clock: Clock, phases: Phases, rating_days: int = 30,
                 staff_language: str = "en", display_timezone: str = "UTC",
                 domains: tuple[str, ...] = ()) -> None:
        """`domains`: the domains the check-in tracks, in order: what a clinician rates."""
        self.domains = domains
        self._clock = clock
        self.phases = phases
        self.rating_days = rating_days
        self._staff = StaffDefaults(staff_language, display_timezone)

    # -- reading ---------------------------------------------------------------------
    def staff_zone(self, person: Clinician) -> str:
        return self._staff.of(person).timezone

    def phase_of(self, client: Client) -> Phase:
        return self.phases.of(client.phase)

    def since(self, client: Client) -> datetime:
        since = counts_from(client)
        return max(since, client.phase_since) if client.phase_since else since

    async def progress(self, uow: UnitOfWork, client: Client) -> Progress:
        now = self._clock.now()
        phase = self.phase_of(client)
        since = self.since(client)
        start = local_date(client, since)
        today = local_date(client, now)
        days_in = (today - start).days
        statuses = await uow.checkins.statuses(client.id, since=start)
        due = DueDays(((start, client.checkin_days),))
        done, expected = due_count(statuses, due, start=start, end=today, today=today)
        criteria: list[CriterionState] = []
        rule = phase.step_down
        if rule is not None:
            if rule.min_days is not None:
                criteria.append(CriterionState("min_days", {"n": rule.min_days}, days_in,
                                               days_in >= rule.min_days))
            if rule.min_adherence is not None:
                ratio = done / expected if expected else 0.0
                criteria.append(CriterionState(
                    "min_adherence", {"n": round(rule.min_adherence * 100)}, round(ratio * 100),
                    expected > 0 and ratio >= rule.min_adherence))
            if rule.no_alert_at_or_above is not None and rule.no_alert_days is not None:
                floor = LEVELS.index(rule.no_alert_at_or_above)
                window_start = max(since, now - timedelta(days=rule.no_alert_days))
                alerts = [a for a in await uow.alerts.recent(client.id, since=window_start)
                          if a.level in LEVELS and LEVELS.index(a.level) >= floor]
                clear_for = (now - max(a.created_at for a in alerts)).days if alerts else \
                    (now - since).days
                criteria.append(CriterionState(
                    "no_alert", {"n": rule.no_alert_days, "level": rule.no_alert_at_or_above},
                    clear_for, not alerts and (now - since).days >= rule.no_alert_days))
            if rule.plan_reviewed_days is not None:
                plan = await uow.plans.get(client.id)
                age = (now - plan.updated_at).days if plan.updated_at else None
                criteria.append(CriterionState(
                    "plan_reviewed", {"n": rule.plan_reviewed_days}, age,
                    age is not None and age <= rule.plan_reviewed_days))
            if rule.rating_at_most is not None:
                ratings = await uow.phases.ratings(client.id, limit=1)
                worst = max(ratings[0].ratings.values(), default=0) if ratings else None
                criteria.append(CriterionState(
                    "rating", {"n": rule.rating_at_most}, worst,
                    worst is not None and worst <= rule.rating_at_most))
        return Progress(phase=phase, since=since, days_in_phase=days_in,
                        next=self.phases.next_after(client.phase), criteria=tuple(criteria),
                        done=done, due=expected)

    async def timeline(self, uow: UnitOfWork, client: Client) -> list[PhaseStep]:
        """The applied steps, oldest first: the path the client took."""
        return await uow.phases.steps(client.id, states=("applied",))

    # -- the clinician told ----------------------------------------------------------
    async def after_checkin(self, uow: UnitOfWork, client: Client) -> bool:
        """After a submitted check-in: once a phase's criteria are met, the clinician is told
        (once per phase: a told or proposed step stands until the phase changes)."""
        client = await uow.clients.get(client.id) or client  # an alert may have stepped it
        if client.status != ClientStatus.ACTIVE or self.phases.next_after(client.phase) is None:
            return False
        if (await uow.phases.open_states([client.id])).get(client.id):
            return False
        progress = await self.progress(uow, client)
        if not progress.ready:
            return False
        assert progress.next is not None
        now = self._clock.now()
        await uow.phases.add_step(
            client_id=client.id, at=now, from_phase=progress.phase.id,
            to_phase=progress.next.id, direction="down", state="told", trigger="criteria",
            proposed_by=None, criteria=progress.as_record())
        clinician = await uow.clinicians.get(client.clinician_id)
        if clinician is not None and clinician.active:
            language = self._staff.of(clinician).language
            await self._notice(uow, clinician, client, gettext_for(language, READY_NOTICE).format(
                code=client.code, current=progress.phase.name.get(language),
                next=progress.next.name.get(language)))
        return True

    # -- stepping down: two people ---------------------------------------------------
    async def propose(self, uow: UnitOfWork, clinician: Clinician, code: str,
                      reason: str = "") -> PhaseStep:
        """The client's clinician (or a supervisor) proposes the step down; nothing changes
        until another person, a supervisor, approves it."""
        client = await visible_client(uow, clinician, code, statuses=CURRENT)
        reason = _reason(reason, required=False)
        progress = await self.progress(uow, client)
        if progress.next is None:
            raise InvalidInput("last phase", key="phase.last")
        if not progress.ready:
            raise InvalidInput("criteria not met", key="phase.not_ready")
        if "proposed" in (await uow.phases.open_states([client.id])).get(client.id, set()):
            raise InvalidInput("already proposed", key="phase.already_proposed")
        now = self._clock.now()
        await uow.phases.close_open(client.id)
        step = await uow.phases.add_step(
            client_id=client.id, at=now, from_phase=progress.phase.id, to_phase=progress.next.id,
            direction="down", state="proposed", trigger="clinician", proposed_by=clinician.id,
            reason=reason, criteria=progress.as_record())
        await uow.audit(at=now, actor=f"clinician:{clinician.id}", action="phase.propose",
                        client_id=client.id,
                        detail=f"step {step.id} {progress.phase.id} -> {progress.next.id}")
        for supervisor in await uow.clinicians.supervisors():
            if supervisor.id == clinician.id:
                continue
            language = self._staff.of(supervisor).language
            await self._notice(uow, supervisor, client, gettext_for(
                language, PROPOSED_NOTICE).format(
                    name=clinician.name, code=client.code,
                    current=progress.phase.name.get(language),
                    next=progress.next.name.get(language)))
        return step

    async def approve(self, uow: UnitOfWork, supervisor: Clinician, code: str) -> PhaseStep:
        """A supervisor approves a proposed step down: it applies now. The proposer cannot
        approve their own proposal; for anyone else the client is as unknown as a bad code."""
        if not supervisor.is_supervisor:
            raise NotFound("no such client for this clinician", key="client.not_found")
        client = await visible_client(uow, supervisor, code, statuses=CURRENT)
        pending = await uow.phases.steps(client.id, states=("proposed",))
        if not pending:
            raise InvalidInput("nothing proposed", key="phase.nothing_proposed")
        step = pending[-1]
        if step.proposed_by == supervisor.id:
            raise InvalidInput("own proposal", key="phase.own_proposal")
        if step.from_phase != self.phase_of(client).id:
            await uow.phases.close_open(client.id)
            raise InvalidInput("stale proposal", key="phase.nothing_proposed")
        now = self._clock.now()
        await uow.phases.set_state(step.id, "applied", approved_by=supervisor.id, applied_at=now)
        target = self.phases.of(step.to_phase)
        progress = await self.progress(uow, client)
        updated = await self._move(uow, client, target, now)
        await uow.audit(at=now, actor=f"clinician:{supervisor.id}", action="phase.approve",
                        client_id=client.id, detail=f"step {step.id} -> {target.id}")
        await self._tell_client(uow, updated, "\n".join((
            gettext_for(updated.language, CLIENT_DOWN), "",
            ngettext_for(updated.language,
                         "You have kept at it: {done} of the {due} check-ins asked of you in "
                         "the last {days} day, and your team has seen the work you put in. "
                         "From now on your check-ins come {when}.",
                         "You have kept at it: {done} of the {due} check-ins asked of you in "
                         "the last {days} days, and your team has seen the work you put in. "
                         "From now on your check-ins come {when}.",
                         progress.days_in_phase).format(
                done=progress.done, due=progress.due, days=progress.days_in_phase,
                when=days_text(target.days, updated.language)))))
        clinician = await uow.clinicians.get(client.clinician_id)
        if clinician is not None and clinician.active and clinician.id != supervisor.id:
            language = self._staff.of(clinician).language
            await self._notice(uow, clinician, client, gettext_for(
                language, APPROVED_NOTICE).format(code=client.code, name=supervisor.name,
                                                  next=target.name.get(language)))
        return step

    # -- stepping up: at once --------------------------------------------------------
    async def after_alert(self, uow: UnitOfWork, client: Client, alert: Alert) -> bool:
        """An alert the phases file names steps the client up at once (AlertService calls
        this for every alert it raises)."""
        reasons = [str(r) for r in alert.detail.get("reasons", [])]
        if not self.phases.steps_up_on(alert.level, reasons):
            return False
        named = [r for r in reasons if r in self.phases.step_up.alert_reasons]
        trigger = f"rule:{named[0] if named else alert.level}"
        return await self.step_up(uow, client, trigger=trigger, by=None,
                                  reason=f"alert {alert.id}") is not None

    async def step_up_by(self, uow: UnitOfWork, clinician: Clinician, code: str,
                         reason: str) -> PhaseStep:
        client = await visible_client(uow, clinician, code, statuses=CURRENT)
        step = await self.step_up(uow, client, trigger="clinician", by=clinician,
                                  reason=_reason(reason, required=True))
        if step is None:
            raise InvalidInput("first phase", key="phase.first")
        return step

    async def step_up(self, uow: UnitOfWork, client: Client, *, trigger: str,
                      by: Clinician | None, reason: str) -> PhaseStep | None:
        """One step up now (None when the client is in the first phase already); the
        clinician and the supervisors are told, the client kindly."""
        current = self.phase_of(client)
        target = self.phases.step_up_from(client.phase)
        if target is None or client.status not in CURRENT:
            return None
        now = self._clock.now()
        progress = await self.progress(uow, client)
        await uow.phases.close_open(client.id)
        step = await uow.phases.add_step(
            client_id=client.id, at=now, from_phase=current.id, to_phase=target.id,
            direction="up", state="applied", trigger=trigger,
            proposed_by=by.id if by else None, applied_at=now, reason=reason,
            criteria=progress.as_record())
        updated = await self._move(uow, client, target, now)
        await uow.audit(at=now, actor=f"clinician:{by.id}" if by else "system",
                        action="phase.step_up", client_id=client.id,
                        detail=f"step {step.id} {current.id} -> {target.id} ({trigger})")
        if updated.status == ClientStatus.ACTIVE:
            await self._tell_client(uow, updated, "\n".join((
                gettext_for(updated.language, CLIENT_UP), "",
                gettext_for(updated.language, CLIENT_UP_BODY).format(
                    when=days_text(target.days, updated.language)))))
        told: set[int] = set()
        staff = [await uow.clinicians.get(client.clinician_id),
                 *await uow.clinicians.supervisors()]
        for person in staff:
            if person is None or not person.active or person.id in told:
                continue
            told.add(person.id)
            if by is not None and person.id == by.id:
                continue
            language = self._staff.of(person).language
            text = (gettext_for(language, STEPPED_UP_NOTICE).format(
                code=client.code, current=current.name.get(language),
                next=target.name.get(language)) if by is None else
                gettext_for(language, STEPPED_UP_BY_NOTICE).format(
                    code=client.code, current=current.name.get(language),
                    next=target.name.get(language), name=by.name))
            await self._notice(uow, person, client, text)
        return step

    # -- the review ------------------------------------------------------------------
    async def review(self, uow: UnitOfWork, client: Client, *, language: str, timezone: str,
                     labels: Mapping[str, str], month: Mapping[str, Sequence[int | None]],
                     reason_label: Callable[[str], str] | None = None) -> PhaseReview:
        """The path for the client page, the summary and the PDF, in the viewer's words."""
        zone = ZoneInfo(timezone)

        def t(message: str) -> str:
            return gettext_for(language, message)

        progress = await self.progress(uow, client)
        names = {c.id: c.name for c in await uow.clinicians.everyone()}
        rows = []
        for step in await self.timeline(uow, client):
            if step.direction == "down":
                why = t(N_("proposed by {proposer}, approved by {approver}")).format(
                    proposer=names.get(step.proposed_by or 0, "-"),
                    approver=names.get(step.approved_by or 0, "-"))
                if step.reason:
                    why += f" ({step.reason})"
            elif step.trigger == "clinician":
                why = t(N_("{name}: {reason}")).format(
                    name=names.get(step.proposed_by or 0, "-"), reason=step.reason)
            else:
                code = step.trigger.removeprefix("rule:")
                what = (t(WORDS[code]) if code in WORDS else
                        gettext_for(language, reason_label(code)) if reason_label else code)
                why = t(N_("by rule: {what}")).format(what=what)
            rows.append(TimelineRow(
                at=(step.applied_at or step.at).astimezone(zone), direction=step.direction,
                start=self.phases.of(step.from_phase).name.get(language),
                end=self.phases.of(step.to_phase).name.get(language), why=why))
        states = (await uow.phases.open_states([client.id])).get(client.id, set())
        ratings = await uow.phases.ratings(client.id, limit=1)
        latest = ratings[0] if ratings else None
        return PhaseReview(
            phase=progress.phase.name.get(language),
            number=self.phases.phases.index(progress.phase) + 1,
            count=len(self.phases.phases), days_in_phase=progress.days_in_phase,
            next=progress.next.name.get(language) if progress.next else None,
            criteria=tuple(CriterionRow(self.criterion_text(c, language, staff=True), c.met)
                           for c in progress.criteria),
            ready=progress.ready, awaiting_approval="proposed" in states,
            timeline=tuple(rows),
            comparisons=compare(labels, month, latest.ratings if latest else None),
            rated_at=latest.at.astimezone(zone) if latest else None,
            rating_note=latest.note if latest else "",
            rating_overdue=self.rating_overdue(client, latest.at if latest else None))

    async def awaiting(self, uow: UnitOfWork, viewer: Clinician
                       ) -> list[tuple[str, PhaseStep, str]]:
        """Step-down proposals waiting for approval (code, step, proposer's name): for
        supervisors only; anyone else finds nothing, as an unknown page."""
        if not viewer.is_supervisor:
            raise NotFound("supervisors only")
        names = {c.id: c.name for c in await uow.clinicians.everyone()}
        return [(code, step, names.get(step.proposed_by or 0, "-"))
                for code, step in await uow.phases.pending()]

    async def caseload_marks(self, uow: UnitOfWork, clients: Sequence[Client]
                             ) -> dict[str, tuple[str, str | None, bool]]:
        """Per client: (phase id, "ready" | "proposed" | None, rating overdue), in two
        grouped reads whatever the caseload."""
        ids = [c.id for c in clients]
        states = await uow.phases.open_states(ids)
        rated = await uow.phases.latest_rated(ids)
        marks = {}
        for client in clients:
            open_states = states.get(client.id, set())
            state = ("proposed" if "proposed" in open_states else
                     "ready" if "told" in open_states else None)
            marks[client.id] = (self.phase_of(client).id, state,
                                self.rating_overdue(client, rated.get(client.id)))
        return marks

    # -- the clinician's rating ------------------------------------------------------
    async def rate(self, uow: UnitOfWork, clinician: Clinician, code: str,
                   ratings: Mapping[str, int], note: str) -> DomainRating:
        """The clinician's judgement of each domain (0 no concern, 1 some, 2 definite), with
        a short note, sealed; every domain the check-in tracks is rated at once."""
        client = await visible_client(uow, clinician, code, statuses=CURRENT)
        if set(ratings) != set(self.domains) or any(v not in (0, 1, 2)
                                                    for v in ratings.values()):
            raise InvalidInput("bad ratings", key="rating.usage")
        note = " ".join(note.split())
        if len(note) > MAX_REASON:
            raise InvalidInput("note too long", key="phase.reason_too_long")
        now = self._clock.now()
        rating = await uow.phases.add_rating(client_id=client.id, clinician_id=clinician.id,
                                             at=now, ratings=ratings, note=note)
        await uow.audit(at=now, actor=f"clinician:{clinician.id}", action="rating.add",
                        client_id=client.id, detail=f"rating {rating.id}")
        return rating

    async def latest_rating(self, uow: UnitOfWork, clinician: Clinician, code: str
                            ) -> tuple[Client, DomainRating | None]:
        client = await visible_client(uow, clinician, code, statuses=CURRENT)
        ratings = await uow.phases.ratings(client.id, limit=1)
        return client, ratings[0] if ratings else None

    def parse_rating(self, text: str) -> dict[str, int]:
        """"0120100": one digit a domain, in the check-in's domain order."""
        digits = text.strip()
        if len(digits) != len(self.domains) or any(c not in "012" for c in digits):
            raise InvalidInput("bad ratings", key="rating.usage")
        return {domain: int(c) for domain, c in zip(self.domains, digits, strict=True)}

    def rating_due(self, client: Client, rated_at: datetime | None) -> datetime:
        """When the next rating is due: RATING_DAYS after the last, or after enrolment."""
        start = rated_at or client.enrolled_at or client.created_at
        return start + timedelta(days=self.rating_days)

    def rating_overdue(self, client: Client, rated_at: datetime | None) -> bool:
        return client.status == ClientStatus.ACTIVE and self._clock.now() >= self.rating_due(
            client, rated_at)

    # -- texts -----------------------------------------------------------------------
    def criterion_text(self, state: CriterionState, language: str, *, staff: bool) -> str:
        values = dict(state.required)
        if "level" in values:
            values["level"] = gettext_for(language, WORDS[str(values["level"])])
        n = int(values.get("n", 0))
        if state.key == "rating":  # a rating, not a count of things
            values["rating"] = n
        return _criterion_texts(language, n, staff=staff)[state.key].format(**values)

    def progress_text(self, progress: Progress, language: str) -> str:
        """What /progress shows the client: their step, how long, what the next asks."""
        def t(message: str) -> str:
            return gettext_for(language, message)

        lines = [t(N_("Your check-ins: step {number} of {count}, \"{name}\".")).format(
                     number=self.phases.phases.index(progress.phase) + 1,
                     count=len(self.phases.phases), name=progress.phase.name.get(language)),
                 ngettext_for(language, "{n} day at this step.", "{n} days at this step.",
                              progress.days_in_phase).format(n=progress.days_in_phase)]
        if progress.due:
            lines.append(t(N_("Check-ins done: {done} of {due}.")).format(
                done=progress.done, due=progress.due))
        if progress.next is None:
            lines += ["", t(N_("This is the last step. Keep going as you are."))]
            return "\n".join(lines)
        lines += ["", t(N_("The next step, \"{name}\", asks for:")).format(
            name=progress.next.name.get(language))]
        for state in progress.criteria:
            mark = "✅" if state.met else "⬜"
            lines.append(f"{mark} {self.criterion_text(state, language, staff=False)}")
        if progress.ready:
            lines += ["", t(N_("You have done what it asks: your team will look at it with "
                               "you."))]
        return "\n".join(lines)

    # -- helpers ---------------------------------------------------------------------
    async def _move(self, uow: UnitOfWork, client: Client, target: Phase,
                    now: datetime) -> Client:
        """The client into `target`: its days become their check-in days, which makes the
        scheduler look again at once (clients.next_due_at)."""
        await uow.phases.close_open(client.id)
        return await uow.clients.update(client.id, phase=target.id, phase_since=now,
                                        checkin_days=target.days)

    async def _tell_client(self, uow: UnitOfWork, client: Client, text: str) -> None:
        if client.telegram_id is None or client.unreachable:
            return
        await uow.outbox.add(chat_id=client.telegram_id, kind="notice", method="sendMessage",
                             params={"text": text}, now=self._clock.now(), client_id=client.id)

    async def _notice(self, uow: UnitOfWork, person: Clinician, client: Client,
                      text: str) -> None:
        await uow.outbox.add(chat_id=person.telegram_id, kind="notice", method="sendMessage",
                             params={"text": text}, now=self._clock.now(), client_id=client.id)


def _reason(text: str, *, required: bool) -> str:
    reason = " ".join(text.split())
    if required and not reason:
        raise InvalidInput("no reason", key="phase.reason_needed")
    if len(reason) > MAX_REASON:
        raise InvalidInput("reason too long", key="phase.reason_too_long")
    return reason


__all__ = ["CriterionState", "PhaseService", "Progress"]
