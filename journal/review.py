"""Clinicians review in session: caseload by need, client summary, history pages, RP plan.

Access is the same everywhere: a clinician sees their own clients, a supervisor everyone's,
and anything else looks exactly like a client that does not exist. Every view of decrypted
data writes an audit event in the same transaction as the view.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final, Literal
from zoneinfo import ZoneInfo

from journal.alerts.levels import level_rank
from journal.alerts.rules import DailyRule, RiskRules, indicators
from journal.charts import AlertMark, DayPoint, Thresholds
from journal.checkin.flow import answers_of, render_answer
from journal.checkin.questionnaire import INDICATOR_NAMES, MAX_SCORE, Answer, Questionnaire
from journal.clock import Clock
from journal.errors import InvalidInput, NotAllowed, NotFound
from journal.i18n import LANGUAGES, N_, gettext_for
from journal.people import existing_client, visible_client
from journal.report import JournalText, ReportData, SituationRow, build_report
from storage.records import Alert, CheckIn, CheckInDay, Client, Clinician, Plan
from storage.uow import UnitOfWork

PAGE_SIZE: Final = 3  # history items a page; a check-in with its texts fills a third
SUMMARY_DAYS: Final = 14
DEFAULT_REPORT_DAYS: Final = 30
MAX_REPORT_DAYS: Final = 366
MAX_PLAN_ITEMS: Final = 20  # lines a section
MAX_PLAN_ITEM_LENGTH: Final = 200
PLAN_EDIT_MINUTES: Final = 15  # a "/plan CODE" waits this long for the new plan
PLAN_EDIT_STATE: Final = "plan_edit"

PLAN_SECTIONS: Final = (
    ("warning_signs", N_("Warning signs")),
    ("coping_steps", N_("Coping steps")),
    ("support_people", N_("Support people")),
)
CLIENT_PLAN_NOTICE: Final = N_(
    "Your clinician updated your relapse prevention plan. Use /plan to read it.")
STAFF_NEW_CLIENT: Final = N_("Client {code} is now on your caseload.")
STAFF_CLIENT_MOVED: Final = N_("Client {code} was moved to the caseload of {name}.")


class PlanFormatError(InvalidInput):
    """A plan message that does not follow the sections format (its text is never kept)."""

    key = "plan.format"


class UnknownClinician(NotFound):
    """No active clinician has that Telegram id."""

    key = "clinician.not_found"


# --- access -----------------------------------------------------------------------------


def actor_of(clinician: Clinician) -> str:
    return f"clinician:{clinician.id}"


# --- adherence --------------------------------------------------------------------------


@dataclass(frozen=True)
class Adherence:
    done: int
    expected: int

    @property
    def ratio(self) -> float | None:
        return self.done / self.expected if self.expected else None


def client_today(client: Client, now: datetime) -> date:
    """The client's local date; after discharge, their last day in the program."""
    zone = ZoneInfo(client.timezone)
    today = now.astimezone(zone).date()
    if client.discharged_at is not None:
        today = min(today, client.discharged_at.astimezone(zone).date())
    return today


def _local_date(moment: datetime | None, zone: str) -> date | None:
    return moment.astimezone(ZoneInfo(zone)).date() if moment is not None else None


def day_states(client: Client, days: Sequence[CheckInDay], *, start: date, end: date,
               today: date) -> dict[date, str]:
    """What each day from start to end shows: submitted, missed, open or none.

    A day is asked for when it is a check-in weekday on or after enrolment (and before a
    pause). An asked day in the past with no submitted check-in counts as missed even when
    no row exists, so a gap in prompting never flatters adherence."""
    rows = {d.local_date: d for d in days}
    enrolled = _local_date(client.enrolled_at, client.timezone)
    paused = (_local_date(client.paused_at, client.timezone) if client.status == "paused"
              else None)
    states: dict[date, str] = {}
    day = start
    while day <= end:
        row = rows.get(day)
        asked = (enrolled is not None and day >= enrolled
                 and str(day.weekday()) in client.checkin_days
                 and (paused is None or day < paused))
        if row is not None and row.status == "submitted":
            states[day] = "submitted"
        elif (row is not None and row.status == "missed") or (asked and day < today):
            states[day] = "missed"
        elif row is not None and row.status in ("prompted", "in_progress"):
            states[day] = "open"
        else:
            states[day] = "none"
        day += timedelta(days=1)
    return states


