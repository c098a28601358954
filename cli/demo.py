"""`steadfast demo`: the whole loop on a fresh machine, against the bundled Bot API emulator.

No token and no settings are needed: the demo makes a temporary database and key, runs
the real bot against the emulator over HTTP, and plays a clinician, a client and a
supervisor. It prints the conversation as a transcript.
"""

from __future__ import annotations

import asyncio
import re
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

import click

from app.settings import Settings
from journal.administration import AdminService
from journal.clock import SystemClock
from storage.crypto import MasterKeyring
from storage.migrate import upgrade
from storage.uow import Store
from telegram_emulator import BotAPIEmulator

CLINICIAN, SUPERVISOR, CLIENT = 1001, 1002, 2001
Scene = Callable[[BotAPIEmulator], Awaitable[None]]


class DemoFailed(click.ClickException):
    """A scripted person did not see what the script expected."""


class Demo:
    def __init__(self, workdir: Path, *, kept: bool = False) -> None:
        self.workdir = workdir
        self.kept = kept
        self.emu = BotAPIEmulator(token="123456:DEMO-TOKEN", username="steadfast_demo_bot")
        self.db_url = f"sqlite+aiosqlite:///{workdir / 'steadfast.db'}"
        self.key_file = workdir / "steadfast.key"
        self.printed = 0

    def settings(self) -> Settings:
        return Settings(_env_file=None, bot_token=self.emu.token,
                        telegram_api_url=self.emu.base_url, database_url=self.db_url,
                        master_key_file=self.key_file, default_timezone="Europe/Madrid",
                        crisis_phone="024", crisis_text="Text 717 003 717",
                        program_office_phone="+34 910 000 000")

    def section(self, title: str) -> None:
        self.flush()
        click.echo("\n" + click.style(f"── {title} ", bold=True) + "─" * max(0, 60 - len(title)))

    def flush(self) -> None:
        lines = self.emu.transcript()
        for line in lines[self.printed:]:
            click.echo(line)
        self.printed = len(lines)

    async def prepare(self) -> None:
        ring = self.ring = MasterKeyring.generate()
        ring.create_file(self.key_file)
        await asyncio.to_thread(upgrade, self.db_url)
        store = Store.open(self.db_url, ring)
        admin = AdminService(store=store, clock=SystemClock())
        try:
            await admin.add_clinician(telegram_id=CLINICIAN, name="Dr Rivera", supervisor=False,
                                      contact="+34 910 000 001")
            await admin.add_clinician(telegram_id=SUPERVISOR, name="Dr Okafor", supervisor=True)
        finally:
            await store.close()
        self.emu.person(CLINICIAN, "Dr Rivera")
        self.emu.person(SUPERVISOR, "Dr Okafor")
        self.emu.person(CLIENT, "Sam", language_code="en")

    async def run(self) -> None:
        from process.run import run_bot

        await self.emu.start()
        await self.prepare()
        stop, ready = asyncio.Event(), asyncio.Event()
        bot = asyncio.create_task(run_bot(self.settings(), stop=stop, migrate=False,
                                          handle_signals=False, ready=ready))
        try:
            await asyncio.wait_for(ready.wait(), 30)
            for title, step in self.script():
                self.section(title)
                try:
                    await step(self.emu)
                except Exception as exc:
                    self.flush()
                    raise DemoFailed(f"the demo stopped at '{title}' "
                                     f"({type(exc).__name__}: {exc})") from None
                await asyncio.sleep(0.3)  # let queued notices arrive before the next heading
            self.flush()
            await self.finish()
        finally:
            stop.set()
            await asyncio.wait_for(bot, 30)
            await self.emu.stop()

    async def finish(self) -> None:
        """After the story, with everything still running: the plain demo ends here
        (`steadfast demo --web` keeps serving; cli/demo_web.py)."""

    def script(self) -> list[tuple[str, Scene]]:
        from cli.demo_script import script

        return script(self)


async def press(emu: BotAPIEmulator, user: int, label: str, *, contains: str | None = None) -> None:
    message = await emu.wait_for_message(user, contains=contains)
    await emu.press_button(user, message.message_id, text=label)


async def say(emu: BotAPIEmulator, user: int, text: str, *, expect: str | None = None) -> None:
    sent = await emu.send_text(user, text)
    if expect is not None:
        await emu.wait_for_message(user, contains=expect, after=sent.message_id)


def invite_code(emu: BotAPIEmulator) -> str:
    for message in reversed(emu.chat(CLINICIAN)):
        found = re.search(r"\?start=([A-Za-z0-9_-]+)", message.text)
        if found:
            return found.group(1)
    raise RuntimeError("the clinician received no invite link")


def run_demo(keep: Path | None, *, web: bool = False, port: int | None = None) -> None:
    if web:
        from cli.demo_web import run_web_demo

        run_web_demo(keep, port)
        return
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        if any(keep.iterdir()):
            raise click.ClickException(f"{keep} is not empty; give an empty or new folder")
        asyncio.run(Demo(keep, kept=True).run())
        click.echo(f"\nDatabase and key kept in {keep}. Inspect with, for example:\n"
                   f"  STEADFAST_DATABASE_URL=sqlite+aiosqlite:///{keep}/steadfast.db "
                   f"STEADFAST_MASTER_KEY_FILE={keep}/steadfast.key steadfast audit verify")
        return
    with tempfile.TemporaryDirectory(prefix="steadfast-demo-") as tmp:
        asyncio.run(Demo(Path(tmp)).run())
