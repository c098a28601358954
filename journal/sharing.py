"""The treatment team beyond the clinic: what a client agrees to share with a supervising
officer, and the ledger of who looked at their information.

An officer is a staff member with the role "officer". They receive only what an agreement
the client accepted names, from a fixed list (CATEGORIES), and never an answer, journal
text, plan text, alert reason or note: every text written to them here is built from
counts, levels, statuses and times alone. Anything an officer asks about a client who does
not share with them answers exactly like a code that does not exist."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Final

from journal.alerts.levels import LEVELS, RULE_LEVELS, WORDS, level_rank
from journal.buttons import SHARING_AGREE, SHARING_DECLINE, Button, rows_data
from journal.clock import Clock
from journal.errors import InvalidInput, NotFound
from journal.i18n import N_, gettext_for, ngettext_for
from journal.people import CODE_SHAPE, actor_of, existing_client, visible_client
from journal.staff import StaffDefaults, StaffLocale
from journal.times import shown_time
from storage.records import (
    ENROLLED,
    AlertStatus,
    Appointment,
    Client,
    Clinician,
    DayStatus,
    SharingAgreement,
)
from storage.repositories.sharing import AGREED, DECLINED, ENDED, LIVE, PROPOSED, WITHDRAWN
from storage.uow import UnitOfWork

ADHERENCE: Final = "adherence"
ALERTS: Final = "alerts"
REPORT: Final = "report"
STATUS: Final = "status"
ATTENDANCE: Final = "attendance"
CATEGORIES: Final = (ADHERENCE, ALERTS, REPORT, STATUS, ATTENDANCE)
DEFAULT_CATEGORIES: Final = CATEGORIES
DEFAULT_ALERT_LEVEL: Final = "critical"
TEAM_KIND: Final = "team"  # the outbox kind of every message to an officer
LEDGER_DAYS: Final = 30

# What each category gives the officer, in the client's plain words (the proposal, /sharing).
CATEGORY_WORDS: Final = {
    ADHERENCE: N_("how many check-ins you were asked for and how many you did (numbers only)"),
    ALERTS: N_("that an alert at level {level} or above happened and when, only after your "
               "clinician was told, with the words \"the treatment team is responding\""),
    REPORT: N_("a short monthly progress report from your clinician"),
    STATUS: N_("changes to your treatment status (paused, resumed, discharged)"),
    ATTENDANCE: N_("that you did not come to an appointment: its date and kind, never the "
                   "place or your reasons"),
}
NEVER_SHARED: Final = N_(
    "Never shared: your answers, your journal, your plan, the reasons for an alert, and any "
    "note. You can stop sharing at any time with /sharing; your treatment goes on the same.")
PROPOSAL: Final = N_(
    "A question for you.\n\n"
    "Your clinician asks whether {officer} ({role}) may receive information about your "
    "treatment. If you agree, {officer} receives:\n{what}\n\n"
    "{never}\n\n"
    "Nothing is sent unless you agree.")
OFFICER_ROLE: Final = N_("your supervising officer")

# What each audited view of a client's data is called in their ledger.
VIEW_WORDS: Final = {
    "client.summary": N_("your summary"),
    "client.history": N_("your check-in history"),
    "client.report": N_("a session report"),
    "plan.view": N_("your plan"),
    "alert.details": N_("the reasons for an alert"),
    "alert.notes": N_("the notes on an alert"),
    "journal.view": N_("your journal"),
    "officer.view": N_("what you agreed to share"),
}
STATUS_WORDS: Final = {
    "active": N_("in treatment"), "paused": N_("paused"), "discharged": N_("discharged"),
    "invited": N_("not enrolled yet"),
}
# What each audited step of an agreement is called on the clinician's page.
EVENT_WORDS: Final = {
    "sharing.propose": N_("proposed to the client"),
    "sharing.agree": N_("the client agreed"),
    "sharing.decline": N_("the client declined"),
    "sharing.withdrawn": N_("the client stopped sharing"),
    "sharing.ended": N_("ended"),
    "sharing.alert": N_("an alert's level sent"),
    "sharing.status": N_("a status change sent"),
    "sharing.attendance": N_("a missed appointment sent"),
}
REPORT_WORDS: Final = {
    "draft": N_("the clinician is preparing it"), "sent": N_("sent, not acknowledged yet"),
    "acknowledged": N_("acknowledged"),
}
AGREEMENT_WORDS: Final = {
    PROPOSED: N_("waiting for the client's answer"), AGREED: N_("agreed"),
    DECLINED: N_("declined"), WITHDRAWN: N_("withdrawn by the client"), ENDED: N_("ended"),
}
ROLE_WORDS: Final = {
    "clinician": N_("clinician"), "supervisor": N_("supervisor"),
    "officer": N_("supervising officer"),
}


@dataclass(frozen=True, slots=True)
class Sharing:
    """One agreement and the officer it names, as the client's /sharing shows it."""

    agreement: SharingAgreement
    officer: Clinician