def adherence(states: Mapping[date, str], *, start: date, end: date) -> Adherence:
    """Submitted days over days asked for; today counts only once it is done."""
    window = [s for d, s in states.items() if start <= d <= end]
    done = window.count("submitted")
    return Adherence(done, done + window.count("missed"))


# --- caseload ---------------------------------------------------------------------------


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


def need_order(entry: CaseloadEntry) -> tuple[Any, ...]:
    """Most in need first: open critical alerts, open high alerts, the latest indicator
    level, then the weakest adherence (a client never asked yet sorts last)."""
    ratio = entry.week.ratio
    level = entry.latest_level if entry.latest_level in ("low", "elevated", "high",
                                                         "critical") else "low"
    return (-entry.open_alerts.get("critical", 0), -entry.open_alerts.get("high", 0),
            -level_rank(level),  # type: ignore[arg-type]
            ratio if ratio is not None else 2.0,
            entry.month.ratio if entry.month.ratio is not None else 2.0, entry.client.code)


@dataclass(frozen=True)
class Reassignment:
    client: Client
    before: Clinician | None
    after: Clinician


class CaseloadService:
    def __init__(self, *, clock: Clock, staff_language: str = "en") -> None:
        self._clock = clock
        self._language = staff_language

    async def caseload(self, uow: UnitOfWork, clinician: Clinician) -> list[CaseloadEntry]:
        clients = await uow.clients.for_clinician(None if clinician.is_supervisor
                                                  else clinician.id)
        counts = await uow.alerts.open_counts([c.id for c in clients])
        now = self._clock.now()
        entries = []
        for client in clients:
            today = client_today(client, now)
            start = today - timedelta(days=29)
            days = await uow.checkins.days(client.id, since=start, until=today)
            latest = await uow.checkins.latest_day(client.id)
            states = day_states(client, days, start=start, end=today, today=today)
            entries.append(CaseloadEntry(
                client=client, today=today,
                last_checkin=latest.local_date if latest else None,
                latest_level=latest.risk_level if latest else None,
                week=adherence(states, start=today - timedelta(days=6), end=today),
                month=adherence(states, start=start, end=today),
                open_alerts=counts.get(client.id, {})))
        entries.sort(key=need_order)
        await uow.audit(at=now, actor=actor_of(clinician), action="caseload.view",
                        detail=f"{len(entries)} clients")
        return entries

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
        if target is None:
            raise UnknownClinician(f"no active clinician with Telegram id {to_telegram_id}")
        before = await uow.clinicians.get(client.clinician_id)
        if target.id == client.clinician_id:
            return Reassignment(client, before, target)
        now = self._clock.now()
        client = await uow.clients.update(client.id, clinician_id=target.id)
        await uow.audit(at=now, actor=actor, action="client.reassign", client_id=client.id,
                        detail=f"client {client.code} from clinician "
                               f"{before.id if before else '-'} to clinician {target.id}")
        t = self._t
        await uow.outbox.add(chat_id=target.telegram_id, kind="notice", method="sendMessage",
                             params={"text": t(STAFF_NEW_CLIENT).format(code=client.code)},
                             now=now, client_id=client.id)
        if before is not None and before.active:
            await uow.outbox.add(
                chat_id=before.telegram_id, kind="notice", method="sendMessage",
                params={"text": t(STAFF_CLIENT_MOVED).format(code=client.code,
                                                              name=target.name)},
                now=now, client_id=client.id)
        return Reassignment(client, before, target)

    def _t(self, message: str) -> str:
        return gettext_for(self._language, message)


