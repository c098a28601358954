"""What the people in `steadfast demo` do, step by step."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import click

from bot.emulator import BotAPIEmulator

if TYPE_CHECKING:
    from bot.demo import Demo, Step

from bot.demo import CLIENT, CLINICIAN, invite_code, press, say


def script(demo: Demo) -> list[tuple[str, Step]]:
    async def invite(emu: BotAPIEmulator) -> None:
        await say(emu, CLINICIAN, "/start", expect="/invite")
        await say(emu, CLINICIAN, "/invite first met at intake on Monday", expect="t.me/")

    async def enrol(emu: BotAPIEmulator) -> None:
        await say(emu, CLIENT, f"/start {invite_code(emu)}", expect="Do you agree?")
        await press(emu, CLIENT, "I agree")
        await emu.wait_for_message(CLIENT, contains="language")
        await press(emu, CLIENT, "English")
        await emu.wait_for_message(CLIENT, contains="time zone")
        await press(emu, CLIENT, "Europe/Madrid")
        await emu.wait_for_message(CLIENT, contains="what time")
        await press(emu, CLIENT, "20:00")
        await emu.wait_for_message(CLIENT, contains="client code")
        await emu.wait_for_message(CLINICIAN, contains="enrolled")

    async def stranger(emu: BotAPIEmulator) -> None:
        emu.person(3003, "Stranger")
        await say(emu, 3003, "hello?", expect="enrolled participants")

    async def plan(emu: BotAPIEmulator) -> None:
        code = client_code(emu)
        await say(emu, CLINICIAN, f"/plan {code}", expect="reply within")
        await say(emu, CLINICIAN, "Warning signs:\n- Staying up late online\n- Feeling lonely\n"
                  "Coping steps:\n- Call my sponsor\n- Go for a walk\n"
                  "Support people:\n- Ana (sister)", expect="Plan saved")
        await emu.wait_for_message(CLIENT, contains="relapse prevention plan")

    async def review(emu: BotAPIEmulator) -> None:
        await say(emu, CLINICIAN, "/caseload", expect="most in need first")
        sent = await emu.send_text(CLINICIAN, f"/report {client_code(emu)} 30")
        document = await emu.wait_for_message(CLINICIAN, contains="Session report",
                                              after=sent.message_id, timeout=30)
        assert document.file is not None
        target = demo.workdir / "report.pdf"
        target.write_bytes(document.file.data)
        target.chmod(0o600)  # decrypted health information, even in a demo
        demo.flush()
        click.echo(f"\nThe session report PDF was written to {target}")

    return [
        ("A clinician invites a new client", invite),
        ("The client opens the link, reads the consent and enrols", enrol),
        ("Someone without an invite writes to the bot", stranger),
        ("The clinician writes the client's relapse prevention plan", plan),
        ("In session: the clinician's caseload and a session report", review),
    ]


def client_code(emu: BotAPIEmulator) -> str:
    """The pseudonymous code the clinician was told when the client enrolled."""
    for message in reversed(emu.chat(CLINICIAN)):
        found = re.search(r"\b[A-Z0-9]{3}-[A-Z0-9]{2}\b", message.text)
        if message.from_bot and found and "enrolled" in message.text:
            return found.group(0)
    raise RuntimeError("the clinician was not told of an enrolment")
