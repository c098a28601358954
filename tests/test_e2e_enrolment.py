"""Stories of people meeting the bot: strangers, clinicians inviting, clients enrolling."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from journal.clock import FakeClock
from storage.crypto import MasterKeyring
from storage.models import ClientRow, ConversationRow, InviteRow
from storage.uow import Store
from tests.conftest import Database
from tests.e2e import InProcessBot, bot_settings, eventually
from tests.helpers import make_clinician

CLINICIAN = 7001
SUPERVISOR = 7002
CLIENT = 8001


@pytest.fixture
async def world(emulator: Any, sqlite_database: Database, ring: MasterKeyring,
                clock: FakeClock) -> AsyncIterator[dict[str, Any]]:
    store = Store.open(sqlite_database.url, ring)
    await make_clinician(store, clock, telegram_id=CLINICIAN, name="Dr Lane")
    await make_clinician(store, clock, telegram_id=SUPERVISOR, name="Dr Sup", role="supervisor")
    emulator.person(CLINICIAN, "Lane")
    emulator.person(SUPERVISOR, "Sup")
    bot = await InProcessBot(bot_settings(emulator, sqlite_database.url, ring),
                             clock=clock).start()
    try:
        yield {"emu": emulator, "store": store, "bot": bot, "clock": clock}
    finally:
        await bot.stop()
        await store.close()


async def invite_link(emu: Any, note: str | None = None) -> str:
    sent = await emu.send_text(CLINICIAN, "/invite" + (f" {note}" if note else ""))
    reply = await emu.wait_for_message(CLINICIAN, contains="t.me/", after=sent.message_id)
    match = re.search(r"https://t\.me/steadfast_test_bot\?start=([A-Za-z0-9_-]+)", reply.text)
    assert match, reply.text
    return match.group(1)


async def enrol(emu: Any, user_id: int, code: str, *, language: str = "English",
                zone: str = "Europe/Madrid", time: str = "20:00") -> str:
    spanish = language == "Español"  # the person's Telegram app is in Spanish too
    await emu.send_command(user_id, f"/start {code}")
    consent = await emu.wait_for_message(user_id, contains=("cifrado" if spanish else "encrypted"),
                                         from_bot=True)
    await emu.press_button(user_id, consent.message_id, text=("Acepto" if spanish else "I agree"))
    await emu.wait_for_message(user_id, contains=("idioma" if spanish else "language"),
                               from_bot=True)
    await emu.press_button(user_id, consent.message_id, text=language)
    await emu.wait_for_message(user_id, contains=("zona" if language == "Español" else "time zone"),
                               from_bot=True)
    await emu.press_button(user_id, consent.message_id, text=zone)
    await emu.wait_for_message(user_id, contains=("A qué hora" if spanish else "what time"),
                               from_bot=True)
    await emu.press_button(user_id, consent.message_id, text=time)
    done = await emu.wait_for_message(user_id, contains=("código" if language == "Español"
                                                         else "client code"), from_bot=True)
    found = re.search(r"[A-Z0-9]{3}-[A-Z0-9]{2}", done.text)
    assert found, done.text
    return found.group(0)


async def test_a_client_enrols_with_consent_and_the_clinician_is_told(world: dict[str, Any]) -> None:
    emu, store = world["emu"], world["store"]
    emu.person(CLIENT, "Sam", language_code="en")
    code = await invite_link(emu, note="met at intake, prefers evenings")
    client_code = await enrol(emu, CLIENT, code)

    notice = await emu.wait_for_message(CLINICIAN, contains="enrolled", from_bot=True)
    assert client_code in notice.text
    client_menu = await eventually(lambda: emu.commands_for(CLIENT))
    assert "checkin" in client_menu and "invite" not in client_menu
    async with store.unit_of_work() as uow:
        client = await uow.clients.by_code(client_code)
        assert client is not None and client.telegram_id == CLIENT
        assert (client.status, client.timezone, client.checkin_time) == (
            "active", "Europe/Madrid", "20:00")
        invite = await uow.session.scalar(select(InviteRow))
        assert invite is not None and invite.used_at is not None
        assert invite.code_hash != code and code not in invite.code_hash  # stored hashed
        assert await uow.invites.note(await uow.invites.get(invite.id)) == (  # type: ignore[arg-type]
            "met at intake, prefers evenings")
    # the private note was removed from the clinician's chat once stored encrypted
    assert not any("prefers evenings" in (m.text or "") for m in emu.chat(CLINICIAN))


async def test_declining_consent_stores_nothing(world: dict[str, Any]) -> None:
    emu, store = world["emu"], world["store"]
    emu.person(CLIENT, "Sam")
    code = await invite_link(emu)
    async with store.unit_of_work() as uow:
        clients_before = await uow.session.scalar(select(func.count()).select_from(ClientRow))
    await emu.send_command(CLIENT, f"/start {code}")
    consent = await emu.wait_for_message(CLIENT, contains="encrypted", from_bot=True)
    await emu.press_button(CLIENT, consent.message_id, text="No, thanks")
    await emu.wait_for_message(CLIENT, contains="Nothing has been stored", from_bot=True)
    async with store.unit_of_work() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(ConversationRow)) == 0
        assert await uow.session.scalar(select(func.count()).select_from(ClientRow)) == clients_before
        assert await uow.clients.by_telegram_id(CLIENT) is None
        assert await uow.session.scalar(
            select(func.count()).select_from(ClientRow).where(
                ClientRow.telegram_index == await uow.vault.telegram_index(CLIENT))) == 0


async def test_a_spanish_speaker_sees_consent_in_spanish(world: dict[str, Any]) -> None:
    emu = world["emu"]
    emu.person(CLIENT, "Ana", language_code="es")
    code = await invite_link(emu)
    client_code = await enrol(emu, CLIENT, code, language="Español")
    assert client_code
    seen = "\n".join(emu.transcript(CLIENT))  # every version of every message
    assert "cifrado" in seen and "código de cliente" in seen
    for english in ("encrypted", "I agree", "time zone", "client code"):
        assert english not in seen


async def test_used_expired_and_wrong_codes_get_clear_answers(world: dict[str, Any]) -> None:
    emu, clock = world["emu"], world["clock"]
    emu.person(CLIENT, "Sam")
    emu.person(CLIENT + 1, "Other")
    code = await invite_link(emu)
    await enrol(emu, CLIENT, code)
    await emu.send_command(CLIENT + 1, f"/start {code}")
    await emu.wait_for_message(CLIENT + 1, contains="already been used", from_bot=True)

    stale = await invite_link(emu)
    clock.advance(timedelta(hours=73))
    sent = await emu.send_command(CLIENT + 1, f"/start {stale}")
    await emu.wait_for_message(CLIENT + 1, contains="expired", after=sent.message_id)

    sent = await emu.send_command(CLIENT + 1, "/start not-a-real-code")
    await emu.wait_for_message(CLIENT + 1, contains="not valid", after=sent.message_id)


async def test_ten_wrong_codes_lock_the_account_out_for_an_hour(world: dict[str, Any]) -> None:
    emu, clock = world["emu"], world["clock"]
    emu.person(CLIENT, "Probe")
    for n in range(10):
        sent = await emu.send_command(CLIENT, f"/start wrong{n}")
        await emu.wait_for_message(CLIENT, contains=("Too many" if n == 9 else "not valid"),
                                   from_bot=True, after=sent.message_id)
    good = await invite_link(emu)
    sent = await emu.send_command(CLIENT, f"/start {good}")
    await emu.wait_for_message(CLIENT, contains="Too many", from_bot=True, after=sent.message_id)
    clock.advance(timedelta(minutes=59))
    sent = await emu.send_command(CLIENT, f"/start {good}")
    await emu.wait_for_message(CLIENT, contains="Too many", from_bot=True, after=sent.message_id)
    clock.advance(timedelta(minutes=2))
    sent = await emu.send_command(CLIENT, f"/start {good}")
    await emu.wait_for_message(CLIENT, contains="encrypted", from_bot=True, after=sent.message_id)


async def test_a_stranger_gets_one_neutral_line_and_nothing_else(world: dict[str, Any]) -> None:
    emu = world["emu"]
    emu.person(9999, "Stranger")
    for text in ("hello", "/help", "/invite", "/checkin", "/caseload"):
        await emu.send_text(9999, text)
    await emu.send_sticker(9999)
    await emu.send_photo(9999)
    # One reply a message; a chat gets at most one message a second, so seven take seconds.
    await eventually(lambda: len([m for m in emu.chat(9999) if m.from_bot]) >= 7)
    replies = [m for m in emu.chat(9999) if m.from_bot]
    assert len(replies) == 7
    assert {m.text for m in replies} == {
        "This bot serves enrolled participants of a program. Ask your clinician for an invite."}
    # The default scope's menu is the client's (a start sets menus by scope, not per chat):
    # a stranger sees it, never a staff command, and gets no chat's own menu.
    assert not {"invite", "alerts", "caseload"} & set(emu.commands_for(9999))
    assert not [c for c in emu.calls_of("setMyCommands")
                if (c.params.get("scope") or {}).get("chat_id") == 9999]


async def test_roles_reach_only_their_own_commands(world: dict[str, Any]) -> None:
    emu = world["emu"]
    emu.person(CLIENT, "Sam")
    await enrol(emu, CLIENT, await invite_link(emu))
    await emu.send_text(CLIENT, "/invite")
    reply = await emu.wait_for_message(CLIENT, contains="not available", from_bot=True)
    assert "t.me" not in reply.text
    await emu.send_text(CLINICIAN, "/journal")
    await emu.wait_for_message(CLINICIAN, contains="not available", from_bot=True)
    await emu.send_text(CLINICIAN, "/start")  # a chat gets its menu once it has talked
    await emu.wait_for_message(CLINICIAN, contains="/invite", from_bot=True)
    # Everyone sees the default scope's (client) menu until a chat's own is set.
    await eventually(lambda: "invite" in emu.commands_for(CLINICIAN))
    staff_menu = emu.commands_for(CLINICIAN)
    assert "invite" in staff_menu and "checkin" not in staff_menu


async def test_the_consent_reads_in_a_minute_and_more_shows_the_rest(
        world: dict[str, Any]) -> None:
    from bot.handlers.enrol import CONSENT, CONSENT_SHORT
    from journal.i18n import gettext_for

    for language in ("en", "es"):  # about sixty words: under a minute's reading
        assert len(re.findall(r"\w+", gettext_for(language, CONSENT_SHORT))) <= 70, language
        assert len(re.findall(r"\w+", gettext_for(language, CONSENT))) > 100, language
    emu = world["emu"]
    emu.person(CLIENT, "Sam", language_code="en")
    code = await invite_link(emu)
    await emu.send_command(CLIENT, f"/start {code}")
    consent = await emu.wait_for_message(CLIENT, contains="Do you agree?", from_bot=True)
    assert len(re.findall(r"\w+", consent.text)) <= 70 and "encrypted" in consent.text
    assert consent.button_texts == ["I agree", "No, thanks", "More", "Español"]

    def shown() -> Any:
        return next(m for m in emu.chat(CLIENT) if m.message_id == consent.message_id)

    await emu.press_button(CLIENT, consent.message_id, text="More")
    await eventually(lambda: "erasure destroys the key" in shown().text)
    assert shown().button_texts == ["I agree", "No, thanks", "Español"]  # "More" is spent
    await emu.press_button(CLIENT, consent.message_id, text="I agree")
    await eventually(lambda: "language" in shown().text)