# --- summary, history, plan, report -----------------------------------------------------


@dataclass(frozen=True)
class ClientSummary:
    client: Client
    clinician_name: str
    today: date
    last_checkin: CheckInDay | None
    week: Adherence
    month: Adherence
    open_alerts: Mapping[str, int]
    recent_alerts: tuple[Alert, ...]
    plan: Plan
    points: tuple[DayPoint, ...]
    start: date
    sexual_violent: Thresholds
    general: Thresholds
    sv_max: int
    general_max: int
    language: str

    async def chart(self) -> bytes:
        """The last days as a PNG, drawn off the event loop (matplotlib is CPU-bound)."""
        from journal import charts

        return await asyncio.to_thread(
            charts.summary_chart, self.points, self.sexual_violent, self.general,
            start=self.start, end=self.today, language=self.language, sv_max=self.sv_max,
            general_max=self.general_max)


@dataclass(frozen=True)
class HistoryItem:
    """One check-in day or one journal entry, decrypted, with answers in words."""

    kind: Literal["checkin", "missed", "journal"]
    day: date
    at: datetime | None = None  # a journal entry's local time
    level: str | None = None
    sexual_violent: int | None = None
    general: int | None = None
    answers: tuple[tuple[str, str], ...] = ()  # (question in short, answer)
    texts: tuple[tuple[str, str], ...] = ()  # free-text answers, last on the page
    text: str = ""  # a journal entry


@dataclass(frozen=True)
class HistoryPage:
    client: Client
    page: int  # 0 is the newest
    pages: int
    total: int
    items: tuple[HistoryItem, ...]


