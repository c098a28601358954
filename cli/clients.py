"""`steadfast client`: clients by their pseudonymous code."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from cli.base import TELEGRAM_ID, CliError, friendly, main, with_services

if TYPE_CHECKING:
    from app.composition import Services
    from journal.review.caseload import Reassignment


@main.group()
def client() -> None:
    """Clients by their pseudonymous code."""


@client.command("erase")
@click.argument("code")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@friendly
def client_erase(code: str, yes: bool) -> None:
    """Destroy a client's data key: every record of theirs becomes unreadable, for good."""
    if not yes:
        if not sys.stdin.isatty():
            raise CliError("standard input is not a terminal: pass --yes to erase without "
                           "typing the client code", 2)
        typed = click.prompt(f"Every record of client {code.strip().upper()} becomes "
                             "unreadable, for good. Type the client code to confirm",
                             default="", show_default=False)
        if typed.strip().upper() != code.strip().upper():
            raise CliError("the typed code does not match: nothing was erased", 1)
    receipt = with_services(lambda s: s.admin.erase_client(code))
    state = "destroyed" if receipt.key_destroyed else "was already destroyed"
    click.echo(f"Client {receipt.code}: data key {state}; their records are unreadable.")


@client.command("reassign")
@click.argument("code")
@click.option("--to", "to_telegram_id", type=TELEGRAM_ID, required=True,
              help="Telegram id of the clinician or supervisor who takes the client over.")
@friendly
def client_reassign(code: str, to_telegram_id: int) -> None:
    """Move a client to another clinician's caseload; both clinicians are told."""

    async def go(services: Services) -> Reassignment:
        async with services.store.transaction() as uow:
            return await services.caseload.reassign(uow, code, to_telegram_id)

    moved = with_services(go)
    before = moved.before.name if moved.before else "nobody"
    if moved.before is not None and moved.before.id == moved.after.id:
        click.echo(f"Client {moved.client.code} is already on the caseload of {before}.")
        return
    click.echo(f"Client {moved.client.code} moved from {before} to {moved.after.name} "
               f"(Telegram {moved.after.telegram_id}).")


@client.command("team")
@click.argument("code")
@click.option("--officer", "officer", type=TELEGRAM_ID, required=True,
              help="The supervising officer's Telegram id (added with "
                   "'steadfast clinician add --role officer').")
@click.option("--share", "share", multiple=True,
              type=click.Choice(["adherence", "alerts", "report", "status", "attendance"]),
              help="A category to propose (repeat it); none: the program's default set.")
@click.option("--alerts-from", "alerts_from", default=None,
              type=click.Choice(["elevated", "high", "critical"]),
              help="The lowest alert level shared with 'alerts' (default: critical).")
@friendly
def client_team(code: str, officer: int, share: tuple[str, ...],
                alerts_from: str | None) -> None:
    """Propose to a client that a supervising officer receives some information; the
    client reads the proposal in their language and agrees or declines in the chat."""
    client_code, name, categories = with_services(lambda s: s.admin.propose_sharing(
        code=code, officer_telegram_id=officer, categories=list(share) or None,
        alert_level=alerts_from))
    click.echo(f"Proposed to client {client_code}: {name} would receive {categories}. "
               "Nothing is shared until the client agrees.")
