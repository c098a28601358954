"""The research export: item-level CSV tables, a codebook and a summary, de-identified by
default, for a supervisor only, audited once.

De-identification: every participant gets a fresh random id in each export (two exports
cannot be joined by it, and it is never the client code); a date is written as days since
the participant's enrolment (or, when the program chooses `shift`, moved by a random
number of days of the participant's own, drawn afresh each export); no free text at all
unless asked for, with a reason, which the audit trail keeps. Small cells: a count in the
summary under the program's threshold is left out (`suppressed` = 1).

A new table is one function: `async def table(ctx) -> Table`, listed in TABLES (its rows
read a slice of clients at a time through `ctx.slices()`)."""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Final, Literal
from zoneinfo import ZoneInfo

from journal.alerts.rules import RiskRules
from journal.checkin.flow import answers_of
from journal.checkin.questionnaire import Questionnaire
from journal.clock import Clock
from journal.errors import InvalidInput, NotAllowed, NotFound
from journal.export.codebook import item_columns, reason_values, write_codebook
from journal.export.files import AtomicDirectory, Column, Progress, Table, no_progress
from journal.i18n import N_
from journal.people import actor_of
from storage.records import Clinician
from storage.repositories.exports import ExportClient
from storage.uow import Store, UnitOfWork

DateMode = Literal["days", "shift"]
DATE_MODES: Final = ("days", "shift")
SLICE: Final = 200  # clients read per short transaction
SHIFT_DAYS: Final = 365  # a shift is drawn from -365..+365 days

P_ID = Column("participant", "string", N_("A random id drawn for this export only."))
DAY = Column("day", "day", N_("Days since the participant's enrolment (0: enrolment "
                              "day), or the shifted date when the program shifts dates."))


@dataclass(frozen=True)
class ResearchOptions:
    since: date
    until: date
    date_mode: DateMode = "days"
    min_cell: int = 5
    free_text: bool = False
    reason: str | None = None


@dataclass
class ExportContext:
    """What a table writer reads and writes with."""

    store: Store
    questionnaire: Questionnaire
    rules: RiskRules
    options: ResearchOptions
    directory: Path
    progress: Progress
    clients: list[ExportClient]
    pids: dict[str, str] = field(default_factory=dict)
    anchors: dict[str, date] = field(default_factory=dict)
    shifts: dict[str, int] = field(default_factory=dict)
    summary: Counter[tuple[str, str]] = field(default_factory=Counter)
    expected_checkins: int | None = None

    def day(self, client_id: str, day: date) -> str:
        if self.options.date_mode == "shift":
            return (day + timedelta(days=self.shifts[client_id])).isoformat()
        return str((day - self.anchors[client_id]).days)

    def local_day(self, client: ExportClient, at: datetime) -> date:
        return at.astimezone(ZoneInfo(client.timezone)).date()

    def table(self, name: str, columns: Sequence[Column], expected: int | None = None) -> Table:
        return Table(self.directory, name, columns, self.progress, expected)

    async def slices(self) -> AsyncIterator[tuple[UnitOfWork, list[ExportClient]]]:
        """The clients a slice at a time, each slice in a short unit of work of its own
        (read only: rolled back when it ends)."""
        for start in range(0, len(self.clients), SLICE):
            chunk = self.clients[start:start + SLICE]
            async with self.store.unit_of_work() as uow:
                yield uow, chunk

    @property
    def window(self) -> tuple[datetime, datetime]:
        """The export's days as instants (a day early and late, for clients' zones)."""
        return (datetime.combine(self.options.since - timedelta(days=1), time(), UTC),
                datetime.combine(self.options.until + timedelta(days=2), time(), UTC))

    def in_days(self, day: date) -> bool:
        return self.options.since <= day <= self.options.until


TableWriter = Callable[[ExportContext], Awaitable[Table]]


async def participants(ctx: ExportContext) -> Table:
    columns = [P_ID,
               Column("caseload", "string", N_("A random id of the participant's caseload "
                                               "(their clinician), drawn for this export.")),
               Column("status", "code", N_("The participant's status when exported."),
                      values={"en": {"active": "active", "paused": "paused",
                                     "discharged": "discharged"}}),
               Column("language", "code", N_("The language the participant uses.")),
               Column("enrolment_day", "day", DAY.description),
               Column("discharge_day", "day", DAY.description)]
    table = ctx.table("participants", columns)
    caseloads: dict[int, str] = {}
    for client in sorted(ctx.clients, key=lambda c: ctx.pids[c.id]):
        caseload = caseloads.setdefault(client.clinician_id, "C" + secrets.token_hex(3))
        discharged = (ctx.day(client.id, ctx.local_day(client, client.discharged_at))
                      if client.discharged_at else "")
        table.write([ctx.pids[client.id], caseload, client.status, client.language,
                     ctx.day(client.id, ctx.anchors[client.id]), discharged])
        ctx.summary[("participants", client.status)] += 1
    table.close()
    return table


