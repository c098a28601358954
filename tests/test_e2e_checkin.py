"""Stories of the daily check-in, told through the Bot API emulator: a client answers item by
item on one message, goes back, skips, taps twice, comes back after a restart."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from journal.alerts.rules_file import load_rules
from journal.alerts.service import AlertService
from journal.checkin.flow import Stored
from journal.checkin.questionnaire import SKIPPED, plan_option_key
from journal.checkin.questionnaire_file import load_questionnaire
from journal.checkin.service import CheckInService
from journal.clock import FakeClock, SystemClock
from storage.crypto import MasterKeyring
from storage.models import CheckInRow, OutboxRow
from storage.records import CheckIn, Client, Clinician
from storage.uow import Store
from tests.conftest import Database
from tests.e2e import ChildBot, InProcessBot, bot_settings, eventually
from tests.stories import Phone, enrolled_client

CLINICIAN = 7001
CLIENT = 8001
TODAY = date(2026, 3, 2)  # the clock fixture's 09:00 UTC is 10:00 in Madrid
PLAN = ("Call my sponsor", "Leave the place")
Q = load_questionnaire()


@pytest.fixture
async def world(emulator: Any, sqlite_database: Database, ring: MasterKeyring,
                clock: FakeClock) -> AsyncIterator[dict[str, Any]]:
    store = Store.open(sqlite_database.url, ring)
    async with store.transaction() as uow:
        clinician = await uow.clinicians.add(telegram_id=CLINICIAN, name="Dr Lane",
                                             role="clinician", now=clock.now(),
                                             contact="Dr Lane, 555-0100")
    emulator.person(CLINICIAN, "Lane")
    emulator.person(CLIENT, "Sam")
    # No scheduler ticks: these stories move the fake clock and must not race a tick.
    settings = bot_settings(emulator, sqlite_database.url, ring, program_office_phone="555-0199",
                            scheduler_enabled=False)
    bot = await InProcessBot(settings, clock=clock).start()
    try:
        yield {"emu": emulator, "store": store, "clock": clock, "clinician": clinician,
               "phone": Phone(emulator, CLIENT), "database": sqlite_database, "ring": ring}
    finally:
        await bot.stop()
        await store.close()


async def today_checkin(store: Store, client: Client, day: date = TODAY) -> CheckIn:
    async with store.unit_of_work() as uow:
        checkin = await uow.checkins.for_day(client.id, day)
    assert checkin is not None
    return checkin


async def answers(store: Store, client: Client, day: date = TODAY) -> dict[str, Any]:
    checkin = await today_checkin(store, client, day)
    assert checkin.state is not None
    return dict(Stored.from_data(checkin.state).state.answers)


async def calm_start(phone: Phone) -> None:
    """Items 1-4 answered the quiet way, ending on "How well are you coping?"."""
    await phone.checkin()
    await phone.press("No")  # victim access
    await phone.press("2")  # anger
    await phone.press("None")  # sexual thoughts: no follow-up question
    await phone.press("No")  # supervision


async def test_a_full_check_in_uses_every_kind_of_item(world: dict[str, Any]) -> None:
    emu, store, phone = world["emu"], world["store"], world["phone"]
    client = await enrolled_client(store, world["clock"], world["clinician"], CLIENT,
                                   coping_steps=PLAN)

    first = await phone.checkin()
    assert first.text.startswith("Daily check-in · 1 of 15")
    assert "Today, were you around people" in first.text
    assert first.button_texts == ["No", "Briefly, not planned, and I left",
                                  "I stayed, or I looked for them"]  # no Back on the first item
    shown = await phone.press("No")
    assert shown is not None and shown.message_id == first.message_id  # edited in place
    assert "2 of 15" in shown.text and "0 = None · 10 = Very strong" in shown.text
    assert [len(row) for row in shown.buttons] == [6, 5, 1]  # 0-5, 6-10, Back
    await phone.press("4")
    shown = await phone.press("Some of the day")  # opens the follow-up about offending
    assert shown is not None and "3 of 15" in shown.text and "about offending" in shown.text
    await phone.press("No")
    await phone.press("No")  # supervision
    await phone.press("7")  # coping
    await phone.press("No")  # self-harm
    await phone.press("No")  # social support
    await phone.press("No")  # substances
    shown = await phone.press("Yes")  # high-risk situation: opens the free text
    assert shown is not None and "Type your answer" in shown.text
    assert shown.button_texts == ["« Back", "Skip"]
    shown = await phone.type("Walked past the school, turned back home")
    assert shown is not None and shown.message_id == first.message_id
    assert "small decisions" in shown.text and "Choose any" in shown.text
    typed = emu.deleted(CLIENT)[0]
    await phone.press("Stayed up late online")
    shown = await phone.press("Something else")
    assert shown is not None and shown.button_texts[:2] == ["Went past places I avoid",
                                                            "✓ Stayed up late online"]
    shown = await phone.press("Done")
    assert shown is not None and "other decision" in shown.text
    await phone.type("Skipped dinner")
    await phone.press("No")  # lapse: no follow-up
    shown = phone.checkin_message()
    assert shown is not None and shown.button_texts[:3] == [
        "Call my sponsor", "Leave the place", "Something else that helped"]  # the RP plan
    await phone.press("Call my sponsor")
    shown = await phone.press("Done")
    assert shown is not None and "How well did they work?" in shown.text
    await phone.press("8")
    await phone.press("9")  # confidence
    await phone.press("Work")
    await phone.press("Done")
    summary = await phone.type("A good day overall")
    assert summary is not None and "your answers" in summary.text
    assert "• What happened: Walked past the school, turned back home" in summary.text
    # One phone screen: what was reported a line each, every "no" or "none" in one line.
    assert "• People or places to avoid" not in summary.text
    folded = next(line for line in summary.text.split("\n") if line.startswith("No or none"))
    assert folded == ("No or none (7): People or places to avoid, Thoughts about offending, "
                      "Missing or hiding things, Thoughts of self-harm, Conflict or loss, "
                      "Alcohol or drugs, Lapse.")
    assert "• Sexual thoughts: Some of the day" in summary.text  # reported: its own line
    assert len(summary.text.split("\n")) <= 20
    assert summary.button_texts == ["Submit", "Change an answer", "« Back"]

    await phone.press("Submit")
    done = phone.message(first.message_id)
    assert "Your check-in for today is saved" in done.text and done.buttons == []

    # What was stored, decrypted by the repository.
    checkin = await today_checkin(store, client)
    assert checkin.status == "submitted" and checkin.submitted_at is not None
    assert (checkin.questionnaire_id, checkin.questionnaire_version) == (Q.id, str(Q.version))
    assert checkin.item_ids == tuple(item.id for item in Q.items)
    assert checkin.message_id == first.message_id
    assert checkin.risk_level is not None and checkin.scores is not None
    assert await answers(store, client) == {
        "victim_access": "no", "anger": 4, "sexual_thoughts": "some",
        "offending_thoughts": False, "supervision": "no", "coping": 7, "self_harm": False,
        "social_support": "no", "substances": "none", "high_risk": True,
        "high_risk_detail": "Walked past the school, turned back home",
        "suds": ("online_late", "other"), "suds_other": "Skipped dinner", "lapse": False,
        "coping_steps": (plan_option_key("Call my sponsor"),), "coping_effect": 8,
        "confidence": 9, "good_life": ("work",), "journal_note": "A good day overall"}
    async with store.unit_of_work() as uow:
        row = await uow.session.scalar(select(CheckInRow).where(CheckInRow.id == checkin.id))
        assert row is not None and row.state_ct is not None
        assert b"school" not in row.state_ct  # sealed, not plaintext

    # Chat hygiene: the three typed answers are gone from the chat; neutral "Saved." stays.
    gone = [m.text for m in emu.deleted(CLIENT)]
    assert gone == ["Walked past the school, turned back home", "Skipped dinner",
                    "A good day overall"]
    assert not typed.from_bot
    visible = [m.text for m in emu.chat(CLIENT)]
    assert visible.count("Saved.") == 3 and not any("school" in t for t in visible)


async def test_back_and_skip(world: dict[str, Any]) -> None:
    store, phone = world["store"], world["phone"]
    client = await enrolled_client(store, world["clock"], world["clinician"], CLIENT)
    await phone.checkin()
    await phone.press("No")
    shown = await phone.press("6")
    assert shown is not None and "3 of 15" in shown.text
    shown = await phone.press("« Back")  # back to anger, the earlier answer ticked
    assert shown is not None and "2 of 15" in shown.text and "✓ 6" in shown.button_texts
    shown = await phone.press("3")  # changed
    assert shown is not None and "3 of 15" in shown.text
    await phone.press("Some of the day")
    await phone.press("« Back")
    shown = await phone.press("None")  # the follow-up question is gone again
    assert shown is not None and "4 of 15" in shown.text and "hide" in shown.text
    for press in ("No", "8", "No", "No", "No", "No", "Done", "No"):
        await phone.press(press)
    shown = phone.checkin_message()
    assert shown is not None and "from your plan" in shown.text
    # With an empty plan only the fixed option is offered, and Done with none is an answer.
    assert shown.button_texts == ["Something else that helped", "Done", "« Back"]
    await phone.press("Done")
    await phone.press("7")  # confidence: no "how well did they work" without steps
    shown = await phone.press("Skip")  # good life
    assert shown is not None and "journal" in shown.text
    summary = await phone.press("Skip")
    assert summary is not None and "• Toward a good life: Skipped" in summary.text
    stored = await answers(store, client)
    assert stored["anger"] == 3 and stored["sexual_thoughts"] == "none"
    assert "offending_thoughts" not in stored and "coping_effect" not in stored
    assert stored["coping_steps"] == () and stored["good_life"] is SKIPPED
    assert stored["journal_note"] is SKIPPED

    # "Change an answer" lists the items; the picked one is asked again, then the summary.
    listing = await phone.press("Change an answer")
    assert listing is not None and "Which answer" in listing.text
    shown = await phone.press("Confidence for tomorrow")
    assert shown is not None and "✓ 7" in shown.button_texts
    summary = await phone.press("5")
    assert summary is not None and "• Confidence for tomorrow: 5/10" in summary.text
    assert (await answers(store, client))["confidence"] == 5


async def test_a_double_tap_gives_one_answer(world: dict[str, Any]) -> None:
    emu, store, phone = world["emu"], world["store"], world["phone"]
    client = await enrolled_client(store, world["clock"], world["clinician"], CLIENT)
    first = await phone.checkin()
    one = await emu.press_button(CLIENT, first.message_id, text="No")
    two = await emu.press_button(CLIENT, first.message_id, text="No")
    assert await emu.callback_answer(two) == "Already saved."
    assert await emu.callback_answer(one) == ""
    await eventually(lambda: "2 of 15" in phone.message(first.message_id).text)
    # Without the version check the second "No" (option 0) would have answered anger = 0.
    assert await answers(store, client) == {"victim_access": "no"}
    checkin = await today_checkin(store, client)
    assert checkin.state is not None
    assert Stored.from_data(checkin.state).state.current == "anger"


async def test_stale_buttons_are_closed_and_change_nothing(world: dict[str, Any]) -> None:
    emu, store, phone, clock = world["emu"], world["store"], world["phone"], world["clock"]
    client = await enrolled_client(store, clock, world["clinician"], CLIENT)
    yesterday = await phone.checkin()
    await phone.press("No")
    before = await today_checkin(store, client)

    clock.advance(timedelta(days=1))  # the next morning, yesterday's message still shows
    answer = await phone.press_and_answer(yesterday.message_id, "5")
    assert answer == "This check-in is closed."
    assert await today_checkin(store, client) == before
    async with store.unit_of_work() as uow:
        assert await uow.checkins.for_day(client.id, TODAY + timedelta(days=1)) is None

    # A new day starts a new check-in; /checkin again moves it below, with nothing lost.
    today = TODAY + timedelta(days=1)
    first = await phone.checkin()
    assert first.message_id != yesterday.message_id
    await phone.press("No")
    again = await phone.checkin(contains="2 of 15")
    assert again.message_id != first.message_id
    assert "continues below" in phone.message(first.message_id).text
    assert phone.message(first.message_id).buttons == []
    assert await answers(store, client, today) == {"victim_access": "no"}

    # Finish it, and press Submit twice: the second press finds the check-in closed.
    for press in ("2", "None", "No", "8", "No", "No", "No", "No", "Done", "No", "Done", "7"):
        await phone.press(press)
    await phone.press("Skip")
    summary = await phone.press("Skip")
    assert summary is not None and "your answers" in summary.text
    one = await emu.press_button(CLIENT, summary.message_id, text="Submit")
    two = await emu.press_button(CLIENT, summary.message_id, text="Submit")
    assert await emu.callback_answer(one) == ""
    assert await emu.callback_answer(two) == "This check-in is closed."
    finished = await today_checkin(store, client, today)
    assert finished.status == "submitted"
    streak = await eventually(lambda: "saved" in phone.message(summary.message_id).text
                              and phone.message(summary.message_id).text)
    assert "Each day you show up counts" in streak

    # A second /checkin the same day gets a clear answer and changes nothing.
    sent = await emu.send_command(CLIENT, "/checkin")
    await emu.wait_for_message(CLIENT, contains="already checked in today", after=sent.message_id)
    assert await today_checkin(store, client, today) == finished


async def test_the_streak_counts_days_in_a_row(world: dict[str, Any]) -> None:
    store, phone, clock = world["store"], world["phone"], world["clock"]
    client = await enrolled_client(store, clock, world["clinician"], CLIENT)
    async with store.transaction() as uow:
        for days_ago in (1, 2):
            day = TODAY - timedelta(days=days_ago)
            row = await uow.checkins.create(client_id=client.id, local_date=day,
                                            status="submitted", questionnaire_id=Q.id,
                                            questionnaire_version=str(Q.version),
                                            item_ids=[], now=clock.now())
            assert row.status == "submitted"
    await calm_start(phone)
    for press in ("8", "No", "No", "No", "No", "Done", "No", "Done", "7", "Skip", "Skip"):
        await phone.press(press)
    message = phone.checkin_message()
    assert message is not None
    await phone.press("Submit")
    done = phone.message(message.message_id)
    assert "You have checked in 3 days in a row." in done.text


async def test_a_yes_to_self_harm_shows_crisis_resources_before_the_next_item(
        world: dict[str, Any]) -> None:
    emu, store, phone = world["emu"], world["store"], world["phone"]
    client = await enrolled_client(store, world["clock"], world["clinician"], CLIENT)
    await calm_start(phone)
    asked = await phone.press("8")
    assert asked is not None and "ending your life" in asked.text
    await phone.press("Yes")
    crisis = await emu.wait_for_message(CLIENT, contains="help is available")
    assert "988" in crisis.text and "741741" in crisis.text and "555-0199" in crisis.text
    assert "Dr Lane, 555-0100" in crisis.text
    following = await eventually(lambda: (m := phone.checkin_message()) is not None
                                 and "conflict or a loss" in m.text and m)
    assert crisis.message_id < following.message_id  # the resources come first
    assert "continues below" in phone.message(asked.message_id).text
    async with store.unit_of_work() as uow:
        checkin = await uow.checkins.for_day(client.id, TODAY)
        assert checkin is not None
        alerts = await uow.alerts.for_checkin(checkin.id)
    assert [a.level for a in alerts] == ["critical"]
    assert "SELF_HARM" in alerts[0].detail["reasons"]
    # The check-in goes on, on the new message, whose id was recorded.
    shown = await phone.press("No")
    assert shown is not None and shown.message_id == following.message_id
    assert "alcohol or drugs" in shown.text
    assert (await today_checkin(store, client)).message_id == following.message_id
    assert (await answers(store, client))["self_harm"] is True


async def test_a_spanish_speaking_client_sees_the_questions_in_spanish(
        world: dict[str, Any]) -> None:
    store, phone = world["store"], world["phone"]
    await enrolled_client(store, world["clock"], world["clinician"], CLIENT, language="es")
    first = await phone.checkin(contains=" de ")
    assert first.text.startswith("Registro diario · 1 de 15")
    assert "Hoy, ¿estuviste cerca de personas" in first.text
    assert "Today, were you" not in first.text
    assert first.button_texts == ["No", "Un momento, sin planearlo, y me fui",
                                  "Me quedé, o las busqué"]
    assert first.text.startswith("Registro diario")
    shown = await phone.press("No")
    assert shown is not None and "¿Cuánto enojo" in shown.text and "0 = Nada" in shown.text
    for press in ("2", "Nada", "No", "8"):
        shown = await phone.press(press)
    assert shown is not None and "quitarte la vida" in shown.text
    assert shown.button_texts[:2] == ["Sí", "No"]
    # The bot's own words come from the Spanish catalogue: progress and Back too.
    assert "6 de 15" in shown.text and " of " not in shown.text
    assert "Back" not in " ".join(shown.button_texts)


async def test_later_puts_the_prompt_back_in_the_outbox(world: dict[str, Any]) -> None:
    emu, store, phone, clock = world["emu"], world["store"], world["phone"], world["clock"]
    client = await enrolled_client(store, clock, world["clinician"], CLIENT)
    sent = await emu.send_command(CLIENT, "/start")  # Telegram knows a chat once it talked
    await emu.wait_for_message(CLIENT, contains="Welcome back", after=sent.message_id)
    q = load_questionnaire()
    service = CheckInService(clock=clock, questionnaire=q, store=store,
                             alerts=AlertService(clock=clock, questionnaire=q,
                                                 rules=load_rules(questionnaire=q)))
    async with store.transaction() as uow:
        assert await service.prompt(uow, client)
        assert not await service.prompt(uow, client)  # one prompt per client and day
    prompt = await emu.wait_for_message(CLIENT, contains="Time for your check-in")
    assert prompt.button_texts == ["Start check-in", "Later"]
    assert (await today_checkin(store, client)).status == "prompted"

    one = await emu.press_button(CLIENT, prompt.message_id, text="Later")
    two = await emu.press_button(CLIENT, prompt.message_id, text="Later")
    await emu.callback_answer(one)
    await emu.callback_answer(two)
    await eventually(lambda: "remind you in 60 minutes" in phone.message(prompt.message_id).text)
    async with store.unit_of_work() as uow:
        later = list(await uow.session.scalars(
            select(OutboxRow.next_attempt_at).where(OutboxRow.kind == "prompt",
                                                    OutboxRow.status == "queued")))
    assert later == [clock.now() + timedelta(minutes=60)]  # the double tap queued one

    clock.advance(timedelta(minutes=61))
    again = await emu.wait_for_message(CLIENT, contains="Time for your check-in",
                                       after=prompt.message_id)
    await emu.press_button(CLIENT, again.message_id, text="Start check-in")
    shown = await eventually(lambda: (m := phone.checkin_message()) is not None and m)
    assert shown.message_id == again.message_id  # started in place
    assert "1 of 15" in shown.text
    checkin = await today_checkin(store, client)
    assert checkin.status == "in_progress" and checkin.message_id == again.message_id


async def test_staff_cannot_reach_the_check_in(world: dict[str, Any]) -> None:
    emu = world["emu"]
    sent = await emu.send_command(CLINICIAN, "/checkin")
    await emu.wait_for_message(CLINICIAN, contains="not available", after=sent.message_id)


@pytest.mark.slow
async def test_a_client_who_stops_halfway_resumes_after_a_restart(
        emulator: Any, sqlite_database: Database, ring: MasterKeyring, clock: FakeClock,
        tmp_path: Path) -> None:
    store = Store.open(sqlite_database.url, ring)
    async with store.transaction() as uow:
        clinician: Clinician = await uow.clinicians.add(
            telegram_id=CLINICIAN, name="Dr Lane", role="clinician", now=clock.now())
    # The child process runs on the real clock, so its "today" is the real one.
    real_today = SystemClock().now().astimezone(UTC).date()
    # No check-in days: the child's real-clock scheduler then never prompts mid-story.
    client = await enrolled_client(store, clock, clinician, CLIENT, timezone="UTC",
                                   checkin_days="")
    emulator.person(CLIENT, "Sam")
    phone = Phone(emulator, CLIENT)
    child = ChildBot(bot_settings(emulator, sqlite_database.url, ring), tmp_path).start()
    try:
        await child.wait_ready()
        first = await phone.checkin()
        await phone.press("No")
        await phone.press("3")
        await phone.press("Some of the day")
        child.kill()  # no clean stop: whatever was committed must be there

        assert await answers(store, client, real_today) == {
            "victim_access": "no", "anger": 3, "sexual_thoughts": "some"}
        # A fresh directory, so waiting for "running" reads the new process's log only.
        (tmp_path / "again").mkdir()
        first_log = child.log
        child = ChildBot(child.settings, tmp_path / "again").start()
        await child.wait_ready()
        # The next button press on the same message carries on...
        shown = await phone.press("No")
        assert shown is not None and shown.message_id == first.message_id
        assert "hide" in shown.text
        # ...and so does /checkin, on a new message at the same place.
        again = await phone.checkin(contains="4 of 15")
        assert "hide" in again.text
        assert await answers(store, client, real_today) == {
            "victim_access": "no", "anger": 3, "sexual_thoughts": "some",
            "offending_thoughts": False}
        assert "Traceback" not in first_log.read_text() + child.log.read_text()
    finally:
        if child.process is not None and child.process.poll() is None:
            child.kill()
        await store.close()



async def test_with_chat_hygiene_off_a_typed_answer_stays_in_the_chat(
        emulator: Any, sqlite_database: Database, ring: MasterKeyring, clock: FakeClock) -> None:
    from journal.checkin.flow import CheckInState

    store = Store.open(sqlite_database.url, ring)
    async with store.transaction() as uow:
        clinician = await uow.clinicians.add(telegram_id=CLINICIAN, name="Dr Lane",
                                             role="clinician", now=clock.now())
    client = await enrolled_client(store, clock, clinician, CLIENT)
    emulator.person(CLIENT, "Sam")
    settings = bot_settings(emulator, sqlite_database.url, ring, chat_hygiene=False,
                            scheduler_enabled=False)
    bot = await InProcessBot(settings, clock=clock).start()
    try:
        phone = Phone(emulator, CLIENT)
        await phone.checkin()
        async with store.transaction() as uow:  # skip ahead to the journal note
            checkin = await uow.checkins.for_day(client.id, TODAY)
            assert checkin is not None
            state = CheckInState(Q.id, Q.version, {}, "journal_note")
            await uow.checkins.save(checkin.id, state=Stored(7, state).to_data())
        await phone.checkin(contains="Anything else")
        await emulator.send_text(CLIENT, "Kept where I wrote it")
        await emulator.wait_for_message(CLIENT, contains="Saved.")
        assert emulator.deleted(CLIENT) == []
        assert any(m.text == "Kept where I wrote it" for m in emulator.chat(CLIENT))
        assert (await answers(store, client))["journal_note"] == "Kept where I wrote it"
    finally:
        await bot.stop()
        await store.close()


async def test_journal_writing_in_the_middle_of_a_check_in_goes_to_the_journal(
        world: dict[str, Any]) -> None:
    emu, store, phone = world["emu"], world["store"], world["phone"]
    client = await enrolled_client(store, world["clock"], world["clinician"], CLIENT)
    await calm_start(phone)
    for label in ("7", "No", "No", "No"):  # coping, self-harm, support, substances
        await phone.press(label)
    shown = await phone.press("Yes")  # the high-risk situation's free text is showing
    assert shown is not None and "Type your answer" in shown.text

    sent = await emu.send_command(CLIENT, "/journal")
    await emu.wait_for_message(CLIENT, after=sent.message_id)
    await emu.send_text(CLIENT, "A note for my journal, not the check-in")
    await emu.wait_for_message(CLIENT, contains="Saved (1 part")
    async with store.unit_of_work() as uow:
        draft = await uow.journal.draft(client.id)
    assert draft is not None and "not the check-in" in draft.text
    assert "high_risk_detail" not in await answers(store, client)

    await phone.checkin(contains="Type your answer")  # back to the check-in: typing answers it
    await phone.type("Left the shop when I saw the playground")
    assert (await answers(store, client))["high_risk_detail"] == (
        "Left the shop when I saw the playground")
    async with store.unit_of_work() as uow:
        draft = await uow.journal.draft(client.id)
    assert draft is not None and "playground" not in draft.text  # the draft is intact


async def test_typing_while_a_button_item_shows_is_not_kept_and_says_how_to_answer(
        world: dict[str, Any]) -> None:
    emu, store, phone = world["emu"], world["store"], world["phone"]
    client = await enrolled_client(store, world["clock"], world["clinician"], CLIENT)
    await phone.checkin()
    await phone.press("No")
    before = await answers(store, client)
    sent = await emu.send_text(CLIENT, "I'd rather just write it")
    reply = await emu.wait_for_message(CLIENT, contains="buttons", after=sent.message_id)
    assert "did not keep" in reply.text
    assert await answers(store, client) == before
