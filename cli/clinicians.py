"""`steadfast clinician`: the clinicians and supervisors who use the bot."""

from __future__ import annotations

import click

from cli.base import TELEGRAM_ID, CliError, friendly, main, with_services


def _language(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    """Checked before the database is opened: a typo gets one kind line, exit code 2."""
    from journal.errors import InvalidInput
    from journal.staff import check_language

    if not value:
        return value
    try:
        return check_language(value)
    except InvalidInput as exc:
        raise click.BadParameter(str(exc)) from None


def _timezone(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    from journal.errors import InvalidInput
    from journal.staff import check_timezone

    if not value:
        return value
    try:
        return check_timezone(value)
    except InvalidInput as exc:
        raise click.BadParameter(str(exc)) from None


LANGUAGE_HELP = ("Language of their alerts, e-mails, summaries and reports (en or es); "
                 "default: STEADFAST_DEFAULT_LANGUAGE.")
TIMEZONE_HELP = ("Zone they read times in, an Area/City name such as Europe/Madrid; "
                 "default: STEADFAST_DEFAULT_TIMEZONE.")


@main.group()
def clinician() -> None:
    """Staff who use the bot: clinicians, supervisors and supervising officers."""


@clinician.command("add")
@click.option("--telegram-id", type=TELEGRAM_ID, required=True,
              help="The clinician's numeric Telegram user id.")
@click.option("--name", required=True, help="Name shown to colleagues and clients.")
@click.option("--supervisor", is_flag=True, help="Also receives escalations; sees every caseload "
              "(the same as --role supervisor).")
@click.option("--role", type=click.Choice(["clinician", "supervisor", "officer"]), default=None,
              help="clinician (default), supervisor, or officer: a supervising officer who "
                   "receives only what a client agreed to share.")
@click.option("--contact", default="", help="Office phone or contact line shown to clients.")
@click.option("--email", default="",
              help="Address for the e-mail fallback when Telegram cannot reach them (stored "
                   "encrypted).")
@click.option("--language", default=None, callback=_language, help=LANGUAGE_HELP)
@click.option("--timezone", default=None, callback=_timezone, help=TIMEZONE_HELP)
@friendly
def clinician_add(telegram_id: int, name: str, supervisor: bool, role: str | None,
                  contact: str, email: str, language: str | None, timezone: str | None) -> None:
    """Add a clinician, a supervisor (--role supervisor or --supervisor) or a supervising
    officer (--role officer)."""
    from storage.repositories import DuplicateError

    if supervisor and role not in (None, "supervisor"):
        raise click.UsageError("--supervisor and --role officer|clinician contradict each other")

    try:
        added = with_services(lambda s: s.admin.add_clinician(
            telegram_id=telegram_id, name=name, supervisor=supervisor, contact=contact,
            email=email, language=language, timezone=timezone, role=role))
    except DuplicateError as exc:
        raise CliError(str(exc)) from None
    click.echo(f"Added {added.role} {added.name} (id {added.id}, Telegram {added.telegram_id})"
               + (", with an e-mail address." if added.has_email else "."))


@clinician.command("edit")
@click.option("--telegram-id", type=TELEGRAM_ID, required=True,
              help="The clinician's numeric Telegram user id.")
@click.option("--email", default=None,
              help='Address for the e-mail fallback; --email "" removes it.')
@click.option("--language", default=None, callback=_language,
              help=LANGUAGE_HELP + ' --language "" goes back to the default.')
@click.option("--timezone", default=None, callback=_timezone,
              help=TIMEZONE_HELP + ' --timezone "" goes back to the default.')
@friendly
def clinician_edit(telegram_id: int, email: str | None, language: str | None,
                   timezone: str | None) -> None:
    """Change a clinician's e-mail address, language or time zone."""
    if email is None and language is None and timezone is None:
        raise click.UsageError("give --email, --language or --timezone (or several)")
    if email is not None:
        changed = with_services(lambda s: s.admin.set_clinician_email(
            telegram_id=telegram_id, email=email))
        click.echo(f"{changed.name} (id {changed.id}): e-mail address "
                   + ("set." if changed.has_email else "removed."))
    if language is not None or timezone is not None:
        changed = with_services(lambda s: s.admin.set_clinician_locale(
            telegram_id=telegram_id, language=language, timezone=timezone))
        click.echo(f"{changed.name} (id {changed.id}): language "
                   f"{changed.language or 'program default'}, time zone "
                   f"{changed.timezone or 'program default'}.")


@clinician.command("list")
@friendly
def clinician_list() -> None:
    """List staff with their role (clinician, supervisor, officer)."""
    rows = with_services(lambda s: s.admin.clinicians())
    if not rows:
        click.echo("No clinicians yet. Add one with 'steadfast clinician add'.")
        return
    click.echo(f"{'id':>4}  {'telegram id':>12}  {'role':<10}  {'e-mail':<6}  "
               f"{'language':<8}  {'time zone':<20}  name")
    for c in rows:
        click.echo(f"{c.id:>4}  {c.telegram_id:>12}  {c.role:<10}  "
                   f"{'yes' if c.has_email else '-':<6}  {c.language or '-':<8}  "
                   f"{c.timezone or '-':<20}  {c.name}"
                   + ("" if c.active else "  (inactive)"))


@clinician.command("deactivate")
@click.option("--telegram-id", type=TELEGRAM_ID, required=True,
              help="The clinician's numeric Telegram user id.")
@friendly
def clinician_deactivate(telegram_id: int) -> None:
    """Take a clinician's or supervisor's access away (their workspace sessions end)."""
    changed = with_services(lambda s: s.admin.deactivate_clinician(telegram_id=telegram_id))
    click.echo(f"{changed.name} (id {changed.id}) is no longer active; their workspace "
               "sessions ended.")


@clinician.command("role")
@click.option("--telegram-id", type=TELEGRAM_ID, required=True,
              help="The clinician's numeric Telegram user id.")
@click.option("--supervisor/--clinician", "supervisor", required=True,
              help="The new role.")
@friendly
def clinician_role(telegram_id: int, supervisor: bool) -> None:
    """Make a clinician a supervisor, or a supervisor a clinician (sessions end)."""
    changed = with_services(lambda s: s.admin.set_clinician_role(telegram_id=telegram_id,
                                                                 supervisor=supervisor))
    click.echo(f"{changed.name} (id {changed.id}) is now a {changed.role}.")
