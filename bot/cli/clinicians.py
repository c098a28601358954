"""`steadfast clinician`: the clinicians and supervisors who use the bot."""

from __future__ import annotations

import click

from bot.cli.base import CliError, friendly, main, with_services


@main.group()
def clinician() -> None:
    """Clinicians and supervisors who use the bot."""


@clinician.command("add")
@click.option("--telegram-id", type=click.IntRange(min=1), required=True,
              help="The clinician's numeric Telegram user id.")
@click.option("--name", required=True, help="Name shown to colleagues and clients.")
@click.option("--supervisor", is_flag=True, help="Also receives escalations; sees every caseload.")
@click.option("--contact", default="", help="Office phone or contact line shown to clients.")
@click.option("--email", default="",
              help="Address for the e-mail fallback when Telegram cannot reach them (stored "
                   "encrypted).")
@friendly
def clinician_add(telegram_id: int, name: str, supervisor: bool, contact: str,
                  email: str) -> None:
    """Add a clinician (or a supervisor with --supervisor)."""
    from storage.repositories import DuplicateError

    try:
        added = with_services(lambda s: s.admin.add_clinician(
            telegram_id=telegram_id, name=name, supervisor=supervisor, contact=contact,
            email=email))
    except DuplicateError as exc:
        raise CliError(str(exc)) from None
    click.echo(f"Added {added.role} {added.name} (id {added.id}, Telegram {added.telegram_id})"
               + (", with an e-mail address." if added.has_email else "."))


@clinician.command("edit")
@click.option("--telegram-id", type=click.IntRange(min=1), required=True,
              help="The clinician's numeric Telegram user id.")
@click.option("--email", required=True,
              help='Address for the e-mail fallback; --email "" removes it.')
@friendly
def clinician_edit(telegram_id: int, email: str) -> None:
    """Change a clinician's e-mail address for the fallback channel."""
    changed = with_services(lambda s: s.admin.set_clinician_email(telegram_id=telegram_id,
                                                                  email=email))
    click.echo(f"{changed.name} (id {changed.id}): e-mail address "
               + ("set." if changed.has_email else "removed."))


@clinician.command("list")
@friendly
def clinician_list() -> None:
    """List clinicians and supervisors."""
    rows = with_services(lambda s: s.admin.clinicians())
    if not rows:
        click.echo("No clinicians yet. Add one with 'steadfast clinician add'.")
        return
    click.echo(f"{'id':>4}  {'telegram id':>12}  {'role':<10}  {'e-mail':<6}  name")
    for c in rows:
        click.echo(f"{c.id:>4}  {c.telegram_id:>12}  {c.role:<10}  "
                   f"{'yes' if c.has_email else '-':<6}  {c.name}"
                   + ("" if c.active else "  (inactive)"))


@clinician.command("deactivate")
@click.option("--telegram-id", type=click.IntRange(min=1), required=True,
              help="The clinician's numeric Telegram user id.")
@friendly
def clinician_deactivate(telegram_id: int) -> None:
    """Take a clinician's or supervisor's access away (their workspace sessions end)."""
    changed = with_services(lambda s: s.admin.deactivate_clinician(telegram_id=telegram_id))
    click.echo(f"{changed.name} (id {changed.id}) is no longer active; their workspace "
               "sessions ended.")


@clinician.command("role")
@click.option("--telegram-id", type=click.IntRange(min=1), required=True,
              help="The clinician's numeric Telegram user id.")
@click.option("--supervisor/--clinician", "supervisor", required=True,
              help="The new role.")
@friendly
def clinician_role(telegram_id: int, supervisor: bool) -> None:
    """Make a clinician a supervisor, or a supervisor a clinician (sessions end)."""
    changed = with_services(lambda s: s.admin.set_clinician_role(telegram_id=telegram_id,
                                                                 supervisor=supervisor))
    click.echo(f"{changed.name} (id {changed.id}) is now a {changed.role}.")
