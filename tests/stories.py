"""Helpers for end-to-end stories of clients: an enrolled client in one step, and a phone
that presses the check-in's buttons and waits for the bot to redraw the message."""

from __future__ import annotations

from typing import Any

from journal.clock import FakeClock
from storage.records import Client, Clinician
from storage.uow import Store
from telegram_emulator import ChatMessage
from tests.e2e import eventually


async def enrolled_client(store: Store, clock: FakeClock, clinician: Clinician, telegram_id: int,
                          *, language: str = "en", timezone: str = "Europe/Madrid",
                          coping_steps: tuple[str, ...] = (),
                          checkin_days: str = "0123456") -> Client:
    """A client who has consented and enrolled (the enrolment stories cover how)."""
    from storage.records import Plan

    async with store.transaction() as uow:
        client = await uow.clients.add_invited(clinician_id=clinician.id, language=language,
                                               timezone=timezone, checkin_time="20:00",
                                               now=clock.now())
        client = await uow.clients.update(client.id, telegram_id=telegram_id, status="active",
                                          enrolled_at=clock.now(), checkin_days=checkin_days)
        if coping_steps:
            await uow.plans.put(Plan.from_sections(client_id=client.id, coping_steps=coping_steps),
                                by=clinician.id, now=clock.now())
        return client


def _face(message: ChatMessage) -> tuple[int, str, tuple[str | None, ...]]:
    return (message.message_id, message.text,
            tuple(b.callback_data for row in message.buttons for b in row))


class Phone:
    """One client's view of the chat: the check-in message and what pressing does."""

    def __init__(self, emu: Any, user_id: int) -> None:
        self.emu = emu
        self.user_id = user_id

    def checkin_message(self) -> ChatMessage | None:
        """The newest bot message that shows a check-in's buttons (a prompt's Start and
        Later are not the check-in itself)."""
        for message in reversed(self.emu.chat(self.user_id)):
            if message.from_bot and any((b.callback_data or "").startswith("ck:")
                                        and not (b.callback_data or "").startswith(
                                            ("ck:s:", "ck:l:"))
                                        for row in message.buttons for b in row):
                return message
        return None

    def message(self, message_id: int) -> ChatMessage:
        return next(m for m in self.emu.chat(self.user_id) if m.message_id == message_id)

    async def checkin(self, *, contains: str = " of ") -> ChatMessage:
        sent = await self.emu.send_command(self.user_id, "/checkin")
        return await self.emu.wait_for_message(self.user_id, contains=contains,
                                               after=sent.message_id)

    async def _changed(self, before: tuple[Any, ...] | None) -> ChatMessage | None:
        def moved() -> bool:
            now = self.checkin_message()
            return now is None or before is None or _face(now) != before

        await eventually(moved)
        return self.checkin_message()

    async def press(self, text: str) -> ChatMessage | None:
        """Press a button of the check-in message and wait until the bot redrew it;
        returns the check-in message afterwards (None once it has no buttons left)."""
        current = self.checkin_message()
        assert current is not None, "\n".join(self.emu.transcript(self.user_id))
        before = _face(current)
        await self.emu.press_button(self.user_id, current.message_id, text=text)
        return await self._changed(before)

    async def type(self, text: str) -> ChatMessage | None:
        current = self.checkin_message()
        before = _face(current) if current else None
        await self.emu.send_text(self.user_id, text)
        return await self._changed(before)

    async def press_and_answer(self, message_id: int, text: str) -> str:
        """Press a button of any visible message and return the bot's callback answer."""
        query = await self.emu.press_button(self.user_id, message_id, text=text)
        return str(await self.emu.callback_answer(query))