class ReviewService:
    def __init__(self, *, clock: Clock, questionnaire: Questionnaire, rules: RiskRules,
                 staff_language: str = "en", display_timezone: str = "UTC") -> None:
        self._clock = clock
        self._q = questionnaire
        self._rules = rules
        self._language = staff_language
        self._zone = display_timezone

    # -- summary -------------------------------------------------------------------------
    async def summary(self, uow: UnitOfWork, clinician: Clinician, code: str) -> ClientSummary:
        client = await visible_client(uow, clinician, code)
        now = self._clock.now()
        today = client_today(client, now)
        month_start = today - timedelta(days=29)
        start = today - timedelta(days=SUMMARY_DAYS - 1)
        days = await uow.checkins.days(client.id, since=month_start, until=today)
        states = day_states(client, days, start=month_start, end=today, today=today)
        checkins = await uow.checkins.recent(client.id, since=start, until=today)
        owner = await uow.clinicians.get(client.clinician_id)
        sv, general = await self._thresholds(uow, client)
        counts = await uow.alerts.open_counts([client.id])
        alerts = await uow.alerts.recent(client.id, since=now - timedelta(days=SUMMARY_DAYS))
        summary = ClientSummary(
            client=client, clinician_name=owner.name if owner else "", today=today,
            last_checkin=await uow.checkins.latest_day(client.id),
            week=adherence(states, start=today - timedelta(days=6), end=today),
            month=adherence(states, start=month_start, end=today),
            open_alerts=counts.get(client.id, {}), recent_alerts=tuple(alerts),
            plan=await uow.plans.get(client.id),
            points=tuple(self._points(checkins, start, today)), start=start,
            sexual_violent=sv, general=general, sv_max=self._indicator_max("sexual_violent"),
            general_max=self._indicator_max("general"), language=self._language)
        await uow.audit(at=now, actor=actor_of(clinician), action="client.summary",
                        client_id=client.id, detail=f"client {client.code}")
        return summary

    # -- history -------------------------------------------------------------------------
    async def history(self, uow: UnitOfWork, clinician: Clinician, code: str, page: int,
                      ) -> HistoryPage:
        """One page of check-ins and journal entries, newest first; only the page's items
        are decrypted. A page past the end shows the last page."""
        client = await visible_client(uow, clinician, code)
        index: list[tuple[datetime, str, Any]] = []
        for day in await uow.checkins.days(client.id):
            if day.status in ("submitted", "missed"):
                # A missed day sorts at its end, after that day's journal entries.
                day_end = datetime.combine(day.local_date, time(23, 59),
                                           ZoneInfo(client.timezone))
                index.append((day.submitted_at or day_end, "checkin", day))
        for entry_id, at in await uow.journal.index(client.id):
            index.append((at, "journal", entry_id))
        index.sort(key=lambda row: row[0], reverse=True)
        pages = max(1, math.ceil(len(index) / PAGE_SIZE))
        page = min(max(page, 0), pages - 1)
        items = []
        plan = (await uow.plans.get(client.id)).coping_steps
        for _at, kind, ref in index[page * PAGE_SIZE:(page + 1) * PAGE_SIZE]:
            if kind == "journal":
                entry = await uow.journal.get(ref)
                if entry is not None:
                    local = entry.created_at.astimezone(ZoneInfo(client.timezone))
                    items.append(HistoryItem(kind="journal", day=local.date(), at=local,
                                             text=entry.text))
            elif ref.status == "missed":
                items.append(HistoryItem(kind="missed", day=ref.local_date))
            else:
                checkin = await uow.checkins.get(ref.id)
                if checkin is not None:
                    items.append(self._history_checkin(checkin, plan))
        await uow.audit(at=self._clock.now(), actor=actor_of(clinician),
                        action="client.history", client_id=client.id,
                        detail=f"client {client.code} page {page + 1}")
        return HistoryPage(client=client, page=page, pages=pages, total=len(index),
                           items=tuple(items))

    def _history_checkin(self, checkin: CheckIn, plan: Sequence[str]) -> HistoryItem:
        answers = answers_of(checkin.state) if checkin.state else {}
        shown: list[tuple[str, str]] = []
        texts: list[tuple[str, str]] = []
        for item in self._q.items:
            if item.id not in answers:
                continue
            pair = (item.short.get(self._language),
                    render_answer(item, answers[item.id], self._language, plan))
            (texts if item.kind == "text" and isinstance(answers[item.id], str)
             else shown).append(pair)
        sv, general = self._indicators(checkin, answers)
        return HistoryItem(kind="checkin", day=checkin.local_date, level=checkin.risk_level,
                           sexual_violent=sv, general=general, answers=tuple(shown),
                           texts=tuple(texts))

    # -- plan ----------------------------------------------------------------------------
    @staticmethod
    def editable(client: Client) -> bool:
        return client.status in ("invited", "active", "paused")

    async def plan(self, uow: UnitOfWork, clinician: Clinician, code: str, *,
                   edit: bool = False) -> tuple[Client, Plan]:
        """The client's plan; with `edit`, the clinician's next message (within
        PLAN_EDIT_MINUTES) is read as the new plan."""
        client = await visible_client(uow, clinician, code)
        plan = await uow.plans.get(client.id)
        now = self._clock.now()
        if edit and self.editable(client):
            # Only the client id is kept in the conversation, never any plan text.
            await uow.conversations.set(clinician.telegram_id, PLAN_EDIT_STATE,
                                        {"client": client.id}, now)
        await uow.audit(at=now, actor=actor_of(clinician), action="plan.view",
                        client_id=client.id, detail=f"client {client.code}")
        return client, plan

    async def plan_reply(self, uow: UnitOfWork, clinician: Clinician, text: str
                         ) -> tuple[Client, Plan] | None:
        """A typed message as the new plan, if the clinician asked to edit one lately;
        None when no edit is waiting (the message is then not about a plan)."""
        conversation = await uow.conversations.get(clinician.telegram_id)
        if conversation is None or conversation.state != PLAN_EDIT_STATE:
            return None
        if self._clock.now() - conversation.updated_at > timedelta(minutes=PLAN_EDIT_MINUTES):
            await uow.conversations.clear(clinician.telegram_id)
            return None
        client = await uow.clients.get(str(conversation.data.get("client", "")))
        if client is None:
            raise NotFound("the client of this plan edit is gone", key="client.not_found")
        saved = await self.edit_plan(uow, clinician, client.code, text)
        await uow.conversations.clear(clinician.telegram_id)
        return saved

    async def edit_plan(self, uow: UnitOfWork, clinician: Clinician, code: str, text: str
                        ) -> tuple[Client, Plan]:
        """Replace the sections the clinician sent; the check-in's coping item offers the
        new steps from the next screen on, and the client is told in their language."""
        client = await visible_client(uow, clinician, code)
        if client.status not in ("invited", "active", "paused"):
            raise NotAllowed("a discharged client's plan is kept as it was", key="plan.closed")
        now = self._clock.now()
        plan = parse_plan(text, await uow.plans.get(client.id))
        saved = await uow.plans.put(plan, by=clinician.id, now=now)
        await uow.audit(at=now, actor=actor_of(clinician), action="plan.edit",
                        client_id=client.id,
                        detail=f"client {client.code}: {len(plan.warning_signs)} warning signs, "
                               f"{len(plan.coping_steps)} coping steps, "
                               f"{len(plan.support_people)} support people")
        if client.telegram_id is not None and client.status in ("active", "paused"):
            await uow.outbox.add(
                chat_id=client.telegram_id, kind="notice", method="sendMessage",
                params={"text": gettext_for(client.language, CLIENT_PLAN_NOTICE)}, now=now,
                client_id=client.id)
        return client, saved

    # -- report --------------------------------------------------------------------------
    async def report(self, uow: UnitOfWork, clinician: Clinician, code: str,
                     days: int = DEFAULT_REPORT_DAYS) -> ReportData:
        client = await visible_client(uow, clinician, code)
        return await self._report(uow, client, days, actor_of(clinician))

    async def report_for_admin(self, uow: UnitOfWork, code: str,
                               days: int = DEFAULT_REPORT_DAYS, *,
                               actor: str = "admin:cli") -> ReportData:
        """The command line's report: the administrator sees every client but erased ones."""
        client = await existing_client(uow, code)
        return await self._report(uow, client, days, actor)

    async def _report(self, uow: UnitOfWork, client: Client, days: int,
                      actor: str) -> ReportData:
        if not 1 <= days <= MAX_REPORT_DAYS:
            raise InvalidInput(f"days must be 1 to {MAX_REPORT_DAYS}", key="report.days")
        now = self._clock.now()
        zone = ZoneInfo(client.timezone)
        end = client_today(client, now)
        start = end - timedelta(days=days - 1)
        checkins = await uow.checkins.recent(client.id, since=start, until=end)
        outline = [CheckInDay(c.id, c.local_date, c.status, c.risk_level, c.submitted_at)
                   for c in checkins]
        states = day_states(client, outline, start=start, end=end, today=client_today(
            client, now))
        plan = await uow.plans.get(client.id)
        since = datetime.combine(start, time(0), zone).astimezone(UTC)
        until = datetime.combine(end + timedelta(days=1), time(0), zone).astimezone(UTC)
        alerts = [a for a in await uow.alerts.recent(client.id, since=since)
                  if a.created_at < until]
        entries = [e for e in await uow.journal.recent(client.id, limit=100_000, since=since)
                   if e.created_at < until]
        owner = await uow.clinicians.get(client.clinician_id)
        sv, general = await self._thresholds(uow, client)
        situations: list[SituationRow] = []
        journal: list[JournalText] = [
            JournalText(at=e.created_at.astimezone(zone), text=e.text, source="entry")
            for e in entries]
        for checkin in checkins:
            if checkin.status != "submitted" or not checkin.state:
                continue
            answers = answers_of(checkin.state)
            situation = self._situation(checkin.local_date, answers, plan.coping_steps)
            if situation is not None:
                situations.append(situation)
            note = answers.get("journal_note")
            if isinstance(note, str) and note.strip():
                moment = checkin.submitted_at or datetime.combine(checkin.local_date,
                                                                  time(21), zone)
                journal.append(JournalText(at=moment.astimezone(zone), text=note,
                                           source="checkin"))
        journal.sort(key=lambda j: j.at)
        t = self._t
        data = ReportData(
            client_code=client.code, clinician=owner.name if owner else "-", start=start,
            end=end, generated_at=now.astimezone(ZoneInfo(self._zone)),
            client_timezone=client.timezone, language=self._language,
            points=tuple(self._points(checkins, start, end)), days=states,
            adherence=adherence(states, start=start, end=end).done,
            asked=adherence(states, start=start, end=end).expected,
            alerts=tuple(AlertMark(a.created_at, a.level, a.status == "open") for a in alerts),
            alert_lines=tuple(
                (a.created_at.astimezone(zone), a.level,
                 "; ".join(t(self._rules.reason_label(r)) for r in a.detail.get("reasons", [])),
                 a.status == "open") for a in alerts),
            sexual_violent=sv, general=general, sv_max=self._indicator_max("sexual_violent"),
            general_max=self._indicator_max("general"), situations=tuple(situations),
            journal=tuple(journal), plan=plan)
        await uow.audit(at=now, actor=actor, action="client.report", client_id=client.id,
                        detail=f"client {client.code} {days} days")
        return data

    def _situation(self, day: date, answers: Mapping[str, Answer],
                   plan: Sequence[str]) -> SituationRow | None:
        if answers.get("high_risk") is not True:
            return None
        t = self._t
        detail = answers.get("high_risk_detail")
        happened = detail if isinstance(detail, str) else t(N_("(no details given)"))
        if answers.get("lapse") is True:
            happened += "\n" + t(N_("Lapse reported."))
        coping = t(N_("(not answered)"))
        if "coping_steps" in answers and self._q.has_item("coping_steps"):
            coping = render_answer(self._q.item("coping_steps"), answers["coping_steps"],
                                   self._language, plan)
        effect = answers.get("coping_effect")
        if isinstance(effect, int) and not isinstance(effect, bool):
            coping += "\n" + t(N_("Worked: {n}/10")).format(n=effect)
        return SituationRow(day=day, happened=happened, coping=coping)

    # -- helpers -------------------------------------------------------------------------
    def _t(self, message: str) -> str:
        return gettext_for(self._language, message)

    def _indicators(self, checkin: CheckIn, answers: Mapping[str, Answer]
                    ) -> tuple[int | None, int | None]:
        scores = checkin.scores or {}
        if "sexual_violent" in scores and "general" in scores:
            return int(scores["sexual_violent"]), int(scores["general"])
        if checkin.status != "submitted" or not answers:
            return None, None
        try:  # stored before scores were kept: the answers give the same roll-ups
            ind = indicators(self._q, answers)
        except (KeyError, ValueError):
            return None, None
        return ind.sexual_violent, ind.general

    def _points(self, checkins: Sequence[CheckIn], start: date, end: date) -> list[DayPoint]:
        by_day = {c.local_date: c for c in checkins if c.status == "submitted" and c.state}
        points = []
        day = start
        while day <= end:
            checkin = by_day.get(day)
            if checkin is None:
                points.append(DayPoint(day))
            else:
                assert checkin.state is not None
                answers = answers_of(checkin.state)
                sv, general = self._indicators(checkin, answers)
                points.append(DayPoint(day, sv, general, _scale(answers, "confidence"),
                                       _scale(answers, "coping"),
                                       _scale(answers, "coping_effect")))
            day += timedelta(days=1)
        return points

    def _indicator_max(self, name: str) -> int:
        domains = {item.domain for item in self._q.items
                   if name in item.indicators and item.domain is not None}
        return MAX_SCORE * len(domains) if name in INDICATOR_NAMES and domains else 10

    async def _thresholds(self, uow: UnitOfWork, client: Client
                          ) -> tuple[Thresholds, Thresholds]:
        """The rules' indicator thresholds, with this client's overrides applied."""
        overrides = await uow.overrides.for_client(client.id)

        def value(rule_id: str) -> int | None:
            try:
                rule = self._rules.rule(rule_id)
            except KeyError:
                return None
            if not isinstance(rule, DailyRule) or not isinstance(rule.test.value, int):
                return None
            return overrides.get(rule_id, rule.test.value)

        return (Thresholds(value("sexual_violent_elevated"), value("sexual_violent_high")),
                Thresholds(value("general_elevated"), value("general_high")))

    def reason_label(self, code: str) -> str:
        """The msgid naming an alert reason, from the program's rules."""
        return self._rules.reason_label(code)

    async def render_report(self, data: ReportData) -> bytes:
        """The PDF, built off the event loop: charts and layout are CPU-bound."""
        return await asyncio.to_thread(build_report, data)


