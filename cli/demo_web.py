"""`steadfast demo --web`: the scripted story, then the emulator, the bot and the workspace
keep running, with a year of seeded history for a second client, until Ctrl-C.

The sign-in link is the real one: Dr Rivera sends /workspace to the bot in the emulator
and the demo prints the link the bot answers with (once, for five minutes; press Enter for
another). The seeded year is written before the bot starts, through the repositories in the
check-in service's own format (journal/review/seed.py), so the charts have trends to show.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
import signal
import socket
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import click

from app.settings import Settings
from cli.demo import CLINICIAN, Demo
from journal.review.adherence import client_today
from storage.uow import Store

SEEDED_CLIENT = 2002  # the seeded client's Telegram id in the emulator
SEEDED_DAYS = 365
LINK = re.compile(r"https?://\S+/sign-in/[A-Za-z0-9_-]+")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def strain(day: date) -> float:
    """A hard stretch about four months before today, easing since: a trend to read."""
    months_ago = (date.today() - day).days / 30.4
    return max(0.0, math.exp(-((months_ago - 4.0) ** 2) / 3.0) * 0.9)


class WebDemo(Demo):
    def __init__(self, workdir: Path, *, kept: bool = False, port: int | None = None) -> None:
        super().__init__(workdir, kept=kept)
        self.port = port or free_port()
        self.stop = asyncio.Event()
        self.seeded_code = ""

    def settings(self) -> Settings:
        return super().settings().model_copy(update={"web_host": "127.0.0.1",
                                                     "web_port": self.port})

    async def prepare(self) -> None:
        await super().prepare()
        await self.seed_year()

    async def seed_year(self) -> None:
        from journal.alerts.rules_file import load_rules
        from journal.checkin.questionnaire_file import load_questionnaire
        from journal.review.seed import seed_history

        store = Store.open(self.db_url, self.ring)
        try:
            now = datetime.now(UTC)
            async with store.transaction() as uow:
                rivera = await uow.clinicians.by_telegram_id(CLINICIAN)
                assert rivera is not None
                client = await uow.clients.add_invited(
                    clinician_id=rivera.id, language="en", timezone="Europe/Madrid",
                    checkin_time="20:00", now=now - timedelta(days=SEEDED_DAYS + 10))
                client = await uow.clients.update(
                    client.id, telegram_id=SEEDED_CLIENT, status="active",
                    enrolled_at=now - timedelta(days=SEEDED_DAYS + 5))
            questionnaire = load_questionnaire()
            await seed_history(store, questionnaire, load_rules(questionnaire=questionnaire),
                               client, end=client_today(client, now), days=SEEDED_DAYS,
                               strain=strain, varied_acks=True)
            self.seeded_code = client.code
        finally:
            await store.close()
        self.emu.person(SEEDED_CLIENT, "Alex", language_code="en")

    async def run(self) -> None:
        """The story, then serving until Ctrl-C (or SIGTERM). The handlers stay until the
        bot and the emulator have stopped, so a second Ctrl-C cannot cut the shutdown short."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.stop.set)
        try:
            await super().run()
        finally:
            renderer = sys.modules.get("journal.review.renderer")
            if renderer is not None:  # the story's PDF started the renderer's worker
                renderer.RENDERER.close()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)

    async def finish(self) -> None:
        """Print a sign-in link, then wait for Ctrl-C; Enter on a terminal gives a new link."""
        loop = asyncio.get_running_loop()
        fresh = asyncio.Event()
        reading = _read_enter(loop, fresh)
        try:
            self.section("The workspace in a browser")
            base = f"http://127.0.0.1:{self.port}"
            click.echo(f"Client {self.seeded_code} has a year of history: "
                       f"{base}/clients/{self.seeded_code}?days=365")
            while not self.stop.is_set():
                link = await self.sign_in_link()
                click.echo(f"\nSign in as Dr Rivera (once, within five minutes): {link}")
                click.echo("Press Enter for a new link, Ctrl-C to stop." if reading
                           else "Ctrl-C to stop.")
                fresh.clear()
                waiters = [asyncio.ensure_future(self.stop.wait()),
                           asyncio.ensure_future(fresh.wait())]
                await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
                for waiter in waiters:
                    waiter.cancel()
        finally:
            if reading:
                loop.remove_reader(sys.stdin.fileno())
            click.echo("\nStopping the demo: the bot, the workspace and the emulator.")

    async def sign_in_link(self) -> str:
        """What Dr Rivera gets for /workspace in the emulator."""
        sent = await self.emu.send_text(CLINICIAN, "/workspace")
        message = await self.emu.wait_for_message(CLINICIAN, contains="/sign-in/",
                                                  after=sent.message_id, timeout=15)
        found = LINK.search(message.text)
        if found is None:
            raise click.ClickException("the bot sent no sign-in link")
        self.printed = len(self.emu.transcript())  # the link is printed once, below
        return found.group(0)


def _read_enter(loop: asyncio.AbstractEventLoop, fresh: asyncio.Event) -> bool:
    """Enter on a terminal asks for a new link; without a terminal there is nothing to read."""
    if not sys.stdin.isatty():
        return False

    def read() -> None:
        if not sys.stdin.readline():
            loop.remove_reader(sys.stdin.fileno())
        fresh.set()

    with contextlib.suppress(NotImplementedError, OSError):
        loop.add_reader(sys.stdin.fileno(), read)
        return True
    return False


def run_web_demo(keep: Path | None, port: int | None) -> None:
    try:
        _run(keep, port)
    except KeyboardInterrupt:  # Ctrl-C before the workspace was up: stop without a trace
        click.echo("\nDemo stopped.")


def _run(keep: Path | None, port: int | None) -> None:
    import tempfile

    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        if any(keep.iterdir()):
            raise click.ClickException(f"{keep} is not empty; give an empty or new folder")
        asyncio.run(WebDemo(keep, kept=True, port=port).run())
        click.echo(f"Database and key kept in {keep}.")
        return
    with tempfile.TemporaryDirectory(prefix="steadfast-demo-") as tmp:
        asyncio.run(WebDemo(Path(tmp), port=port).run())
    click.echo("Demo stopped.")
