"""What the people in `steadfast demo` do, step by step."""

from __future__ import annotations

from typing import TYPE_CHECKING

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

    return [
        ("A clinician invites a new client", invite),
        ("The client opens the link, reads the consent and enrols", enrol),
        ("Someone without an invite writes to the bot", stranger),
    ]
