"""`steadfast audit` and `steadfast outbox`: what operators check."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from cli.base import CliError, friendly, main, with_services

if TYPE_CHECKING:
    from app.composition import Services
    from storage.records import AuditEvent


@main.group()
def audit() -> None:
    """The tamper-evident audit trail."""


@audit.command("verify")
@click.option("--chain-only", is_flag=True,
              help="Only the chain, not against the checkpoint: for checking a restored "
                   "backup, which is behind the checkpoint by design.")
@friendly
def audit_verify(chain_only: bool) -> None:
    """Check the audit chain and hold it against the checkpoint kept outside the database;
    exit 1 naming the first broken link, or how the trail was cut or rolled back."""
    verdict = with_services(lambda s: s.admin.verify_audit(chain_only=chain_only))
    compared = ("nothing outside the database (--chain-only)" if chain_only
                else verdict.compared)
    if verdict.ok:
        click.echo(f"Audit trail intact: {verdict.checked} events.")
        click.echo(f"Compared with {compared}.")
        return
    click.echo(f"Compared with {compared}.")
    if verdict.broken_seq is None:
        raise CliError(f"audit trail not verified: {verdict.reason}")
    raise CliError(f"audit trail broken at event {verdict.broken_seq}: {verdict.reason} "
                   f"({verdict.checked} events verified before it)")


@audit.command("checkpoint")
@click.option("--accept", is_flag=True,
              help="Seal a trail that is behind its checkpoint: a backup restored on purpose.")
@friendly
def audit_checkpoint(accept: bool) -> None:
    """Write the audit checkpoint at the trail's head (once after an upgrade or on a new
    host; with --accept, after a deliberate restore). The chain itself must verify."""
    verdict, seq = with_services(lambda s: s.admin.seal_audit_checkpoint(accept=accept))
    if seq >= 0:
        click.echo(f"Audit checkpoint written at event {seq}.")
        return
    if verdict.ok:
        click.echo(f"Audit trail intact: {verdict.checked} events; the checkpoint is kept "
                   "as events are appended, nothing to do.")
        return
    raise CliError(f"checkpoint not written: {verdict.reason}"
                   + ("" if accept else " (after a deliberate restore: --accept)"))


@audit.command("show")
@click.option("--client", "code", default=None, help="Only events about this client code.")
@click.option("--limit", type=click.IntRange(1, 10000), default=200)
@friendly
def audit_show(code: str | None, limit: int) -> None:
    """List audit events, oldest first, their times in the program's zone (labelled)."""
    from journal.times import shown_time

    zone = "UTC"

    async def events(s: Services) -> list[AuditEvent]:
        nonlocal zone
        zone = s.settings.default_timezone
        return await s.admin.audit_events(code, limit)

    rows = with_services(events)
    for e in rows:
        click.echo(f"{e.seq:>6}  {shown_time(e.at, zone):<22} {e.actor:<22} {e.action:<22} "
                   f"{e.detail}")
    if not rows:
        click.echo("No audit events.")


@main.group()
def outbox() -> None:
    """Messages waiting to reach Telegram."""


@outbox.command("status")
@friendly
def outbox_status() -> None:
    """Counts of queued, retrying, dead, expired and sent messages."""
    counts = with_services(lambda s: s.admin.outbox_counts())
    # expired: no longer useful when Telegram could take it (alert handled, window closed).
    click.echo(f"queued: {counts.queued}\nretrying: {counts.retrying}\ndead: {counts.dead}\n"
               f"expired: {counts.expired}\nsent: {counts.sent}")
    if counts.dead:
        sys.exit(1)
