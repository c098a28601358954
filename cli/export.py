"""`steadfast export research|fhir` and `steadfast stats`: data out, on the program's terms."""

from __future__ import annotations

import sys
import time
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from cli.base import TELEGRAM_ID, friendly, main, with_services

if TYPE_CHECKING:
    from app.composition import Services
    from journal.export.research import ExportReceipt


class _Day(click.ParamType):
    name = "date"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> date:
        if isinstance(value, date):
            return value
        try:
            return datetime.strptime(str(value).strip(), "%Y-%m-%d").date()
        except ValueError:
            self.fail(f"{str(value)[:20]!r} is not a date such as 2026-01-31", param, ctx)


DAY = _Day()


class ProgressLine:
    """Rows, rate and time left on standard error, at most twice a second."""

    def __init__(self) -> None:
        self._start = time.monotonic()
        self._table = ""
        self._table_start = self._start

    def __call__(self, table: str, rows: int, expected: int | None) -> None:
        now = time.monotonic()
        if table != self._table:
            self._table, self._table_start = table, now
        spent = max(now - self._table_start, 1e-6)
        rate = rows / spent
        line = f"{table}: {rows:,} rows, {rate:,.0f} rows/s"
        if expected:
            left = max(expected - rows, 0) / rate if rate else 0.0
            line += f", {min(rows / expected, 1.0):.0%} of {expected:,}, about {left:,.0f} s left"
        click.echo(line, err=True)


@main.group()
def export() -> None:
    """Data out: the research export (de-identified) and FHIR R4 resources."""


@export.command("research")
@click.option("--from", "since", type=DAY, required=True, help="First day (YYYY-MM-DD).")
@click.option("--to", "until", type=DAY, required=True, help="Last day (YYYY-MM-DD).")
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), required=True,
              help="The directory to create (it must not exist yet).")
@click.option("--by", "by", type=TELEGRAM_ID, required=True,
              help="Telegram id of the supervisor the export is made for.")
@click.option("--free-text", is_flag=True,
              help="Include what clients wrote (journal, plan, text answers): needs --reason.")
@click.option("--reason", default=None, help="Why free text is needed (kept in the audit trail).")
@friendly
def export_research(since: date, until: date, out: Path, by: int, free_text: bool,
                    reason: str | None) -> None:
    """Item-level CSV tables (participants, check-ins, alerts), a summary and a codebook,
    de-identified: random participant ids, dates as days since enrolment, no free text.

    Written to a hidden directory beside OUT and renamed to OUT when whole."""
    from journal.export.research import ResearchExport

    async def go(s: Services) -> ExportReceipt:
        exporter = ResearchExport(
            store=s.store, clock=s.clock, questionnaire=s.questionnaire, rules=s.rules,
            date_mode=s.settings.export_dates, min_cell=s.settings.export_min_cell,
            language=s.settings.default_language)
        return await exporter.run(by, out, since=since, until=until, free_text=free_text,
                                  reason=reason, progress=ProgressLine())

    receipt = with_services(go)
    tables = ", ".join(f"{name} {rows:,}" for name, rows in receipt.rows.items())
    click.echo(f"Wrote the research export of {receipt.participants} participants to "
               f"{receipt.path}: {tables} rows; codebook.csv and manifest.json beside them.")
    sys.stdout.flush()


@main.command("stats")
@click.option("--weeks", type=click.IntRange(1, 104), default=12, show_default=True,
              help="How many weeks of adherence, ending this week.")
@click.option("--months", type=click.IntRange(1, 60), default=12, show_default=True,
              help="How many months of alerts, ending this month.")
@click.option("--csv", "csv_path", type=click.Path(path_type=Path, dir_okay=False),
              default=None, help="Also write every number as CSV to this file.")
