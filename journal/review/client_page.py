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
from journal.checkin.questionnaire import Questionnaire
from journal.clock import Clock
from journal.errors import InvalidInput
from journal.people import actor_of, visible_client
from journal.phases.review import PhaseReview
from journal.review import plan as plans
from journal.review.adherence import Adherence, adherence, client_today, day_states
from journal.review.charts import DayPoint, Series
from journal.review.indicators import Indicators
from journal.review.model import AlertRow, DayRow, alert_rows, day_rows, domain_labels
from journal.review.situations import Situation, checkin_notes, domain_series, situations
from storage.records import Client, ClientStatus, Clinician, JournalEntry, Plan
from storage.uow import UnitOfWork

if TYPE_CHECKING:
    from journal.phases.service import PhaseService

RANGES: Final = (14, 30, 90, 365)  # the day ranges the page offers
DEFAULT_RANGE: Final = 30
JOURNAL_PAGE_SIZE: Final = 10
# A search reads at most this many of the newest entries (see ClientPages.journal).
SEARCH_LIMIT: Final = 2000
SEARCH_BATCH: Final = 100
MAX_QUERY: Final = 100


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
    (and, when searching, the entries read to find them)."""

    code: str  # the client's
    entries: tuple[JournalEntry, ...]
    page: int  # 1 is the newest
    pages: int | None  # None while searching: more matches may lie past what was read
    total: int | None  # entries (or, searching, matches found in what was read)
    query: str
    has_next: bool
    searched: int = 0  # entries read to answer a search
    search_complete: bool = True  # False: SEARCH_LIMIT stopped the search


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
                   timezone: str = "UTC") -> ClientPage:
        """Everything the client page shows for the last `days` local days (one of RANGES),
        with the newest page of the journal. Audited as the chat's /report is."""
        if days not in RANGES:
            raise InvalidInput(f"days must be one of {RANGES}", key="report.days")
        client = await visible_client(uow, viewer, code)
        now = self._clock.now()
        today = client_today(client, now)
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
            plan_editable=plans.editable(client), journal=journal, phase=phase)
        await uow.audit(at=now, actor=actor_of(viewer), action="client.report",
                        client_id=client.id, detail=f"client {client.code} days: {days}")
        return page

    async def journal(self, uow: UnitOfWork, viewer: Clinician, code: str, *, page: int = 1,
                      query: str = "") -> JournalPage:
        """One page of the journal, newest first, or of the entries holding `query`.

        The entries are sealed, so no index can find a word in them: a search decrypts
        the newest entries a batch at a time (SEARCH_BATCH), keeps the text of only the
        matches on the page asked for, and stops once it knows whether a next page exists
        or after SEARCH_LIMIT entries, saying so (search_complete). The query itself is
        never written anywhere, the audit trail included."""
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
            return await _search(uow, client, page, query)
        index = await uow.journal.index(client.id)  # ids and times only
        pages = max(1, -(-len(index) // JOURNAL_PAGE_SIZE))
        page = min(page, pages)
        chosen = index[(page - 1) * JOURNAL_PAGE_SIZE:page * JOURNAL_PAGE_SIZE]
        entries = [e for entry_id, _at in chosen if (e := await uow.journal.get(entry_id))]
        return JournalPage(code=client.code, entries=tuple(entries), page=page, pages=pages, total=len(index),
                           query="", has_next=page < pages)


async def _search(uow: UnitOfWork, client: Client, page: int, query: str) -> JournalPage:
    needle = query.casefold()
    stored = len(await uow.journal.index(client.id))  # counted, not decrypted
    skip = (page - 1) * JOURNAL_PAGE_SIZE
    found: list[JournalEntry] = []
    matches = read = 0
    more = False
    while read < SEARCH_LIMIT:
        batch = await uow.journal.recent(client.id, limit=min(SEARCH_BATCH, SEARCH_LIMIT - read),
                                         offset=read)
        read += len(batch)
        for entry in batch:
            if needle not in entry.text.casefold():
                continue
            matches += 1
            if matches > skip + JOURNAL_PAGE_SIZE:
                more = True
                break
            if matches > skip:
                found.append(entry)
        if more or len(batch) < SEARCH_BATCH:
            break
    complete = more or read >= stored
    return JournalPage(code=client.code, entries=tuple(found), page=page, pages=None,
                       total=matches if not more else None, query=query, has_next=more,
                       searched=read, search_complete=complete)


__all__ = ["DEFAULT_RANGE", "JOURNAL_PAGE_SIZE", "RANGES", "SEARCH_LIMIT", "Calendar",
           "ClientPage", "ClientPages", "JournalPage", "calendar"]