async def checkins(ctx: ExportContext) -> Table:
    q = ctx.questionnaire
    items = item_columns(q, free_text=ctx.options.free_text)
    roll_ups = [Column(r.id, "integer", N_("The day's indicator: the sum of each domain's "
                                           "highest item score."),
                       values={lang: {} for lang in q.languages}) for r in q.roll_ups]
    columns = [P_ID, DAY,
               Column("status", "code", N_("submitted, missed, prompted (not answered) or "
                                           "in_progress (started, not finished)."),
                      values={"en": {s: s for s in ("submitted", "missed", "prompted",
                                                    "in_progress")}}),
               Column("questionnaire_version", "string",
                      N_("The questionnaire version the day was asked under.")),
               Column("minutes_to_complete", "integer",
                      N_("Minutes from starting the check-in to sending it.")),
               Column("risk_level", "code", N_("The day's level under the risk rules."),
                      values={"en": {lvl: lvl for lvl in ("low", "elevated", "high",
                                                           "critical")}}),
               *roll_ups, *(column for column, _ in items)]
    table = ctx.table("checkins", columns, ctx.expected_checkins)
    async for uow, chunk in ctx.slices():
        async for row in uow.exports.checkins([c.id for c in chunk], ctx.options.since,
                                              ctx.options.until):
            submitted = row.status == "submitted" and row.state is not None
            answers = answers_of(row.state) if submitted else {}
            scores = row.scores if submitted and isinstance(row.scores, dict) else {}
            minutes = (str(round((row.submitted_at - row.started_at).total_seconds() / 60))
                       if submitted and row.submitted_at and row.started_at else "")
            table.write([ctx.pids[row.client_id], ctx.day(row.client_id, row.local_date),
                         row.status, row.questionnaire_version, minutes,
                         row.risk_level or "" if submitted else "",
                         *(_score(scores.get(r.id)) for r in q.roll_ups),
                         *(encode(answers.get(column.item or "")) if submitted else ""
                           for column, encode in items)])
            ctx.summary[("checkins", row.status)] += 1
    table.close()
    return table


def _score(value: object) -> str:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else ""


async def alerts(ctx: ExportContext) -> Table:
    reasons = reason_values(ctx.rules, ctx.questionnaire.languages)
    columns = [P_ID, DAY,
               Column("level", "code", N_("The alert's level."),
                      values={"en": {lvl: lvl for lvl in ("elevated", "high", "critical")}}),
               Column("status", "code", N_("open, acknowledged, or closed (client erased)."),
                      values={"en": {s: s for s in ("open", "acknowledged", "closed")}}),
               Column("minutes_to_acknowledge", "integer",
                      N_("Minutes from the alert to its acknowledgement by staff.")),
               Column("escalations", "integer", N_("How many times the alert escalated.")),
               Column("reasons", "codes", N_("The reasons the rules gave, by code."),
                      values=reasons)]
    table = ctx.table("alerts", columns)
    since, until = ctx.window
    by_id = {c.id: c for c in ctx.clients}
    async for uow, chunk in ctx.slices():
        async for row in uow.exports.alerts([c.id for c in chunk], since, until):
            day = ctx.local_day(by_id[row.client_id], row.created_at)
            if not ctx.in_days(day):
                continue
            waited = (str(round((row.acknowledged_at - row.created_at).total_seconds() / 60))
                      if row.acknowledged_at else "")
            detail = row.detail if isinstance(row.detail, dict) else {}
            codes = [str(c) for c in detail.get("reasons", ()) if str(c) in ctx.rules.reasons]
            table.write([ctx.pids[row.client_id], ctx.day(row.client_id, day), row.level,
                         row.status, waited, row.escalations, ";".join(codes)])
            ctx.summary[("alerts", row.level)] += 1
    table.close()
    return table


async def journal(ctx: ExportContext) -> Table:
    """Free text: only in an export with free text."""
    columns = [P_ID, DAY, Column("text", "text", N_("A journal entry, as the client "
                                                    "wrote it."))]
    table = ctx.table("journal", columns)
    since, until = ctx.window
    by_id = {c.id: c for c in ctx.clients}
    async for uow, chunk in ctx.slices():
        async for entry in uow.exports.journal([c.id for c in chunk], since, until):
            day = ctx.local_day(by_id[entry.client_id], entry.saved_at)
            if ctx.in_days(day):
                table.write([ctx.pids[entry.client_id], ctx.day(entry.client_id, day),
                             entry.text])
    table.close()
    return table


async def plans(ctx: ExportContext) -> Table:
    """Free text: only in an export with free text."""
    columns = [P_ID,
               Column("warning_signs", "text", N_("The plan's warning signs, one per line.")),
               Column("coping_steps", "text", N_("The plan's coping steps, one per line.")),
               Column("support_people", "text", N_("The plan's support people, one per "
                                                   "line."))]
    table = ctx.table("plans", columns)
    async for uow, chunk in ctx.slices():
        for client in chunk:
            plan = await uow.plans.get(client.id)
            if not plan.is_empty:
                table.write([ctx.pids[client.id], "\n".join(plan.warning_signs),
                             "\n".join(plan.coping_steps), "\n".join(plan.support_people)])
    table.close()
    return table


