"""A recorded no-show reaches the supervising officer through the emulator only when the
client's agreement includes attendance: after the clinician's alert, in the officer's
language, with the date and the kind of appointment and never the place or the reason.
Nothing for an agreement without attendance, nor after the client withdrew."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy import select

from journal.administration import AdminService
from journal.i18n import gettext_for
from journal.progress import ProgressService
from journal.sharing import SharingService
from storage.models import OutboxRow
from tests.e2e import eventually
from tests.test_e2e_appointments import CLIENT, CLINICIAN, at, say, world  # noqa: F401

OFFICER = 7503
PLACE = "Calle Mayor 5"


async def team_messages(store: Any) -> int:
    async with store.unit_of_work() as uow:
        index = await uow.vault.telegram_index(OFFICER)
        return len(list(await uow.session.scalars(
            select(OutboxRow.id).where(OutboxRow.chat_index == index,
                                       OutboxRow.kind == "team"))))


@pytest.mark.parametrize("case,language", [("attendance", "en"), ("attendance", "es"),
                                           ("without", "en"), ("withdrawn", "en")])
async def test_a_no_show_reaches_the_officer_only_with_an_attendance_agreement(
        world: dict[str, Any], case: str, language: str) -> None:  # noqa: F811
    emu, clock, store, client = world["emu"], world["clock"], world["store"], world["client"]
    code = client.code
    await AdminService(store=store, clock=clock).add_clinician(
        telegram_id=OFFICER, name="Officer Reyes", role="officer", language=language)
    emu.person(OFFICER, "Reyes")
    await emu.send_text(OFFICER, "/start")
    sharing = SharingService(clock=clock)
    categories = ["status"] if case == "without" else ["status", "attendance"]
    async with store.transaction() as uow:
        agreement, _, _ = await sharing.propose(uow, code=code, officer_telegram_id=OFFICER,
                                                categories=categories)
        await sharing.answer(uow, client, agreement.id, agree=True)
        if case == "withdrawn":
            await sharing.withdraw(uow, client, agreement.id)
    await eventually(lambda: any(code in m.text for m in emu.chat(OFFICER) if m.from_bot))
    before = await team_messages(store)

    await say(emu, CLINICIAN, f"/appointment {code} individual 2026-03-30 10:00 {PLACE}",
              "Appointment recorded")
    clock.set(at("2026-03-30 09:00"))  # an hour after the start in Madrid
    await say(emu, CLINICIAN, f"/attendance {code} no_show", "Recorded")
    await emu.wait_for_message(CLINICIAN, contains="alert for client")

    def t(text: str) -> str:
        return gettext_for(language, text)

    told = t("Client {code} did not come to an appointment ({kind}) on {date}.").format(
        code=code, kind=t("Individual session"), date="2026-03-30")
    if case == "attendance":
        message = await emu.wait_for_message(OFFICER, contains=told)
        assert message.message_id and message.text == told
        assert await team_messages(store) == before + 1
        # Once, and never the place.
        everything = [m.text for m in emu.chat(OFFICER) if m.from_bot]
        assert not any(PLACE in text for text in everything)
        assert sum(told == text for text in everything) == 1
        # The month's progress report counts it, with attendance only.
        progress = ProgressService(clock=clock, sharing=sharing)
        async with store.unit_of_work() as uow:
            shared = await progress.content(uow, client, date(2026, 3, 1), attendance=True)
            plain = await progress.content(uow, client, date(2026, 3, 1))
        assert (shared.kept, shared.missed) == (0, 1)
        assert (plain.kept, plain.missed) == (None, None)
        assert t("Appointments: {kept} kept, {missed} missed").format(kept=0, missed=1) \
            in progress.lines(shared, language)
        assert len(progress.lines(plain, language)) == len(progress.lines(shared, language)) - 1
    else:
        await emu.wait_for_message(CLINICIAN, contains="Recorded")
        assert await team_messages(store) == before
        assert not any("appointment" in m.text or "cita" in m.text
                       for m in emu.chat(OFFICER) if m.from_bot)
