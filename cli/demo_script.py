"""What the people in `steadfast demo` do, step by step."""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING

import click

from telegram_emulator import BotAPIEmulator

if TYPE_CHECKING:
    from cli.demo import Demo, Scene

from cli.demo import CLIENT, CLINICIAN, invite_code, press, say


def script(demo: Demo) -> list[tuple[str, Scene]]:
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
        await say(emu, CLINICIAN, "My offence cycle:\n- Staying up late online | stage: Build-up\n"
                  "- Feeling lonely | stage: Build-up\n"
                  "Coping strategies:\n- Call my sponsor\n- Go for a walk\n"
                  "Support people:\n- Ana | role: sister\n"
                  "If I am at risk right now:\n- Leave the place\n- Call Ana",
                  expect="Plan saved")
        await emu.wait_for_message(CLIENT, contains="You have an update waiting.")

    async def checkin(emu: BotAPIEmulator) -> None:
        phone = CheckInPhone(emu, CLIENT)
        await phone.start()
        for label in ("I stayed, or I looked for them", "8", "A lot of the day", "No", "No", "3"):
            await phone.tap(label)
        await phone.tap("Yes")  # thoughts of self-harm: crisis resources come first
        await emu.wait_for_message(CLIENT, contains="help is available")
        for label in ("Yes, something small", "No", "Yes"):
            await phone.tap(label)
        await phone.type("Walked past the playground on the way home; I crossed the street")
        for label in ("Went past places I avoid", "Done", "No", "Call my sponsor", "Done", "4",
                      "3", "Skip", "Skip", "Submit"):
            await phone.tap(label)
        await emu.wait_for_message(CLIENT, contains="saved")

    async def alert(emu: BotAPIEmulator) -> None:
        critical = await emu.wait_for_message(CLINICIAN, contains="Critical alert", timeout=15)
        high = await emu.wait_for_message(CLINICIAN, contains="High alert", timeout=15)
        await emu.press_button(CLINICIAN, critical.message_id, text="Details")
        await emu.wait_for_message(CLINICIAN, contains="Details for client")
        await acknowledge(emu, critical.message_id,
                          "Phoned the client, reviewed the safety plan; seen tomorrow")
        # The high alert is the same day seen from another side: it is closed too, so the
        # caseload below shows no alert left open.
        await acknowledge(emu, high.message_id,
                          "Same call: went over the high-risk situation and the places to avoid")

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
        if demo.kept:
            click.echo(f"\nThe session report PDF was written to {target}")
        else:
            click.echo("\nThe session report PDF was made in a temporary folder that is removed "
                       "now; run `steadfast demo --keep DIR` to keep it with the database and key.")

    return [
        ("A clinician invites a new client", invite),
        ("The client opens the link, reads the consent and enrols", enrol),
        ("Someone without an invite writes to the bot", stranger),
        ("The clinician writes the client's relapse prevention plan", plan),
        ("The client's daily check-in, with a high-risk day", checkin),
        ("The clinician gets two alerts, opens Details and acknowledges both", alert),
        ("In session: the clinician's caseload and a session report", review),
    ]


async def acknowledge(emu: BotAPIEmulator, message_id: int, note: str) -> None:
    """The clinician acknowledges one alert and writes what they did."""
    last = max((m.message_id for m in emu.chat(CLINICIAN)), default=0)
    await emu.press_button(CLINICIAN, message_id, text="Acknowledge")
    await emu.wait_for_message(CLINICIAN, contains="note of the action", after=last)
    await say(emu, CLINICIAN, note, expect="Note saved")
    for _ in range(400):  # the alert's own message is edited to say who handled it
        shown = [m for m in emu.chat(CLINICIAN) if m.message_id == message_id]
        if shown and "acknowledged by Dr Rivera" in shown[0].text:
            return
        await asyncio.sleep(0.025)
    raise RuntimeError("the alert was not marked as acknowledged")


def client_code(emu: BotAPIEmulator) -> str:
    """The pseudonymous code the clinician was told when the client enrolled."""
    for message in reversed(emu.chat(CLINICIAN)):
        found = re.search(r"\b[A-Z0-9]{3}-[A-Z0-9]{2}\b", message.text)
        if message.from_bot and found and "enrolled" in message.text:
            return found.group(0)
    raise RuntimeError("the clinician was not told of an enrolment")


class CheckInPhone:
    """Presses the buttons of the client's check-in message, waiting for each redraw."""

    def __init__(self, emu: BotAPIEmulator, user: int) -> None:
        self.emu, self.user = emu, user

    def _current(self) -> tuple[int, str, tuple[str, ...]] | None:
        for message in reversed(self.emu.chat(self.user)):
            if message.from_bot and any((b.callback_data or "").startswith("ck:")
                                        for row in message.buttons for b in row):
                return message.message_id, message.text, tuple(message.button_texts)
        return None

    async def _redrawn(self, before: tuple[int, str, tuple[str, ...]] | None) -> None:
        for _ in range(200):
            now = self._current()
            # After a crisis answer the next item arrives as a new message: wait for it.
            if now is not None and now != before:
                return
            await asyncio.sleep(0.025)
        raise RuntimeError("the check-in message did not change")

    async def start(self) -> None:
        await say(self.emu, self.user, "/checkin", expect=" of ")

    async def tap(self, label: str) -> None:
        before = self._current()
        assert before is not None, "no check-in message"
        await self.emu.press_button(self.user, before[0], text=label)
        if label != "Submit":  # the submitted check-in keeps no buttons
            await self._redrawn(before)

    async def type(self, text: str) -> None:
        before = self._current()
        await self.emu.send_text(self.user, text)
        await self._redrawn(before)
