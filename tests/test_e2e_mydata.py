"""/mydata: a client asks, confirms and gets a PDF and a JSON of their own record (their
words, not another client's); the clinician is told a copy was made and nothing more; one
a day; audited; the documents leave the chat after the detail time. Staff and strangers
get what any unknown command gets."""

from __future__ import annotations

import json
from io import BytesIO
from typing import Any

from pypdf import PdfReader

from journal.clock import FakeClock
from storage.crypto import MasterKeyring
from storage.records import Plan
from tests.conftest import Database
from tests.e2e import eventually
from tests.test_e2e_journal import CLIENT, CLINICIAN, World, running

STRANGER = 8999
MINE = "canary-mine Tuesday pottery class"
THEIRS = "canary-theirs Lisbon ferry"


async def _seed(world: World) -> str:
    clock = world.clock
    async with world.store.transaction() as uow:
        await uow.journal.write(client_id=world.client.id, text=f"{MINE} in my journal",
                                now=clock.now())
        await uow.plans.put(Plan.from_sections(world.client.id, warning_signs=(f"{MINE} sign",),
                                               coping_steps=("Call my sponsor",)), by=None, now=clock.now())
        # A second version, by the clinician, with a reason; a suggestion; a help-now
        # moment; an agreement with an officer the client accepted.
        await uow.plans.put(Plan.from_sections(
            world.client.id, warning_signs=(f"{MINE} sign",),
            coping_steps=("Call my sponsor", f"{MINE} version-two step")),
            by=world.client.clinician_id, now=clock.now(), reason=f"{MINE} reason")
        await uow.plans.suggest(world.client.id, "coping", f"{MINE} suggested walk",
                                now=clock.now())
        moment = await uow.plans.add_moment(world.client.id, now=clock.now())
        found = await uow.plans.moment(moment)
        assert found is not None
        await uow.plans.update_moment(found, told=True, outcome="better")
        officer = await uow.clinicians.add(telegram_id=8301, name="Officer Reyes",
                                           role="officer", now=clock.now())
        agreement = await uow.sharing.propose(
            client_id=world.client.id, officer_id=officer.id, categories=("adherence",),
            alert_level="critical", proposed_by=world.client.clinician_id, now=clock.now())
        await uow.sharing.set_status(agreement.id, "agreed", clock.now(), expect=("proposed",))
        other = await uow.clients.add_invited(
            clinician_id=world.client.clinician_id, language="en", timezone="Europe/Madrid",
            checkin_time="20:00", now=clock.now())
        other = await uow.clients.update(other.id, telegram_id=8102, status="active",
                                         enrolled_at=clock.now())
        await uow.journal.write(client_id=other.id, text=f"{THEIRS} in their journal",
                                now=clock.now())
        await uow.plans.put(Plan.from_sections(other.id, coping_steps=(f"{THEIRS} step",)),
                            by=world.client.clinician_id, now=clock.now(),
                            reason=f"{THEIRS} reason")
        await uow.plans.suggest(other.id, "coping", f"{THEIRS} suggested", now=clock.now())
        await uow.audit(at=clock.now(), actor=f"clinician:{world.client.clinician_id}",
                        action="client.view", client_id=world.client.id, detail="summary")
    return other.code


def _documents(emu: Any) -> list[Any]:
    return [m for m in emu.chat(CLIENT) if m.from_bot and m.kind == "document"]


async def _events(world: World) -> list[Any]:
    async with world.store.unit_of_work() as uow:
        return [e for e in await uow.audit_events(limit=1000) if e.action == "mydata.copy"]


