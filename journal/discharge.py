"""Discharge and retention: monitoring stops, and after the retention period the client's
data key is destroyed, which makes every record of theirs unreadable (crypto-shredding)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Final

from journal.clock import Clock
from journal.errors import NotAllowed
from journal.i18n import N_, gettext_for
from journal.people import actor_of, visible_client
from storage.records import IN_PROGRAM, Client, ClientStatus, Clinician
from storage.uow import UnitOfWork

if TYPE_CHECKING:
    from journal.sharing import SharingService

CLIENT_DISCHARGE_NOTICE: Final = N_(
    "Your daily check-ins here have ended.\nAs agreed with your program: thank you for the "
    "work you have put in. For support, contact your clinician or the program office.")


class NotMonitored(NotAllowed):
    """The client is discharged already."""

    key = "client.not_monitored"


@dataclass(frozen=True)
class Discharge:
    client: Client
    erase_after: datetime
    open_alerts: int = 0
    """Alerts of the client not yet acknowledged. Discharge leaves them open: each still
    escalates until a person acknowledges it, so the question says how many there are."""


class DischargeService:
    def __init__(self, *, clock: Clock, retention: timedelta,
                 team: SharingService | None = None) -> None:
        self._team = team  # officers who agreed to hear of status changes
        self._clock = clock
        self._retention = retention

    async def preview(self, uow: UnitOfWork, clinician: Clinician, code: str) -> Discharge:
        """What a discharge now would mean, for the confirmation question; changes nothing."""
        client = await self._monitored(uow, clinician, code)
        counts = await uow.alerts.open_counts([client.id])
        return Discharge(client, self._clock.now() + self._retention,
                         open_alerts=sum(counts.get(client.id, {}).values()))

    async def discharge(self, uow: UnitOfWork, clinician: Clinician, code: str) -> Discharge:
        """Stop monitoring now and start the retention period.

        The Telegram account is forgotten at once (nothing is sent to it any more, and the
        person may enrol again one day with a new invite); the records stay readable to the
        clinician until the retention period ends."""
        client = await self._monitored(uow, clinician, code)
        now = self._clock.now()
        erase_after = now + self._retention
        chat_id = client.telegram_id
        client = await uow.clients.update(
            client.id, status=ClientStatus.DISCHARGED, discharged_at=now, erase_after=erase_after,
            telegram_id=None, pause_reason=None)
        if chat_id is not None:
            await uow.outbox.cancel_pending(chat_id=chat_id, kind="prompt")
            await uow.conversations.clear(chat_id)
            await uow.outbox.add(chat_id=chat_id, kind="notice", method="sendMessage",
                                 params={"text": gettext_for(client.language,
                                                             CLIENT_DISCHARGE_NOTICE)},
                                 now=now, client_id=client.id)
            # The chat's own menu (a language chosen here) goes: it sees the default's.
            await uow.outbox.add(chat_id=chat_id, kind="menu", method="setMyCommands",
                                 params={"menu": None}, now=now, client_id=client.id)
        await uow.audit(at=now, actor=actor_of(clinician), action="client.discharge",
                        client_id=client.id,
                        detail=f"client {client.code} discharged; erase after "
                               f"{erase_after:%Y-%m-%d}")
        if self._team is not None:
            await self._team.status_changed(uow, client, "discharged")
        return Discharge(client, erase_after)

    async def erase_due(self, uow: UnitOfWork) -> int:
        """Destroy the data key of every discharged client whose retention period ended.

        Runs inside the caller's transaction (a scheduler tick), which commits it."""
        now = self._clock.now()
        erased = 0
        for client in await uow.clients.due_for_erasure(now):
            destroyed = await uow.clients.erase(client.id, now)
            await uow.audit(at=now, actor="system", action="client.erase", client_id=client.id,
                            detail=f"client {client.code}: retention period ended; data key "
                                   + ("destroyed" if destroyed else "was already destroyed"))
            erased += 1
        return erased

    async def retention_step(self, uow: UnitOfWork) -> None:
        """erase_due as a scheduler step (Callable[[UnitOfWork], Awaitable[None]])."""
        await self.erase_due(uow)

    async def _monitored(self, uow: UnitOfWork, clinician: Clinician, code: str) -> Client:
        client = await visible_client(uow, clinician, code)
        if client.status not in IN_PROGRAM:
            raise NotMonitored(f"client {client.code} is {client.status}")
        return client


__all__ = ["Discharge", "DischargeService", "NotMonitored"]