@dataclass(frozen=True, slots=True)
class TeamEvent:
    """One proposal, answer or end of an agreement, from the audit trail."""

    at: datetime
    action: str  # sharing.propose | sharing.agree | sharing.decline | sharing.withdrawn | ...


@dataclass(frozen=True, slots=True)
class TeamView:
    """A client's treatment team as their clinician's workspace page shows it."""

    sharing: list[Sharing]  # every agreement, ended ones too, oldest first
    events: list[TeamEvent]
    officers: list[Clinician]  # whom a proposal may name


@dataclass(frozen=True, slots=True)
class LedgerLine:
    at: datetime
    role: str  # clinician | supervisor | officer
    name: str
    action: str  # an audited view's action (VIEW_WORDS)


@dataclass(frozen=True, slots=True)
class Supervisee:
    """One client as an officer sees them: counts, levels, statuses and times only."""

    code: str
    status: str
    categories: tuple[str, ...]
    since: datetime | None
    last_checkin: date | None  # with ADHERENCE
    done: int | None  # check-ins done over the last 30 days, with ADHERENCE
    expected: int | None
    open_alerts: dict[str, int]  # level -> count at or above the shared level, with ALERTS
    report: str | None = None  # the latest monthly report: draft | sent | acknowledged
    report_month: date | None = None
    report_id: str | None = None  # a sent report the officer may open

    @property
    def need(self) -> tuple[int, float, str]:
        """The caseload's order: open alerts (most serious first), then low adherence."""
        worst = max((level_rank(lv) for lv, n in self.open_alerts.items() if n  # type: ignore[arg-type]
                     ), default=-1)
        ratio = self.done / self.expected if self.done is not None and self.expected else 1.0
        return (-worst, ratio, self.code)


