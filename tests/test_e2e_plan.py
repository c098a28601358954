"""Stories of the plan written together and of help now, through the emulator, in English
and Spanish: a client suggests a warning sign, the clinician accepts it and the client is
told; /now shows the client's own steps and contacts in one reply and alerts the clinician
only after a yes; a few minutes later the client is asked how it went. Another clinician
can neither read nor decide on the plan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from journal.clock import FakeClock
from journal.errors import NotFound
from journal.i18n import gettext_for
from journal.plan_together import PlanTogether
from storage.crypto import MasterKeyring
from storage.models import AlertRow, HelpMomentRow, OutboxRow, PlanSuggestionRow
from storage.records import Client, Plan, PlanItem
from storage.uow import Store
from tests.conftest import Database
from tests.e2e import InProcessBot, bot_settings, eventually

CLINICIAN, OTHER, CLIENT = 7201, 7202, 8201
PLAN = Plan.with_parts(
    "", cycle=(PlanItem("Feeling lonely", (("stage", "build_up"),)),),
    coping=("Call my sponsor", "Go for a walk"),
    support=(PlanItem("Ana", (("role", "sister"), ("reach", "600 111 222"))),),
    at_risk=("Leave the place now", "Breathe slowly", "Go where other adults are"),
    first_call=(PlanItem("Luis", (("reach", "600 333 444"),)),))


class World:
    def __init__(self, emu: Any, store: Store, clock: FakeClock, client: Client,
                 language: str) -> None:
        self.emu, self.store, self.clock, self.client = emu, store, clock, client
        self.language = language

    def t(self, text: str) -> str:
        return gettext_for(self.language, text)

    async def say(self, who: int, text: str, contains: str) -> Any:
        sent = await self.emu.send_text(who, text)
        return await self.emu.wait_for_message(who, contains=contains, after=sent.message_id)


@pytest.fixture(params=["en", "es"])
async def world(request: pytest.FixtureRequest, emulator: Any, sqlite_database: Database,
                ring: MasterKeyring, clock: FakeClock) -> AsyncIterator[World]:
    language = request.param
    store = Store.open(sqlite_database.url, ring)
    async with store.transaction() as uow:
        lane = await uow.clinicians.add(telegram_id=CLINICIAN, name="Dr Lane",
                                        role="clinician", now=clock.now())
        await uow.clinicians.add(telegram_id=OTHER, name="Dr Ortiz", role="clinician",
                                 now=clock.now())
        client = await uow.clients.add_invited(clinician_id=lane.id, language=language,
                                               timezone="Europe/Madrid", checkin_time="20:00",
                                               now=clock.now())
        client = await uow.clients.update(client.id, telegram_id=CLIENT, status="active",
                                          enrolled_at=clock.now())
        await uow.plans.put(Plan(client.id, PLAN.parts), by=None, now=clock.now(),
                            reason="seed")
    emulator.person(CLINICIAN, "Lane")
    emulator.person(OTHER, "Ortiz")
    emulator.person(CLIENT, "Sam", language_code=language)
    bot = await InProcessBot(bot_settings(emulator, sqlite_database.url, ring),
                             clock=clock).start()
    try:
        for staff in (CLINICIAN, OTHER):  # a bot writes only to people who wrote to it
            await emulator.send_command(staff, "/help")
            await emulator.wait_for_message(staff)
        yield World(emulator, store, clock, client, language)
    finally:
        await bot.stop()
        await store.close()


async def test_a_suggested_sign_is_accepted_and_the_client_is_told(world: World) -> None:
    emu, t = world.emu, world.t
    shown = await world.say(CLIENT, "/plan", t("Your plan"))
    assert "Feeling lonely" in shown.text
    await emu.press_button(CLIENT, shown.message_id, text=t("Suggest a change"))
    parts = await emu.wait_for_message(CLIENT, contains=t(
        "Which part of your plan is your suggestion for?"))
    await emu.press_button(CLIENT, parts.message_id, text=t("My offence cycle"))
    await eventually(lambda: "200" not in (parts.text or "") and any(
        m.message_id == parts.message_id and not m.buttons for m in emu.chat(CLIENT)))
    sent = await emu.send_text(CLIENT, "Scrolling at night alone")
    thanks = await emu.wait_for_message(CLIENT, contains=t(
        "Thank you. Your suggestion was kept and your clinician was told. You will talk about "
        "it together."), after=sent.message_id)
    assert thanks is not None
    await eventually(lambda: sent.message_id in [m.message_id for m in emu.deleted(CLIENT)])

    told = await emu.wait_for_message(CLINICIAN, contains=world.client.code)
    assert "Scrolling" not in told.text  # no plan text in the notification
    async with world.store.unit_of_work() as uow:
        rows = [row.body_ct for row in
                (await uow.session.scalars(select(PlanSuggestionRow))).all()]
    assert len(rows) == 1 and b"Scrolling" not in rows[0]

    # Another clinician: the same "not found" as a code that does not exist.
    stranger = await world.say(OTHER, f"/plan {world.client.code}", "No client")
    unknown = await world.say(OTHER, "/plan ZZZ-ZZ", "No client")
    assert stranger.text == unknown.text

    await emu.send_text(CLINICIAN, f"/plan {world.client.code}")
    offer = await emu.wait_for_message(CLINICIAN, contains="Scrolling at night alone")
    await emu.press_button(CLINICIAN, offer.message_id, text="Accept")
    await emu.wait_for_message(CLINICIAN, contains="Added to the plan")
    notice = await emu.wait_for_message(CLIENT, contains="/plan", after=thanks.message_id)
    first_line = notice.text.splitlines()[0]
    assert first_line == t("You have an update waiting.")
    assert "Scrolling" not in notice.text
    async with world.store.unit_of_work() as uow:
        plan = await uow.plans.get(world.client.id)
        versions = await uow.plans.versions(world.client.id)
        left = await uow.plans.suggestions(world.client.id)
    assert plan.warning_signs == ("Feeling lonely", "Scrolling at night alone")
    assert [v.number for v in versions] == [2, 1] and left == []
    assert versions[0].reason == t("A suggestion from the client")


async def test_help_now_shows_own_steps_in_one_reply_and_alerts_only_after_yes(
        world: World) -> None:
    emu, t, store = world.emu, world.t, world.store
    sent = await emu.send_text(CLIENT, "/now")
    reply = await emu.wait_for_message(CLIENT, contains=t(
        "Do you want your clinician to be told now?"), after=sent.message_id)
    for words in ("Leave the place now", "Breathe slowly", "Go where other adults are",
                  "Luis", "600 333 444", "Call my sponsor", "Ana", "600 111 222"):
        assert words in reply.text, words
    assert [m for m in emu.chat(CLIENT) if m.from_bot and m.message_id > sent.message_id
            ] == [reply]  # one reply
    async with store.unit_of_work() as uow:
        assert (await uow.session.scalars(select(AlertRow))).all() == []
        moments = await uow.plans.moments(world.client.id)
    assert len(moments) == 1 and moments[0].told is None

    await emu.press_button(CLIENT, reply.message_id, text=t("Yes, tell my clinician"))
    await emu.wait_for_message(CLIENT, contains=t(
        "Your clinician is being told now. Keep to your steps; I will ask you in a few "
        "minutes how you are."))

    async def alerts() -> int:
        async with store.unit_of_work() as uow:
            return len((await uow.session.scalars(select(AlertRow))).all())
    await eventually(lambda: alerts(), timeout=20)
    copy = await emu.wait_for_message(CLINICIAN, contains=world.client.code)
    assert "Leave the place" not in copy.text
    async with store.unit_of_work() as uow:
        alert = (await uow.session.scalars(select(AlertRow))).one()
        opened = await uow.alerts.get(alert.id)
        assert opened is not None and opened.level == "high"  # risk_rules.toml [help_now]
        raw = (await uow.session.scalars(select(HelpMomentRow))).one().body_ct
    assert b"true" not in raw

    # A few minutes later (committed in the outbox, due then): how did it go?
    world.clock.advance(minutes=11)
    question = await emu.wait_for_message(CLIENT, contains=t(
        "How are you now, compared with a few minutes ago?"))
    await emu.press_button(CLIENT, question.message_id, text=t("Worse"))
    await emu.wait_for_message(CLIENT, contains=t(
        "You matter, and help is available right now."))
    async with store.unit_of_work() as uow:
        moment = (await uow.plans.moments(world.client.id))[0]
    assert moment.told is True and moment.outcome == "worse"

    # A second moment answered no: no alert.
    sent = await emu.send_text(CLIENT, "/now")
    second = await emu.wait_for_message(CLIENT, contains=t(
        "Do you want your clinician to be told now?"), after=sent.message_id)
    await emu.press_button(CLIENT, second.message_id, text=t("No, not now"))
    await emu.wait_for_message(CLIENT, contains=t(
        "Nobody was told. Keep to your steps; I will ask you in a few minutes how you are."))
    assert await alerts() == 1
    async with store.unit_of_work() as uow:
        queued = [row.payload_ct for row in (await uow.session.scalars(select(OutboxRow))).all()]
    assert all(b"Leave the place" not in payload for payload in queued)
    # The clinician's chat summary counts the moments.
    summary = await world.say(CLINICIAN, f"/client {world.client.code}", "Help now (/now)")
    assert "Help now (/now): 2 times in these days, clinician told 1." in summary.text


async def test_another_clinician_cannot_decide_on_a_suggestion(
        world: World, clock: FakeClock) -> None:
    store = world.store
    async with store.transaction() as uow:
        await uow.conversations.set(CLIENT, "plan_suggest", {"part": "coping"}, clock.now())
    from journal.alerts.rules_file import load_rules
    from journal.alerts.service import AlertService
    from journal.checkin.questionnaire_file import load_questionnaire
    q = load_questionnaire()
    together = PlanTogether(clock=clock, alerts=AlertService(
        clock=clock, questionnaire=q, rules=load_rules(questionnaire=q)))
    async with store.transaction() as uow:
        client = await uow.clients.get(world.client.id)
        assert client is not None
        suggestion = await together.suggest(uow, client, "Ring Ana")
    async with store.transaction() as uow:
        other = await uow.clinicians.by_telegram_id(OTHER)
        assert other is not None
        for attempt in (together.accept(uow, other, suggestion),
                        together.decline(uow, other, suggestion),
                        together.start_edit(uow, other, suggestion),
                        together.accept(uow, other, "0" * 32)):
            with pytest.raises(NotFound) as caught:
                await attempt
            assert caught.value.key == "client.not_found"


async def test_the_clinician_edits_one_suggestion_and_declines_another_in_the_chat(
        world: World) -> None:
    emu, t = world.emu, world.t

    async def suggest(part_title: str, text: str) -> None:
        shown = await world.say(CLIENT, "/plan", t("Your plan"))
        await emu.press_button(CLIENT, shown.message_id, text=t("Suggest a change"))
        parts = await emu.wait_for_message(CLIENT, contains=t(
            "Which part of your plan is your suggestion for?"), after=shown.message_id)
        await emu.press_button(CLIENT, parts.message_id, text=t(part_title))
        await eventually(lambda: any(m.message_id == parts.message_id and not m.buttons
                                     for m in emu.chat(CLIENT)))
        sent = await emu.send_text(CLIENT, text)
        await emu.wait_for_message(CLIENT, contains=t(
            "Thank you. Your suggestion was kept and your clinician was told. You will talk "
            "about it together."), after=sent.message_id)

    await suggest("Coping strategies", "Text my sponsor")
    await suggest("If I am at risk right now", "Run")
    await emu.send_text(CLINICIAN, f"/plan {world.client.code}")
    first = await emu.wait_for_message(CLINICIAN, contains="Text my sponsor")
    second = await emu.wait_for_message(CLINICIAN, contains="Run")
    await emu.press_button(CLINICIAN, first.message_id, text="Edit")
    await emu.wait_for_message(CLINICIAN, contains="Send the item as it should read")
    sent = await emu.send_text(CLINICIAN, "Text my sponsor before I act")
    await emu.wait_for_message(CLINICIAN, contains="Plan saved", after=sent.message_id)
    await emu.press_button(CLINICIAN, second.message_id, text="Decline")
    await emu.wait_for_message(CLINICIAN, contains="Declined.")
    kept = await emu.wait_for_message(CLIENT, contains=t(
        "Your clinician read your suggestion and kept your plan as it is for now. You can "
        "talk about it at your next session."))
    assert kept.text.splitlines()[0] == t("You have an update waiting.")
    async with world.store.unit_of_work() as uow:
        plan = await uow.plans.get(world.client.id)
        left = await uow.plans.suggestions(world.client.id, open_only=False)
    assert plan.coping_steps[-1] == "Text my sponsor before I act"
    assert "Run" not in plan.texts("at_risk")
    assert sorted(s.status for s in left) == ["accepted", "declined"]
