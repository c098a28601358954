"""`steadfast audit` and `steadfast outbox`: what operators check."""

from __future__ import annotations

import sys

import click

from bot.cli.base import CliError, friendly, main, with_services


@main.group()
def audit() -> None:
    """The tamper-evident audit trail."""


@audit.command("verify")
@friendly
def audit_verify() -> None:
    """Check the audit chain; exit 1 naming the first broken link."""
    verdict = with_services(lambda s: s.admin.verify_audit())
    if verdict.ok:
        click.echo(f"Audit trail intact: {verdict.checked} events.")
        return
    raise CliError(f"audit trail broken at event {verdict.broken_seq}: {verdict.reason} "
                   f"({verdict.checked} events verified before it)")


@audit.command("show")
@click.option("--client", "code", default=None, help="Only events about this client code.")
@click.option("--limit", type=click.IntRange(1, 10000), default=200)
@friendly
def audit_show(code: str | None, limit: int) -> None:
    """List audit events, oldest first."""
    rows = with_services(lambda s: s.admin.audit_events(code, limit))
    for e in rows:
        click.echo(f"{e.seq:>6}  {e.at:%Y-%m-%d %H:%M:%S}Z  {e.actor:<22} {e.action:<22} "
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
