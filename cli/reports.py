"""`steadfast report`: a client's session report as a PDF file."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from cli.base import friendly, main, with_services

if TYPE_CHECKING:
    from app.composition import Services
    from journal.review.report import ReportData


@main.command("report")
@click.argument("code")
@click.option("--days", type=click.IntRange(1, 366), default=30, show_default=True,
              help="How many days, ending today, the report covers.")
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Where to write the PDF (default: steadfast-CODE-DATE.pdf here).")
@friendly
def report(code: str, days: int, output: Path | None) -> None:
    """Write a client's session report (PDF): the same file /report sends in the bot.

    The file holds decrypted health information: it is written readable by you only
    (mode 0600), and the audit trail records that it was made."""
    import os

    from journal.review.report import build_report, report_filename

    async def go(services: Services) -> ReportData:
        async with services.store.transaction() as uow:
            return await services.review.report_for_admin(uow, code, days)

    data = with_services(go)
    pdf = build_report(data)
    target = output or Path(report_filename(data.client_code, data.start, data.end,
                           data.generated_at.date()))
    descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)  # also when an older file was there with wider rights
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pdf)
    click.echo(f"Wrote the {data.period_days}-day report of client {data.client_code} to "
               f"{target} ({len(pdf) // 1024} KiB).")
