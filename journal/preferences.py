"""What a client can change or look up about their own participation: language, check-in
time, their Relapse Prevention plan, and whom to call for help; and a staff member's own
language."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from journal.checkin.schedule import OutsideWindow, within_window
from journal.clock import Clock
from journal.enrolment import parse_time
from journal.errors import InvalidInput, NotAllowed
from journal.i18n import LANGUAGES
from storage.records import Client, Clinician, Plan
from storage.uow import UnitOfWork

TIME_STATE = "prefs:time"
TIME_WINDOW = timedelta(minutes=30)  # how long a typed text is taken as the new time


@dataclass(frozen=True, slots=True)
class Support:
    """The program's crisis resources and the client's own clinician."""

    crisis_phone: str
    crisis_text: str
    office_phone: str
    clinician_name: str
    clinician_contact: str


class PreferencesService:
    """Keyword-only: the crisis resources are program settings, passed in once."""

    def __init__(self, *, clock: Clock, crisis_phone: str, crisis_text: str,
                 office_phone: str) -> None:
        self._clock = clock
        self._crisis_phone = crisis_phone
        self._crisis_text = crisis_text
        self._office_phone = office_phone

    async def change_language(self, uow: UnitOfWork, client: Client, language: str) -> Client:
        if language not in LANGUAGES:
            raise InvalidInput("unknown language")
        if language == client.language:
            return client
        return await uow.clients.update(client.id, language=language)

    async def change_staff_language(self, uow: UnitOfWork, clinician: Clinician,
                                    language: str) -> Clinician:
        """A staff member's own language: their alerts, e-mails, summaries and reports."""
        if language not in LANGUAGES:
            raise InvalidInput("unknown language")
        if language == clinician.language:
            return clinician
        updated = await uow.clinicians.set_locale(clinician.id, language=language)
        assert updated is not None
        await uow.audit(at=self._clock.now(), actor=f"clinician:{clinician.id}",
                        action="clinician.language", detail=f"language {language}")
        return updated

    async def ask_time(self, uow: UnitOfWork, client: Client) -> None:
        """Wait for a typed time. Whatever the client was doing (an open journal entry) is
        kept aside and given back once the time is chosen or kept."""
        tid = _telegram_id(client)
        conversation = await uow.conversations.get(tid)
        data: dict[str, Any] = {}
        if conversation is not None and conversation.state == TIME_STATE:
            data = dict(conversation.data)
        elif conversation is not None:
            data = {"previous": {"state": conversation.state, "data": conversation.data}}
        await uow.conversations.set(tid, TIME_STATE, data, self._clock.now())

    async def waiting_for_time(self, uow: UnitOfWork, telegram_id: int) -> bool:
        """Only for a while: a text long after /time was someone's words, not a time."""
        conversation = await uow.conversations.get(telegram_id)
        return (conversation is not None and conversation.state == TIME_STATE
                and self._clock.now() - conversation.updated_at <= TIME_WINDOW)

    async def choose_time(self, uow: UnitOfWork, client: Client, text: str) -> Client:
        """A time from a button or typed. An invalid one changes nothing and says so."""
        checkin_time = parse_time(text)
        if not within_window(checkin_time, client.window_start, client.window_end):
            # Nothing changes and /time keeps waiting, so the client can send another time.
            raise OutsideWindow(client.window_start or "", client.window_end or "")
        updated = (client if checkin_time == client.checkin_time
                   else await uow.clients.update(client.id, checkin_time=checkin_time))
        await self._give_back(uow, client)
        return updated

    async def keep_time(self, uow: UnitOfWork, client: Client) -> Client:
        await self._give_back(uow, client)
        return client

    async def plan(self, uow: UnitOfWork, client: Client) -> Plan:
        """The client's own plan; reading one's own is not a staff view, so no audit."""
        return await uow.plans.get(client.id)

    async def support(self, uow: UnitOfWork, client: Client) -> Support:
        clinician = await uow.clinicians.get(client.clinician_id)
        if clinician is not None and not clinician.active:
            clinician = None  # someone who left the program is no contact
        return Support(
            crisis_phone=self._crisis_phone, crisis_text=self._crisis_text,
            office_phone=self._office_phone,
            clinician_name=clinician.name if clinician else "",
            clinician_contact=clinician.contact if clinician else "")

    async def _give_back(self, uow: UnitOfWork, client: Client) -> None:
        tid = _telegram_id(client)
        conversation = await uow.conversations.get(tid)
        if conversation is None or conversation.state != TIME_STATE:
            return
        previous = conversation.data.get("previous")
        if previous:
            await uow.conversations.set(tid, previous["state"], previous["data"],
                                        self._clock.now())
        else:
            await uow.conversations.clear(tid)


def _telegram_id(client: Client) -> int:
    if client.telegram_id is None:
        raise NotAllowed("the client has no Telegram account")
    return client.telegram_id