def _scale(answers: Mapping[str, Answer], item_id: str) -> int | None:
    value = answers.get(item_id)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


# --- the plan's text format -------------------------------------------------------------

_BULLET = re.compile(r"^\s*(?:[-*•·–—]\s*|\d{1,2}[.)]\s+)")


def _header_names() -> dict[str, str]:
    """Section titles in every language, folded, to the plan field they start."""
    names: dict[str, str] = {}
    for field_name, title in PLAN_SECTIONS:
        for language in LANGUAGES:
            names[_fold(gettext_for(language, title))] = field_name
        names[_fold(title)] = field_name
    return names


def _fold(text: str) -> str:
    return " ".join(text.replace(":", " ").split()).casefold()


def parse_plan(text: str, current: Plan) -> Plan:
    """Read a plan sent as sections, one item a line:

        Warning signs:
        - staying up late online
        Coping steps:
        - call my sponsor
        Support people:
        - Ana (sister)

    A section left out keeps what it had; a section title with no lines empties it.
    Bullets and numbering are optional. Raises PlanFormatError, naming no content."""
    headers = _header_names()
    sections: dict[str, list[str]] = {}
    section: list[str] | None = None
    for raw in text.replace("\r", "\n").split("\n"):
        line = _BULLET.sub("", raw).strip()
        if not line:
            continue
        head, colon, rest = line.partition(":")
        title = headers.get(_fold(head)) if colon else headers.get(_fold(line))
        if title is not None:
            section = sections.setdefault(title, [])
            line = rest.strip()
            if not line:
                continue
        if section is None:
            raise PlanFormatError("text before the first section title")
        if len(line) > MAX_PLAN_ITEM_LENGTH:
            raise PlanFormatError(f"an item longer than {MAX_PLAN_ITEM_LENGTH} characters")
        if line.casefold() not in {item.casefold() for item in section}:
            section.append(line)
        if len(section) > MAX_PLAN_ITEMS:
            raise PlanFormatError(f"more than {MAX_PLAN_ITEMS} items in a section")
    if not sections:
        raise PlanFormatError("no section title")
    return Plan(
        client_id=current.client_id,
        warning_signs=tuple(sections.get("warning_signs", current.warning_signs)),
        coping_steps=tuple(sections.get("coping_steps", current.coping_steps)),
        support_people=tuple(sections.get("support_people", current.support_people)))


def plan_as_text(plan: Plan, language: str) -> str:
    """The plan in the format parse_plan reads, so a clinician can copy, edit, send back."""
    blocks = []
    for field_name, title in PLAN_SECTIONS:
        lines = [gettext_for(language, title) + ":"]
        lines += [f"- {item}" for item in getattr(plan, field_name)]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


__all__ = [
    "DEFAULT_REPORT_DAYS", "MAX_REPORT_DAYS", "PAGE_SIZE", "PLAN_EDIT_MINUTES", "Adherence",
    "CaseloadEntry", "CaseloadService", "ClientSummary", "HistoryItem", "HistoryPage",
    "PlanFormatError", "Reassignment", "ReviewService", "UnknownClinician", "actor_of",
    "adherence", "client_today", "day_states", "need_order", "parse_plan", "plan_as_text",
    "visible_client",
]