@friendly
def stats(weeks: int, months: int, csv_path: Path | None) -> None:
    """The program's figures: clients by status, adherence by week (median and spread
    across clients), alerts by level per month, time to acknowledgement by level,
    e-mail fallbacks and dead letters. Counted with grouped queries; nothing a client
    wrote is opened."""
    import csv

    from journal.export.figures import ProgramFigures

    async def go(s: Services) -> ProgramFigures:
        async with s.store.transaction() as uow:
            return await s.figures.figures(uow, None, weeks=weeks, months=months)

    figures = with_services(go)
    click.echo("Clients: " + ", ".join(f"{status} {n}" for status, n in figures.clients.items()))
    click.echo("Adherence by week (check-ins done of those due, across clients):")
    click.echo(f"  {'week of':<12}{'clients':>8}{'median':>8}{'p25':>8}{'p75':>8}")
    for week in figures.weeks:
        click.echo(f"  {week.start.isoformat():<12}{week.clients:>8}{_pct(week.median):>8}"
                   f"{_pct(week.low):>8}{_pct(week.high):>8}")
    click.echo("Alerts by level per month:")
    click.echo(f"  {'month':<10}{'critical':>9}{'high':>9}{'elevated':>9}")
    for month, levels in figures.months:
        click.echo(f"  {month:<10}{levels.get('critical', 0):>9}{levels.get('high', 0):>9}"
                   f"{levels.get('elevated', 0):>9}")
    click.echo("Time to acknowledgement (minutes):")
    click.echo(f"  {'level':<10}{'alerts':>8}{'acked':>8}{'median':>8}{'p90':>8}"
               f"{'longest':>9}{'escalated':>10}")
    for ack in figures.acks:
        click.echo(f"  {ack.level:<10}{ack.alerts:>8}{ack.acknowledged:>8}"
                   f"{_minutes(ack.median):>8}{_minutes(ack.p90):>8}"
                   f"{_minutes(ack.longest):>9}{ack.escalated:>10}")
    for name, acks in figures.by_clinician:
        click.echo(f"  {name}: " + "; ".join(
            f"{ack.level} {ack.alerts} alerts, median {_minutes(ack.median)} min"
            for ack in acks if ack.alerts))
    click.echo("E-mail fallbacks: " + ", ".join(
        f"{state} {figures.emails.get(state, 0)}" for state in ("sent", "pending", "skipped")))
    click.echo(f"Dead letters: {figures.dead_letters}")
    if csv_path is not None:
        with open(csv_path, "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["figure", "group", "measure", "value"])
            writer.writerows(figures.rows())
        click.echo(f"Wrote every figure to {csv_path}.")


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def _minutes(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f}"


@export.command("fhir")
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), required=True,
              help="The directory to create (it must not exist yet).")
@click.option("--client", "code", default=None,
              help="One client's record, identified (for their clinic); without it, the "
                   "program, de-identified.")
@click.option("--by", "by", type=TELEGRAM_ID, required=True,
              help="Telegram id of the staff member the export is made for: the client's "
                   "clinician or a supervisor; a supervisor for the program.")
@friendly
def export_fhir(out: Path, code: str | None, by: int) -> None:
    """FHIR R4 resources as NDJSON, one file per type (Patient, Questionnaire,
    QuestionnaireResponse, Observation, Flag, AuditEvent) and a manifest.

    Written to a hidden directory beside OUT and renamed to OUT when whole."""
    from journal.export.fhir import FhirExport, FhirReceipt

    async def go(s: Services) -> FhirReceipt:
        exporter = FhirExport(store=s.store, clock=s.clock, questionnaire=s.questionnaire,
                              rules=s.rules)
        return await exporter.run(by, out, client_code=code, progress=ProgressLine())

    receipt = with_services(go)
    counts = ", ".join(f"{name} {n:,}" for name, n in receipt.counts.items())
    kind = "identified" if receipt.identified else "de-identified"
    click.echo(f"Wrote the {kind} FHIR export to {receipt.path}: {counts}.")
