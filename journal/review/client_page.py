"""The client page of the workspace as plain data: one client, seen by one staff member,
over a chosen range of days, and the client's journal a page at a time.

Built from what the summary, the history and the report already compute (indicators,
adherence, thresholds, the plan's text format), so the page, the chat and the PDF read a
client the same way. The access rule is visible_client's: another clinician's client, a
forged code and a missing one are the same NotFound. Every view writes its audit event in
the view's own unit of work, as the chat's review does."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Final
from zoneinfo import ZoneInfo

from journal.alerts.rules import RiskRules
from journal.appointments import ATTENDED, LATE
from journal.checkin.questionnaire import Questionnaire
from journal.clock import Clock
from journal.errors import InvalidInput
from journal.i18n import N_
from journal.people import actor_of, visible_client
from journal.phases.review import PhaseReview
from journal.review import plan as plans
from journal.review.adherence import Adherence, adherence, client_today, day_states
from journal.review.charts import DayPoint, Series
from journal.review.indicators import Indicators
from journal.review.model import AlertRow, DayRow, alert_rows, day_rows, domain_labels
from journal.review.search import SEARCH_LIMIT, SearchHit, search
from journal.review.situations import (
    Situation,
    checkin_note,
    checkin_notes,
    domain_series,
    situations,
)
from storage.records import (
    Client,
    ClientStatus,
    Clinician,
    HelpMoment,
    JournalEntry,
    Plan,
    PlanSuggestion,
)
from storage.uow import UnitOfWork

if TYPE_CHECKING:
    from journal.phases.service import PhaseService

RANGES: Final = (14, 30, 90, 365)  # the day ranges the page offers
DEFAULT_RANGE: Final = 30
JOURNAL_PAGE_SIZE: Final = 10
MAX_QUERY: Final = 100
SINCE_DEFAULT: Final = 7  # days back when no kept session is recorded and none is chosen
# The sessions a "since" view starts on by default: the latest one the client came to.
SESSION_KINDS: Final = ("individual", "group")
KEPT: Final = (ATTENDED, LATE)  # attendance marks that count as having come
SINCE_LONGEST: Final = 366  # a date further back than this is refused
SINCE_WORDS: Final = 50  # the client's own words shown at most, newest first
BAD_SINCE: Final = N_("“{text}” is not a day this view can start on. Pick a date in the "
                      "last year, up to today (year-month-day, for example {example}). "
                      "Shown instead: the last 7 days.")
BAD_SINCE_SESSION: Final = N_("“{text}” is not a day this view can start on. Pick a date in "
                              "the last year, up to today (year-month-day, for example "
                              "{example}). Shown instead: since the session on {day}.")


@dataclass(frozen=True)
class Calendar:
    """Each day of the range as the adherence calendar shows it, and the counts."""

    days: tuple[tuple[date, str], ...]  # submitted | missed | open | paused | none
    asked: int  # days the client was asked to check in (prompted)
    submitted: int
    missed: int
    open: int
    paused: int


@dataclass(frozen=True)
class JournalPage:
    """One page of the client's own journal, newest first; only these entries were decrypted
    (and, when searching, the entries and check-ins read to find them). A search pages
    through `hits`: journal entries, check-in notes and situations holding the query."""

    code: str  # the client's
    entries: tuple[JournalEntry, ...]  # browsing (empty while searching)
    page: int  # 1 is the newest
    pages: int | None  # None while searching: more matches may lie past what was read
    total: int | None  # entries (or, searching, matches found in what was read)
    query: str
    has_next: bool
    searched: int = 0  # entries and check-ins read to answer a search
    search_complete: bool = True  # False: SEARCH_LIMIT stopped the search
    hits: tuple[SearchHit, ...] = ()  # searching: what holds the query, newest first


@dataclass(frozen=True)
class Words:
    """Something the client wrote: a journal entry or a check-in note."""

    at: datetime  # in the viewer's zone
    text: str
    source: str  # entry | checkin


@dataclass(frozen=True)
class Since:
    """What changed since a date (the last session): the first thing a clinician reads.

    Every alert raised since then with its reasons and state, the check-ins done and
    missed, the situations and lapses, the client's own words (decrypted for this view
    only) and whether the plan changed. Only the plan's latest change is recorded, so
    `plan_changed_at` is that moment when it falls in the period, else None."""

    code: str
    clinician_name: str
    since: date  # the client's local day the view starts on
    today: date
    generated_at: datetime  # viewer's zone
    alerts: tuple[AlertRow, ...]  # newest first
    done: int
    missed: int
    unfinished: int
    missed_days: tuple[date, ...]  # newest first
    situations: tuple[Situation, ...]  # newest first
    lapses: tuple[date, ...]  # days a lapse was reported, newest first
    words: tuple[Words, ...]  # newest first, at most SINCE_WORDS
    words_total: int
    plan_changed_at: datetime | None  # viewer's zone
    plan_updated_at: datetime | None  # the latest change ever recorded, viewer's zone
    session: date | None = None  # the default start: the last kept session's local day
    chosen: bool = False  # the reader picked the day

    @property
    def basis(self) -> str:
        """Why the view starts where it does: chosen | session | default (SINCE_DEFAULT)."""
        return "chosen" if self.chosen else "session" if self.session else "default"

    @property
    def days(self) -> int:
        return (self.today - self.since).days + 1


def since_bounds(today: date) -> tuple[date, date]:
    """The earliest and latest day a "since" view may start on."""
    return today - timedelta(days=SINCE_LONGEST - 1), today


@dataclass(frozen=True)
class ClientPage:
    client: Client
    clinician_name: str
    days: int
    start: date
    today: date
    last_checkin: date | None
    latest_level: str | None
    week: Adherence
    month: Adherence
    period: Adherence
    open_alerts: Mapping[str, int]
    points: tuple[DayPoint, ...]  # one a day, start to today
    domain_labels: Mapping[str, str]  # domain id -> its name, in questionnaire order
    domains: Mapping[str, tuple[int | None, ...]]  # one value a day, start to today
    roll_ups: tuple[Series, ...]  # each roll-up with its label, top and thresholds
    scales: tuple[Series, ...]  # the charted scales
    calendar: Calendar
    alerts: tuple[AlertRow, ...]  # newest first, times in the viewer's zone
    situations: tuple[Situation, ...]  # newest first
    day_rows: tuple[DayRow, ...]  # the days with a submitted check-in, newest first
    notes: Mapping[date, str]  # each day's check-in note
    plan: Plan
    plan_text: str  # the plan in the format the edit form (and /plan) reads
    plan_editable: bool
    journal: JournalPage
    since: Since
    suggestions: tuple[PlanSuggestion, ...] = ()  # the client's open suggestions
    help_moments: tuple[HelpMoment, ...] = ()  # in the range, oldest first
    phase: PhaseReview | None = None  # the path, criteria and ratings (None: no phases)


def calendar(client: Client, states: Mapping[date, str], today: date) -> Calendar:
    """The states of day_states(), with the days of the current pause marked as paused."""
    paused_from = (client.paused_at.astimezone(ZoneInfo(client.timezone)).date()
                   if client.status == ClientStatus.PAUSED and client.paused_at else None)
    days = []
    for day, state in sorted(states.items()):
        if paused_from is not None and paused_from <= day <= today and state == "none":
            state = "paused"
        days.append((day, state))
    shown = [s for _d, s in days]
    submitted, missed, opened = (shown.count("submitted"), shown.count("missed"),
                                 shown.count("open"))
    return Calendar(days=tuple(days), asked=submitted + missed + opened, submitted=submitted,
                    missed=missed, open=opened, paused=shown.count("paused"))


class ClientPages:
    """The workspace's client page and journal, on the program's questionnaire and rules."""

    def __init__(self, *, clock: Clock, questionnaire: Questionnaire, rules: RiskRules,
                 phases: PhaseService | None = None) -> None:
        self._phases = phases
        self._clock = clock
        self._q = questionnaire
        self._rules = rules
        self._indicators = Indicators(questionnaire, rules)

    async def page(self, uow: UnitOfWork, viewer: Clinician, code: str, *,
                   days: int = DEFAULT_RANGE, language: str = "en",
                   timezone: str = "UTC", since: date | None = None) -> ClientPage:
        """Everything the client page shows for the last `days` local days (one of RANGES),
        with what changed since `since` (default: the last kept session, see _since_day)
        and the newest page of the journal. Audited as the chat's /report is. A `since` outside
        since_bounds() is InvalidInput."""
        if days not in RANGES:
            raise InvalidInput(f"days must be one of {RANGES}", key="report.days")
        client = await visible_client(uow, viewer, code)
        now = self._clock.now()
        today = client_today(client, now)
        chosen = since is not None
        since_day, session = await self._since_day(uow, client, now, today, since)
        start = today - timedelta(days=days - 1)
        zone = ZoneInfo(client.timezone)
        outline = await uow.checkins.days(client.id, since=min(start, today - timedelta(29)),
                                          until=today)
        states = day_states(client, outline, start=min(start, today - timedelta(29)),
                            end=today, today=today)
        checkins = await uow.checkins.recent(client.id, since=start, until=today)
        plan = await uow.plans.get(client.id)
        since = datetime.combine(start, time(0), zone).astimezone(UTC)
        alerts = await uow.alerts.recent(client.id, since=since)
        roll_ups, scales = await self._indicators.series(uow, client, language)
        owner = await uow.clinicians.get(client.clinician_id)
        latest = await uow.checkins.latest_day(client.id)
        counts = await uow.alerts.open_counts([client.id])
        points = self._indicators.points(checkins, start, today)
        labels = domain_labels(self._q, language)
        rows = day_rows(points, states, checkins, self._q, language)
        journal = await self._journal(uow, client, 1, "")
        phase = None
        if self._phases is not None:
            month_start = today - timedelta(days=29)
            month_checkins = (checkins if start <= month_start else await uow.checkins.recent(
                client.id, since=month_start, until=today))
            month = domain_series(self._indicators.points(month_checkins, month_start, today),
                                  list(labels))
            phase = await self._phases.review(uow, client, language=language,
                                              timezone=timezone, labels=labels, month=month,
                                              reason_label=self._rules.reason_label)
        page = ClientPage(
            client=client, clinician_name=owner.name if owner else "-", days=days,
            start=start, today=today, last_checkin=latest.local_date if latest else None,
            latest_level=latest.risk_level if latest else None,
            week=adherence(states, start=today - timedelta(days=6), end=today),
            month=adherence(states, start=today - timedelta(days=29), end=today),
            period=adherence(states, start=start, end=today),
            open_alerts=counts.get(client.id, {}), points=tuple(points),
            domain_labels=labels, domains=domain_series(points, list(labels)),
            roll_ups=roll_ups, scales=scales,
            calendar=calendar(client, {d: s for d, s in states.items() if d >= start}, today),
            alerts=tuple(reversed(await alert_rows(
                uow, alerts, language=language, timezone=timezone,
                reason_label=self._rules.reason_label))),
            situations=tuple(situations(checkins, self._q, plan.coping_steps, language)),
            day_rows=tuple(r for r in reversed(rows) if r.status == "submitted"),
            notes=checkin_notes(checkins, self._q), plan=plan,
            plan_text=plans.plan_as_text(plan, language),
            plan_editable=plans.editable(client), journal=journal,
            since=await self._since(uow, client, since_day, today,
                                    owner.name if owner else "-", session=session,
                                    chosen=chosen, language=language, timezone=timezone),

            suggestions=tuple(await uow.plans.suggestions(client.id)),
            help_moments=tuple(await uow.plans.moments(client.id, since=since)),
            phase=phase)
        await uow.audit(at=now, actor=actor_of(viewer), action="client.report",
                        client_id=client.id,
                        detail=f"client {client.code} days: {days}"
                        + (f" since {since_day.isoformat()}" if chosen else ""))
        return page

    async def since(self, uow: UnitOfWork, viewer: Clinician, code: str, *,
                    since: date | None = None, language: str = "en",
                    timezone: str = "UTC") -> Since:
        """The "since" view alone (for its one-page PDF), audited as the page is."""
        client = await visible_client(uow, viewer, code)
        now = self._clock.now()
        today = client_today(client, now)
        day, session = await self._since_day(uow, client, now, today, since)
        owner = await uow.clinicians.get(client.clinician_id)
        shown = await self._since(uow, client, day, today, owner.name if owner else "-",
                                  session=session, chosen=since is not None,
                                  language=language, timezone=timezone)
        await uow.audit(at=now, actor=actor_of(viewer), action="client.report",
                        client_id=client.id,
                        detail=f"client {client.code} since {day.isoformat()} pdf")
        return shown

    @staticmethod
    async def _since_day(uow: UnitOfWork, client: Client, now: datetime, today: date,
                         since: date | None) -> tuple[date, date | None]:
        """The day the view starts on, and the session it starts from (None: chosen, or
        SINCE_DEFAULT days back). Unless chosen, the client's local day of their latest
        individual or group session that began before now and that they came to (late
        counts); with none since since_bounds(), SINCE_DEFAULT days back."""
        earliest, latest = since_bounds(today)
        if since is not None:
            if not earliest <= since <= latest:
                raise InvalidInput(f"since must be {earliest} to {latest}",
                                   key="report.since")
            return since, None
        kept = await uow.appointments.last_kept(client.id, kinds=SESSION_KINDS, marks=KEPT,
                                                before=now)
        if kept is not None:
            day = kept.astimezone(ZoneInfo(client.timezone)).date()
            if earliest <= day <= latest:
                return day, day
        return today - timedelta(days=SINCE_DEFAULT), None

    async def _since(self, uow: UnitOfWork, client: Client, since: date, today: date,
                     clinician_name: str, *, language: str, timezone: str,
                     session: date | None = None, chosen: bool = False) -> Since:
        zone = ZoneInfo(client.timezone)
        viewer = ZoneInfo(timezone)
        start = datetime.combine(since, time(0), zone).astimezone(UTC)
        checkins = await uow.checkins.recent(client.id, since=since, until=today)
        outline = await uow.checkins.days(client.id, since=since, until=today)
        states = day_states(client, outline, start=since, end=today, today=today)
        plan = await uow.plans.get(client.id)
        alerts = await uow.alerts.recent(client.id, since=start)
        rows = await alert_rows(uow, alerts, language=language, timezone=timezone,
                                reason_label=self._rules.reason_label)
        found = situations(checkins, self._q, plan.coping_steps, language)
        day_list = day_rows(self._indicators.points(checkins, since, today), states,
                            checkins, self._q, language)
        words = [Words(at=e.created_at.astimezone(viewer), text=e.text, source="entry")
                 for e in await uow.journal.recent(client.id, limit=SINCE_WORDS, since=start)]
        total = len([at for _id, at in await uow.journal.index(client.id)
                     if _aware(at) >= start])
        for checkin in checkins:
            note = checkin_note(checkin, self._q)
            if note is not None:
                moment = checkin.submitted_at or datetime.combine(checkin.local_date,
                                                                  time(21), zone)
                words.append(Words(at=moment.astimezone(viewer), text=note,
                                   source="checkin"))
                total += 1
        words.sort(key=lambda w: w.at, reverse=True)
        shown_states = [s for d, s in sorted(states.items()) if d >= since]
        updated = plan.updated_at.astimezone(viewer) if plan.updated_at else None
        return Since(
            code=client.code, clinician_name=clinician_name, since=since, today=today,
            generated_at=self._clock.now().astimezone(viewer),
            alerts=tuple(sorted(rows, key=lambda a: a.at, reverse=True)),
            done=shown_states.count("submitted"), missed=shown_states.count("missed"),
            unfinished=shown_states.count("open"),
            missed_days=tuple(sorted((d for d, s in states.items() if s == "missed"),
                                     reverse=True)),
            situations=tuple(found),
            lapses=tuple(r.day for r in reversed(day_list) if r.lapse),
            words=tuple(words[:SINCE_WORDS]), words_total=total,
            plan_changed_at=updated if updated is not None and plan.updated_at is not None
            and plan.updated_at >= start else None,
            plan_updated_at=updated, session=session, chosen=chosen)

    async def journal(self, uow: UnitOfWork, viewer: Clinician, code: str, *, page: int = 1,
                      query: str = "") -> JournalPage:
        """One page of the journal, newest first, or of the client's texts holding `query`
        (journal/review/search.py: entries, check-in notes and situations, opened a batch at
        a time up to SEARCH_LIMIT). The query itself is never written anywhere, the audit
        trail included."""
        client = await visible_client(uow, viewer, code)
        shown = await self._journal(uow, client, page, query)
        detail = f"client {client.code} page {shown.page}" + (" search" if shown.query else "")
        await uow.audit(at=self._clock.now(), actor=actor_of(viewer), action="client.history",
                        client_id=client.id, detail=detail)
        return shown

    async def _journal(self, uow: UnitOfWork, client: Client, page: int, query: str
                       ) -> JournalPage:
        query = " ".join(query.split())[:MAX_QUERY]
        page = max(1, page)
        if query:
            found = await search(uow, self._q, client, query, page=page)
            return JournalPage(code=client.code, entries=(), page=page, pages=None,
                               total=found.matches, query=query, has_next=found.has_next,
                               searched=found.searched, search_complete=found.complete,
                               hits=found.hits)
        index = await uow.journal.index(client.id)  # ids and times only
        pages = max(1, -(-len(index) // JOURNAL_PAGE_SIZE))
        page = min(page, pages)
        chosen = index[(page - 1) * JOURNAL_PAGE_SIZE:page * JOURNAL_PAGE_SIZE]
        entries = [e for entry_id, _at in chosen if (e := await uow.journal.get(entry_id))]
        return JournalPage(code=client.code, entries=tuple(entries), page=page, pages=pages, total=len(index),
                           query="", has_next=page < pages)


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


__all__ = ["BAD_SINCE", "BAD_SINCE_SESSION", "DEFAULT_RANGE", "JOURNAL_PAGE_SIZE", "RANGES", "SEARCH_LIMIT",
           "SINCE_DEFAULT", "Calendar", "ClientPage", "ClientPages", "JournalPage", "Since",
           "Words", "calendar", "since_bounds"]
