"""Signals about reachability: a client who blocked the bot is a clinical signal."""

from __future__ import annotations

import logging

from journal.clock import Clock
from journal.i18n import N_, gettext_for
from storage.uow import UnitOfWork

log = logging.getLogger(__name__)

BLOCKED_NOTICE = N_(
    "Client {code} can no longer be reached: they blocked the bot or left the chat. "
    "Check-ins and messages to them are stopped until they return.")


class ClientUnreachable:
    def __init__(self, *, clock: Clock, staff_language: str = "en") -> None:
        self._clock = clock
        self._language = staff_language

    async def record(self, uow: UnitOfWork, *, chat_id: int) -> None:
        now = self._clock.now()
        client = await uow.clients.by_telegram_id(chat_id)
        if client is None:
            log.error("a staff chat refused a message (403); check the clinician's account")
            return
        if client.unreachable:
            return
        await uow.clients.update(client.id, unreachable=True)
        clinician = await uow.clinicians.get(client.clinician_id)
        await uow.audit(at=now, actor="system", action="client.unreachable", client_id=client.id,
                        detail=f"client {client.code} blocked the bot")
        if clinician is not None:
            await uow.outbox.add(
                chat_id=clinician.telegram_id, kind="notice", method="sendMessage",
                params={"text": gettext_for(self._language, BLOCKED_NOTICE).format(
                    code=client.code)},
                now=now, client_id=client.id, dedupe_key=f"blocked:{client.id}:{now:%Y%m%d}")

    async def returned(self, uow: UnitOfWork, client_id: str) -> None:
        await uow.clients.update(client_id, unreachable=False)