class SharingService:
    def __init__(self, *, clock: Clock, allowed: Sequence[str] = CATEGORIES,
                 staff_language: str = "en", display_timezone: str = "UTC") -> None:
        unknown = [c for c in allowed if c not in CATEGORIES]
        if unknown:
            raise ValueError(f"unknown sharing categories: {', '.join(unknown)}")
        self._clock = clock
        self.allowed: tuple[str, ...] = tuple(c for c in CATEGORIES if c in allowed)
        self._staff = StaffDefaults(staff_language, display_timezone)

    def locale_of(self, person: Clinician | None) -> StaffLocale:
        return self._staff.of(person)

    # -- proposing -----------------------------------------------------------------------
    async def officers(self, uow: UnitOfWork) -> list[Clinician]:
        return [c for c in await uow.clinicians.everyone() if c.active and c.is_officer]

    def categories_of(self, requested: Sequence[str] | None) -> tuple[str, ...]:
        """The categories a proposal carries: the program's default set when none is
        asked for, else the asked ones, each of them allowed by the program."""
        if not requested:
            chosen = tuple(c for c in DEFAULT_CATEGORIES if c in self.allowed)
        else:
            wrong = [c for c in requested if c not in self.allowed]
            if wrong:
                raise InvalidInput(f"not a category this program shares: {', '.join(wrong)}; "
                                   f"use: {', '.join(self.allowed)}", key="sharing.category")
            chosen = tuple(c for c in CATEGORIES if c in requested)
        if not chosen:
            raise InvalidInput("this program shares nothing with officers",
                               key="sharing.category")
        return chosen

    async def propose(self, uow: UnitOfWork, *, code: str, officer_telegram_id: int,
                      by: Clinician | None = None, actor: str = "admin:cli",
                      categories: Sequence[str] | None = None,
                      alert_level: str | None = None) -> tuple[SharingAgreement, Client,
                                                                Clinician]:
        """A proposal to the client. `by`: the clinician proposing in the chat or the
        workspace (their own clients only, a supervisor's any); None from the command line.
        A live proposal or agreement with the same officer is replaced (ended)."""
        chosen = self.categories_of(categories)
        level = alert_level or DEFAULT_ALERT_LEVEL
        if level not in RULE_LEVELS:
            raise InvalidInput(f"unknown alert level {level!r}; use one of: "
                               f"{', '.join(RULE_LEVELS)}", key="sharing.level")
        if by is not None:
            client = await visible_client(uow, by, code, statuses=ENROLLED)
            actor = actor_of(by)
        else:
            client = await existing_client(uow, code)
            if client.status not in ENROLLED:
                raise InvalidInput(f"client {client.code} is not enrolled",
                                   key="sharing.not_enrolled")
        officer = await uow.clinicians.by_telegram_id(officer_telegram_id)
        if officer is None or not officer.is_officer:
            raise NotFound(f"no active officer with Telegram id {officer_telegram_id}",
                           key="officer.not_found")
        now = self._clock.now()
        for old in await uow.sharing.of_client(client.id, statuses=LIVE):
            if old.officer_id == officer.id:
                await self._end(uow, old, client, officer, status=ENDED, actor=actor,
                                why="replaced", tell_officer=old.status == AGREED)
        agreement = await uow.sharing.propose(
            client_id=client.id, officer_id=officer.id, categories=chosen, alert_level=level,
            proposed_by=by.id if by is not None else None, now=now)
        await uow.audit(at=now, actor=actor, action="sharing.propose", client_id=client.id,
                        detail=f"agreement {agreement.id} officer {officer.id} "
                               f"categories {','.join(chosen)} alerts from {level}")
        assert client.telegram_id is not None
        language = client.language
        await uow.outbox.add(
            chat_id=client.telegram_id, kind="sharing", method="sendMessage",
            params={"text": self.proposal_text(agreement, officer, language),
                    "buttons": rows_data([[
                        Button(SHARING_AGREE, gettext_for(language, "I agree"),
                               agreement=agreement.id),
                        Button(SHARING_DECLINE, gettext_for(language, "I do not agree"),
                               agreement=agreement.id)]])},
            now=now, client_id=client.id)
        return agreement, client, officer

    def proposal_text(self, agreement: SharingAgreement, officer: Clinician,
                      language: str) -> str:
        return gettext_for(language, PROPOSAL).format(
            officer=officer.name, role=gettext_for(language, OFFICER_ROLE),
            what=self.what_text(agreement, language),
            never=gettext_for(language, NEVER_SHARED))

    @staticmethod
    def what_text(agreement: SharingAgreement, language: str) -> str:
        level = gettext_for(language, WORDS.get(agreement.alert_level, agreement.alert_level))
        return "\n".join("- " + gettext_for(language, CATEGORY_WORDS[c]).format(level=level)
                         for c in agreement.categories if c in CATEGORY_WORDS)

    # -- the client's answers ------------------------------------------------------------
    async def answer(self, uow: UnitOfWork, client: Client, agreement_id: str, *,
                     agree: bool) -> SharingAgreement:
        """The client agrees or declines a proposal. A proposal already answered, ended
        or not theirs is NotFound (a stale button)."""
        agreement = await uow.sharing.get(agreement_id)
        if agreement is None or agreement.client_id != client.id:
            raise NotFound("no such proposal", key="sharing.stale")
        now = self._clock.now()
        changed = await uow.sharing.set_status(agreement.id, AGREED if agree else DECLINED,
                                               now, expect=(PROPOSED,))
        if changed is None:
            raise NotFound("the proposal was answered or ended", key="sharing.stale")
        await uow.audit(at=now, actor=f"client:{client.code}",
                        action="sharing.agree" if agree else "sharing.decline",
                        client_id=client.id, detail=f"agreement {agreement.id}")
        clinician = await uow.clinicians.get(client.clinician_id)
        officer = await uow.clinicians.get(agreement.officer_id)
        if clinician is not None and clinician.active:
            text = (N_("Client {code} agreed to share information with {officer}.") if agree
                    else N_("Client {code} did not agree to share information with "
                            "{officer}."))
            await self._notice(uow, clinician, client, text, officer=officer.name if officer
                               else "-")
        if agree and officer is not None and officer.active:
            lang = self._staff.of(officer).language
            await self._to_officer(uow, officer, client, gettext_for(lang, N_(
                "Client {code} agreed to share information with you:\n{what}")).format(
                code=client.code, what=self.what_text(changed, lang)))
        return changed

    async def withdraw(self, uow: UnitOfWork, client: Client, agreement_id: str
                       ) -> SharingAgreement:
        """The client stops sharing: the clinician is told, the officer is told that
        sharing ended (not why), and nothing more goes to the officer."""
        agreement = await uow.sharing.get(agreement_id)
        if agreement is None or agreement.client_id != client.id or agreement.status not in LIVE:
            raise NotFound("no such agreement", key="sharing.stale")
        officer = await uow.clinicians.get(agreement.officer_id)
        assert officer is not None
        ended = await self._end(uow, agreement, client, officer, status=WITHDRAWN,
                                actor=f"client:{client.code}", why="withdrawn",
                                tell_officer=agreement.status == AGREED)
        clinician = await uow.clinicians.get(client.clinician_id)
        if clinician is not None and clinician.active:
            await self._notice(uow, clinician, client, N_(
                "Client {code} stopped sharing information with {officer}."),
                officer=officer.name)
        return ended or agreement

    async def _end(self, uow: UnitOfWork, agreement: SharingAgreement, client: Client,
                   officer: Clinician, *, status: str, actor: str, why: str,
                   tell_officer: bool) -> SharingAgreement | None:
        now = self._clock.now()
        ended = await uow.sharing.set_status(agreement.id, status, now, expect=LIVE)
        if ended is None:
            return None
        dropped = await uow.outbox.cancel_to(chat_id=officer.telegram_id, client_id=client.id,
                                             kinds=(TEAM_KIND,))
        await uow.progress.drop_drafts(agreement.id)  # a waiting report is never sent
        await uow.audit(at=now, actor=actor, action=f"sharing.{status}", client_id=client.id,
                        detail=f"agreement {agreement.id} {why}; {dropped} queued dropped")
        if tell_officer and officer.active:
            lang = self._staff.of(officer).language
            await self._to_officer(uow, officer, client, gettext_for(lang, N_(
                "Sharing of information about client {code} with you has ended. Nothing more "
                "will be sent about them.")).format(code=client.code))
        return ended

    async def officer_deactivated(self, uow: UnitOfWork, officer: Clinician, *,
                                  actor: str) -> int:
        """An officer loses access: every live agreement naming them ends and whatever was
        queued to them is dropped; each client's clinician is told. Returns how many."""
        agreements = await uow.sharing.of_officer(officer.id, statuses=LIVE)
        for agreement in agreements:
            client = await uow.clients.get(agreement.client_id)
            if client is None:
                continue
            await self._end(uow, agreement, client, officer, status=ENDED, actor=actor,
                            why="officer deactivated", tell_officer=False)
            clinician = await uow.clinicians.get(client.clinician_id)
            if clinician is not None and clinician.active:
                await self._notice(uow, clinician, client, N_(
                    "Sharing about client {code} with {officer} ended: the officer no longer "
                    "has access."), officer=officer.name)
        await uow.outbox.cancel_to(chat_id=officer.telegram_id, kinds=(TEAM_KIND,))
        return len(agreements)

    # -- what reaches the officer --------------------------------------------------------
    async def alert_told(self, uow: UnitOfWork, outbox_id: str) -> int:
        """The clinician's own copy of an alert was delivered: each officer the client
        agreed to tell about alerts at this level now gets the level and the time, never
        the reasons. Returns how many were queued (a second call queues none)."""
        copy = await uow.alerts.of_copy(outbox_id)
        if copy is None:
            return 0
        client = await uow.clients.get(copy.client_id)
        if client is None or client.status not in ENROLLED:
            return 0
        if copy.level not in LEVELS:
            return 0
        queued = 0
        for agreement in await uow.sharing.of_client(client.id, statuses=(AGREED,)):
            if ALERTS not in agreement.categories or ALERTS not in self.allowed:
                continue
            if level_rank(copy.level) < level_rank(agreement.alert_level):  # type: ignore[arg-type]
                continue
            officer = await uow.clinicians.get(agreement.officer_id)
            if officer is None or not officer.active or not officer.is_officer:
                continue
            locale = self._staff.of(officer)
            text = gettext_for(locale.language, N_(
                "Alert for client {code}: level {level}, {time}. The treatment team is "
                "responding.")).format(
                code=client.code, level=gettext_for(locale.language, WORDS[copy.level]),
                time=shown_time(copy.created_at, locale.timezone))
            if await self._to_officer(uow, officer, client, text,
                                      dedupe=f"team-alert:{copy.id}:{agreement.id}"):
                queued += 1
                await uow.audit(at=self._clock.now(), actor="system", action="sharing.alert",
                                client_id=client.id,
                                detail=f"alert {copy.id} to officer {officer.id}")
        return queued

    async def status_changed(self, uow: UnitOfWork, client: Client, status: str) -> int:
        """The client was paused, resumed or discharged: each officer who agreed to hear
        of status changes gets the new status (never the pause's reason). How many."""
        if STATUS not in self.allowed:
            return 0
        queued = 0
        for agreement in await uow.sharing.of_client(client.id, statuses=(AGREED,)):
            if STATUS not in agreement.categories:
                continue
            officer = await uow.clinicians.get(agreement.officer_id)
            if officer is None or not officer.active or not officer.is_officer:
                continue
            lang = self._staff.of(officer).language
            if await self._to_officer(uow, officer, client, gettext_for(lang, N_(
                    "Client {code}: treatment status is now {status}.")).format(
                    code=client.code, status=status_word(lang, status))):
                queued += 1
        if queued:
            await uow.audit(at=self._clock.now(), actor="system", action="sharing.status",
                            client_id=client.id, detail=f"status {status} to {queued}")
        return queued

    async def missed_appointment(self, uow: UnitOfWork, client: Client,
                                 appointment: Appointment,
                                 kind_name: Callable[[str, str], str]) -> int:
        """A no-show was recorded (after the clinician's alert): each officer the client
        agreed to tell about attendance gets the date and the kind of appointment, never
        the place, the client's reason or any answer. `kind_name(kind, language)` names
        the kind. Returns how many were queued (once per appointment and agreement)."""
        if ATTENDANCE not in self.allowed or client.status not in ENROLLED:
            return 0
        queued = 0
        for agreement in await uow.sharing.of_client(client.id, statuses=(AGREED,)):
            if ATTENDANCE not in agreement.categories:
                continue
            officer = await uow.clinicians.get(agreement.officer_id)
            if officer is None or not officer.active or not officer.is_officer:
                continue
            locale = self._staff.of(officer)
            day = shown_time(appointment.starts_at, locale.timezone)[:10]
            text = gettext_for(locale.language, N_(
                "Client {code} did not come to an appointment ({kind}) on {date}.")).format(
                code=client.code, kind=kind_name(appointment.kind, locale.language), date=day)
            if await self._to_officer(uow, officer, client, text,
                                      dedupe=f"team-noshow:{appointment.id}:{agreement.id}"):
                queued += 1
                await uow.audit(at=self._clock.now(), actor="system",
                                action="sharing.attendance", client_id=client.id,
                                detail=f"appointment {appointment.id} to officer {officer.id}")
        return queued

    async def _to_officer(self, uow: UnitOfWork, officer: Clinician, client: Client,
                          text: str, *, dedupe: str | None = None) -> bool:
        return await uow.outbox.add(chat_id=officer.telegram_id, kind=TEAM_KIND,
                                    method="sendMessage", params={"text": text},
                                    now=self._clock.now(), client_id=client.id,
                                    dedupe_key=dedupe) is not None

    async def _notice(self, uow: UnitOfWork, staff: Clinician, client: Client, text: str,
                      **values: str) -> None:
        lang = self._staff.of(staff).language
        await uow.outbox.add(chat_id=staff.telegram_id, kind="notice", method="sendMessage",
                             params={"text": gettext_for(lang, text).format(
                                 code=client.code, **values)},
                             now=self._clock.now(), client_id=client.id)

    async def team_view(self, uow: UnitOfWork, client: Client) -> TeamView:
        """For the client's clinician: every agreement, its audited history, and the
        officers a new proposal may name."""
        found = []
        for agreement in await uow.sharing.of_client(client.id):
            officer = await uow.clinicians.get(agreement.officer_id)
            if officer is not None:
                found.append(Sharing(agreement, officer))
        events = [TeamEvent(e.at, e.action)
                  for e in await uow.audit_events(client_id=client.id, limit=2000)
                  if e.action.startswith("sharing.") and e.action != "sharing.ledger"]
        return TeamView(sharing=found, events=events, officers=await self.officers(uow))

    # -- what the client sees ------------------------------------------------------------
    async def of_client(self, uow: UnitOfWork, client: Client) -> list[Sharing]:
        found = []
        for agreement in await uow.sharing.of_client(client.id, statuses=LIVE):
            officer = await uow.clinicians.get(agreement.officer_id)
            if officer is not None:
                found.append(Sharing(agreement, officer))
        return found

    async def ledger(self, uow: UnitOfWork, client: Client, *, days: int = LEDGER_DAYS
                     ) -> list[LedgerLine]:
        """Each view of the client's data by a staff member over the last `days`, newest
        first, read from the audit trail: who (role and name), what, when."""
        since = self._clock.now() - timedelta(days=days)
        events = await uow.audit_events(client_id=client.id, limit=2000)
        staff: dict[int, Clinician | None] = {}
        lines = []
        for event in events:
            if event.at < since or event.action not in VIEW_WORDS:
                continue
            if not event.actor.startswith("clinician:"):
                continue
            staff_id = int(event.actor.split(":", 1)[1])
            if staff_id not in staff:
                staff[staff_id] = await uow.clinicians.get(staff_id)
            person = staff[staff_id]
            if person is None:
                continue
            lines.append(LedgerLine(at=event.at, role=person.role, name=person.name,
                                    action=event.action))
        lines.sort(key=lambda line: line.at, reverse=True)
        await uow.audit(at=self._clock.now(), actor=f"client:{client.code}",
                        action="sharing.ledger", client_id=client.id,
                        detail=f"{len(lines)} views over {days} days")
        return lines

    async def ledger_pdf(self, uow: UnitOfWork, client: Client
                         ) -> Callable[[], Awaitable[bytes]]:
        """The ledger and what is shared, as a short PDF in the client's language: read
        now, drawn by the returned coroutine function in the renderer's worker once the
        caller's transaction committed (no database lock is held while it draws)."""
        language = client.language
        lines = await self.ledger(uow, client)
        shared = await self.of_client(uow, client)

        def t(message: str) -> str:
            return gettext_for(language, message)

        seen = [t(N_("{when}: {name} ({role}) saw {what}")).format(
            when=shown_time(line.at, client.timezone), name=line.name,
            role=role_word(language, line.role), what=view_word(language, line.action))
            for line in lines] or [t(N_("Nobody on your team looked at your information in "
                                        "the last 30 days."))]
        given = []
        for item in shared:
            a = item.agreement
            given.append(t(N_("{officer} ({role}): {state}")).format(
                officer=item.officer.name, role=role_word(language, item.officer.role),
                state=t(AGREEMENT_WORDS.get(a.status, a.status))))
            given += self.what_text(a, language).splitlines()
        title = t(N_("Who looked at your information"))
        intro = t(N_("Client {code}, the last 30 days, made {time}. Read from the program's "
                     "audit trail.")).format(code=client.code,
                                             time=shown_time(self._clock.now(),
                                                             client.timezone))
        sections = [(t(N_("Views of your information")), seen),
                    (t(N_("Who receives information about your treatment")),
                     given or [t(N_("Nobody outside your treatment team. Nothing is "
                                    "shared."))]),
                    (t(N_("Never shared")), [t(NEVER_SHARED)])]

        async def draw() -> bytes:
            from journal.ledger_pdf import build_ledger
            from journal.review.renderer import RENDERER  # multiprocessing, once needed

            return await RENDERER.run(build_ledger, title, intro, sections)

        return draw

    # -- what the officer sees -----------------------------------------------------------
    async def supervisees(self, uow: UnitOfWork, officer: Clinician) -> list[Supervisee]:
        """Every client who agreed to share with this officer, whoever their clinician,
        most in need first. Each client shown is an audited view."""
        found = []
        for agreement in await uow.sharing.of_officer(officer.id, statuses=(AGREED,)):
            client = await uow.clients.get(agreement.client_id)
            if client is None or client.status == "erased":
                continue
            found.append(await self._supervisee(uow, officer, client, agreement))
        found.sort(key=lambda s: s.need)
        return found

    async def supervisee(self, uow: UnitOfWork, officer: Clinician, code: str) -> Supervisee:
        """One client, if they agreed to share with this officer; anything else answers
        like a code that does not exist."""
        code = code.strip()
        client = await uow.clients.by_code(code) if CODE_SHAPE.fullmatch(code) else None
        agreement = None
        if client is not None and client.status != "erased":
            agreement = next((a for a in await uow.sharing.of_client(client.id,
                                                                    statuses=(AGREED,))
                              if a.officer_id == officer.id), None)
        if client is None or agreement is None:
            raise NotFound("no such client for this officer", key="client.not_found")
        return await self._supervisee(uow, officer, client, agreement)

    async def _supervisee(self, uow: UnitOfWork, officer: Clinician, client: Client,
                          agreement: SharingAgreement) -> Supervisee:
        now = self._clock.now()
        cats = tuple(c for c in agreement.categories if c in self.allowed)
        last = done = expected = None
        if ADHERENCE in cats:
            since = (now - timedelta(days=30)).date()
            statuses = await uow.checkins.statuses(client.id, since=since)
            done = sum(1 for s in statuses.values() if s == DayStatus.SUBMITTED)
            expected = done + sum(1 for s in statuses.values() if s == DayStatus.MISSED)
            latest = await uow.checkins.latest_day(client.id)
            last = latest.local_date if latest is not None else None
        open_alerts: dict[str, int] = {}
        if ALERTS in cats:
            for alert in await uow.alerts.open_for([client.id]):
                if (alert.status == AlertStatus.OPEN and alert.level in LEVELS
                        and level_rank(alert.level) >= level_rank(agreement.alert_level)):  # type: ignore[arg-type]
                    open_alerts[alert.level] = open_alerts.get(alert.level, 0) + 1
        report = month = report_id = None
        if REPORT in cats:
            newest = await uow.progress.latest(agreement.id)
            if newest is not None and newest.status != "dropped":
                report = "acknowledged" if newest.acknowledged_at else newest.status
                month = newest.month
                report_id = newest.id if newest.status == "sent" else None
        await uow.audit(at=now, actor=actor_of(officer), action="officer.view",
                        client_id=client.id, detail=f"agreement {agreement.id}")
        return Supervisee(code=client.code, status=client.status if STATUS in cats else "",
                          categories=cats, since=agreement.answered_at, last_checkin=last,
                          done=done, expected=expected, open_alerts=open_alerts,
                          report=report, report_month=month, report_id=report_id)


def role_word(language: str, role: str) -> str:
    return gettext_for(language, ROLE_WORDS.get(role, role))


def report_word(language: str, report: str | None, month: date | None) -> str:
    if report is None or month is None:
        return gettext_for(language, N_("no report yet"))
    return f"{month:%Y-%m}: " + gettext_for(language, REPORT_WORDS.get(report, report))


def status_word(language: str, status: str) -> str:
    return gettext_for(language, STATUS_WORDS.get(status, status))


def view_word(language: str, action: str) -> str:
    return gettext_for(language, VIEW_WORDS.get(action, action))


def checkins_words(language: str, done: int, expected: int) -> str:
    return ngettext_for(language, "{done} of {expected} check-in done",
                        "{done} of {expected} check-ins done", expected).format(
        done=done, expected=expected)


__all__ = ["ADHERENCE", "ALERTS", "ATTENDANCE", "CATEGORIES", "DEFAULT_ALERT_LEVEL", "LEDGER_DAYS",
           "REPORT", "STATUS", "TEAM_KIND", "LedgerLine", "Sharing", "SharingService", "TeamEvent",
           "TeamView",
           "Supervisee", "checkins_words", "report_word", "role_word", "status_word", "view_word"]