async def test_a_client_gets_their_own_record_once_a_day_and_it_leaves_the_chat(
        emulator: Any, sqlite_database: Database, ring: MasterKeyring,
        clock: FakeClock) -> None:
    async with running(emulator, sqlite_database, ring, clock) as world:
        emu = world.emu
        other_code = await _seed(world)
        hello = await emu.send_text(CLINICIAN, "/help")  # the clinician's chat with the bot
        await emu.wait_for_message(CLINICIAN, after=hello.message_id)
        offer = await world.command("/mydata", "a copy of your own record")
        assert [b for row in offer.buttons for b in row] and "one copy a day" in offer.text
        await emu.press_button(CLIENT, offer.message_id, text="Send my copy")
        await eventually(lambda: len(_documents(emu)) == 2, timeout=60)
        pdf, js = sorted(_documents(emu), key=lambda m: m.file.file_name, reverse=True)
        assert pdf.file.file_name.endswith(".pdf") and js.file.file_name.endswith(".json")
        record = json.loads(js.file.data)
        text = json.dumps(record, ensure_ascii=False)
        assert MINE in text and "Call my sponsor" in text
        assert THEIRS not in text and other_code not in text
        assert record["code"] == world.client.code
        assert any(who == "Dr Lane" and what == "client.view"
                   for _, who, what in record["ledger"])
        # The plan's versions (who as a role word, never a name), suggestions, help-now
        # moments and the sharing agreement are in the copy, and only the client's own.
        newest, first = record["plan_versions"]
        assert (newest["number"], first["number"]) == (2, 1)
        assert newest["by"] == "clinician" and first["by"] == "the program"
        assert newest["reason"] == f"{MINE} reason"
        assert any(f"{MINE} version-two step" in item
                   for _, items in newest["parts"] for item in items)
        assert not any("version-two" in item for _, items in first["parts"] for item in items)
        assert [s[2:] for s in record["suggestions"]] == [
            [f"{MINE} suggested walk", "waiting for your clinician"]]
        assert [m[1:] for m in record["help_moments"]] == [["your clinician was told", "Better"]]
        (shared,) = record["sharing"]
        assert shared["officer"] == "Officer Reyes" and shared["status"] == "agreed"
        assert shared["ended"] is None and "check-ins" in shared["categories"][0]
        pages = "".join(page.extract_text() for page in PdfReader(BytesIO(pdf.file.data)).pages)
        assert "canary-mine" in pages and "canary-theirs" not in pages
        flat = " ".join(pages.split())
        for words in (f"{MINE} suggested walk", f"{MINE} reason", "Officer Reyes · agreed",
                      f"{MINE} version-two step", "your clinician was told · Better"):
            assert words in flat, words
        assert "Save it now" in (world.text_of(offer.message_id) or "")

        # The clinician is told a copy was made, and nothing of what is in it.
        told = await emu.wait_for_message(CLINICIAN, contains="asked for a copy",
                                          after=hello.message_id)
        assert world.client.code in told.text and "canary" not in told.text
        assert len(await _events(world)) == 1

        # One a day: asked again, a kind answer with the time of the next one.
        again = await world.command("/mydata", "less than a day ago")
        assert not again.buttons
        assert len(await _events(world)) == 1

        # The documents leave the chat after the detail time, like other sensitive views.
        clock.advance(minutes=11)
        await eventually(lambda: not _documents(emu), timeout=60)
        assert {pdf.message_id, js.message_id} <= {m.message_id for m in emu.deleted(CLIENT)}

        # A day later the client may have another.
        clock.advance(hours=24)
        offer = await world.command("/mydata", "a copy of your own record")
        await emu.press_button(CLIENT, offer.message_id, text="Cancel")
        await eventually(lambda: world.text_of(offer.message_id) == "Nothing was sent.")
        assert len(await _events(world)) == 1


async def test_staff_and_strangers_get_what_an_unknown_command_gets(
        emulator: Any, sqlite_database: Database, ring: MasterKeyring,
        clock: FakeClock) -> None:
    async with running(emulator, sqlite_database, ring, clock) as world:
        emu = world.emu
        emu.person(STRANGER, "Stranger", language_code="en")
        for who in (CLINICIAN, STRANGER):
            unknown = await emu.send_text(who, "/nosuchthing")
            first = await emu.wait_for_message(who, after=unknown.message_id)
            asked = await emu.send_text(who, "/mydata")
            second = await emu.wait_for_message(who, after=asked.message_id)
            assert second.text == first.text, who
            assert "copy of your own record" not in second.text
        assert await _events(world) == []
        assert not [m for m in emu.chat(CLINICIAN) if m.kind == "document"]