# (writer, free text only). Phases, appointments and sharing agreements add theirs here.
TABLES: Final[tuple[tuple[TableWriter, bool], ...]] = (
    (participants, False), (checkins, False), (alerts, False),
    (journal, True), (plans, True))

SUMMARY_COLUMNS: Final = (
    Column("measure", "string", N_("What is counted: participants by status, check-ins by "
                                   "status, alerts by level.")),
    Column("group", "string", N_("The status or level counted.")),
    Column("count", "integer", N_("How many; empty when suppressed.")),
    Column("suppressed", "integer", N_("1: the count was under the program's small-cell "
                                       "threshold and is left out.")))


def write_summary(ctx: ExportContext) -> Table:
    table = ctx.table("summary", SUMMARY_COLUMNS)
    for (measure, group), count in sorted(ctx.summary.items()):
        small = 0 < count < ctx.options.min_cell
        table.write([measure, group, "" if small else count, 1 if small else 0])
    table.close()
    return table


@dataclass(frozen=True)
class ExportReceipt:
    path: Path
    rows: dict[str, int]
    participants: int


class ResearchExport:
    def __init__(self, *, store: Store, clock: Clock, questionnaire: Questionnaire,
                 rules: RiskRules, date_mode: DateMode = "days", min_cell: int = 5,
                 language: str = "en") -> None:
        self._store = store
        self._clock = clock
        self._q = questionnaire
        self._rules = rules
        self._date_mode: DateMode = date_mode
        self._min_cell = min_cell
        self._language = language

    async def run(self, by_telegram_id: int, out: Path, *, since: date, until: date,
                  free_text: bool = False, reason: str | None = None,
                  progress: Progress = no_progress) -> ExportReceipt:
        if until < since:
            raise InvalidInput("--to is before --from")
        reason = (reason or "").strip() or None
        if free_text and reason is None:
            raise InvalidInput("an export with free text needs --reason: why it is needed")
        options = ResearchOptions(since, until, self._date_mode, self._min_cell, free_text,
                                  reason)
        async with self._store.unit_of_work() as uow:
            by = await supervisor(uow, by_telegram_id, "the research export")
            clients = [c for c in await uow.exports.clients()
                       if _anchor(c) <= until and (c.discharged_at is None
                                                   or _local(c, c.discharged_at) >= since)]
            expected = await uow.exports.count_checkins(None, since, until)
        with AtomicDirectory(out) as directory:
            ctx = ExportContext(self._store, self._q, self._rules, options, directory.path,
                                progress, clients, expected_checkins=expected)
            taken: set[str] = set()
            for client in clients:
                pid = _fresh_id(taken)
                ctx.pids[client.id] = pid
                ctx.anchors[client.id] = _anchor(client)
                ctx.shifts[client.id] = secrets.randbelow(2 * SHIFT_DAYS + 1) - SHIFT_DAYS
            tables: list[Table] = []
            for writer, free_text_only in TABLES:
                if free_text_only and not free_text:
                    continue
                tables.append(await writer(ctx))
            tables.append(write_summary(ctx))
            codebook_rows = write_codebook(
                directory.path / "codebook.csv", self._q,
                [(t.name, t.columns) for t in tables], language=self._language)
            rows = {t.name: t.rows for t in tables}
            directory.write_json("manifest.json", {
                "kind": "research",
                "questionnaire": {"id": self._q.id, "version": self._q.version,
                                  "languages": list(self._q.languages)},
                "rules": {"id": self._rules.id, "version": self._rules.version},
                "dates": self._date_mode, "small_cell_threshold": self._min_cell,
                "free_text": free_text, "tables": rows, "codebook_rows": codebook_rows,
                "complete": True})
            async with self._store.transaction() as uow:
                await uow.audit(
                    at=self._clock.now(), actor=actor_of(by), action="export.research",
                    detail=(f"days {since.isoformat()} to {until.isoformat()}; participants "
                            f"{len(clients)}; rows {sum(rows.values())}; free text "
                            + (f"yes, reason: {reason}" if free_text else "no")))
            path = directory.commit()
        return ExportReceipt(path, rows, len(clients))


async def supervisor(uow: UnitOfWork, telegram_id: int, what: str) -> Clinician:
    """The active supervisor with this Telegram id; anyone else may not."""
    person = await uow.clinicians.by_telegram_id(telegram_id)
    if person is None:
        raise NotFound(f"no active staff member has Telegram id {telegram_id}")
    if not person.is_supervisor:
        raise NotAllowed(f"only a supervisor may run {what}")
    return person


def _fresh_id(taken: set[str]) -> str:
    while True:
        pid = "P" + secrets.token_hex(5)
        if pid not in taken:
            taken.add(pid)
            return pid


def _local(client: ExportClient, at: datetime) -> date:
    return at.astimezone(ZoneInfo(client.timezone)).date()


def _anchor(client: ExportClient) -> date:
    """The participant's day 0: their enrolment's local date."""
    return _local(client, client.enrolled_at or client.created_at)


__all__ = ["DATE_MODES", "TABLES", "ExportContext", "ExportReceipt", "ResearchExport",
           "ResearchOptions", "supervisor"]
