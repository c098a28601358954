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
