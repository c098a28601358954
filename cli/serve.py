"""`steadfast run` and `steadfast demo`: the only commands that import aiogram."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from cli.base import CliError, friendly, importing, load_settings, main, run_async

if TYPE_CHECKING:
    from app.settings import Settings
    from bot.intake import WebhookConfig


def _check_data_files(settings: Settings) -> None:
    """A program's questionnaire, rules or phases with a typo stop the bot before any client sees
    them, with every problem named by its item or rule id."""
    from journal.alerts.rules_file import load_rules
    from journal.appointments import load_program
    from journal.checkin.questionnaire_file import DataFileError, load_questionnaire
    from journal.homework import load_library
    from journal.phases.file import load_phases
    from journal.plan_parts import default_parts

    try:
        questionnaire = load_questionnaire(settings.questionnaire)
        rules = load_rules(settings.risk_rules, questionnaire=questionnaire)
        load_phases(settings.phases, questionnaire=questionnaire, rules=rules)
        default_parts()
        load_program(settings.appointments)
        load_library(settings.homework)
    except DataFileError as exc:
        raise CliError(str(exc), 2) from None


@main.command("run")
@click.option("--webhook", is_flag=True, help="Serve a webhook instead of long polling.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Webhook listen address.")
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True)
@click.option("--path", default="/telegram/webhook", show_default=True, help="Webhook path.")
@click.option("--secret", envvar="STEADFAST_WEBHOOK_SECRET", default=None,
              help="Secret token Telegram sends in X-Telegram-Bot-Api-Secret-Token "
                   "(or STEADFAST_WEBHOOK_SECRET).")
@click.option("--public-url", default=None,
              help="If given, call setWebhook with this public URL on start.")
@friendly
def run(webhook: bool, host: str, port: int, path: str, secret: str | None,
        public_url: str | None) -> None:
    """Run the bot: migrate the database, then poll (or serve a webhook) until stopped."""
    settings = load_settings()
    _check_data_files(settings)
    settings.require_token()
    from app.checks import check_database, check_metrics_exposure

    if webhook:  # the webhook's server serves /metrics
        check_metrics_exposure(settings, [host])
    else:  # the metrics server, and the workspace's when it is on
        check_metrics_exposure(settings, [
            where for where, on in ((settings.metrics_host, settings.metrics_port),
                                    (settings.web_host, settings.web_port)) if on is not None])

    run_async(check_database(settings))
    from app.logs import configure

    configure(settings.log_level, settings.log_format)
    with importing():  # aiogram, pydantic's models, the store: start-up, with the GC held
        import process.run  # noqa: F401
        from bot.intake import WebhookConfig

    config = None
    if webhook:
        if not secret or len(secret) < 16 or not all(c.isalnum() or c in "_-" for c in secret):
            raise CliError("--webhook needs --secret: 16-256 letters, digits, _ or -", 2)
        config = WebhookConfig(host=host, port=port, path=path, secret=secret,
                               public_url=public_url)
    run_async(_serve(settings, config))


async def _serve(settings: Settings, webhook: WebhookConfig | None) -> None:
    """The bot until it stops; once it serves updates, what it built to start (aiogram's
    models, the routers, the store, the settings: all there for the process's life) is
    kept out of the cyclic collector's sight, so that a full collection while presses are
    being answered walks what the presses made, not the whole start-up again."""
    import asyncio
    import gc

    from process.run import run_bot

    ready = asyncio.Event()

    async def settle() -> None:
        await ready.wait()
        gc.freeze()

    settling = asyncio.create_task(settle())
    try:
        await run_bot(settings, webhook=webhook, ready=ready)
    finally:
        settling.cancel()


@main.command("demo")
@click.option("--keep", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Keep the demo's database and key in this (empty or new) folder.")
@click.option("--web", is_flag=True,
              help="After the story keep everything running, with the workspace pages and a "
                   "year of history for one client, and print a sign-in link (Ctrl-C stops).")
@click.option("--port", type=click.IntRange(1, 65535), default=None,
              help="With --web: the workspace's port (default: a free one).")
@friendly
def demo(keep: Path | None, web: bool, port: int | None) -> None:
    """Show the whole loop with no token: emulator, bot, clinician, client."""
    import logging

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    from cli.demo import run_demo

    run_demo(keep, web=web, port=port)


@main.command("web")
@click.option("--host", default=None, help="Listen address (default STEADFAST_WEB_HOST).")
@click.option("--port", type=click.IntRange(1, 65535), default=None,
              help="Listen port (default STEADFAST_WEB_PORT, else 8081).")
@friendly
def web(host: str | None, port: int | None) -> None:
    """Serve the clinicians' workspace pages alone (the bot runs elsewhere)."""
    settings = load_settings()
    settings.require_token()  # the Mini App's sign-in is checked against it
    from app.checks import check_database, check_metrics_exposure

    host = host or settings.web_host
    check_metrics_exposure(settings, [host])

    run_async(check_database(settings))
    from app.logs import configure

    configure(settings.log_level, settings.log_format)
    from process.web import run_web

    run_async(run_web(settings, host, port or settings.web_port or 8081))
