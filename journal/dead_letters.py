"""Dead letters: messages that could not be delivered are shown to supervisors, never dropped."""

from __future__ import annotations

from journal.clock import Clock
from journal.i18n import N_, gettext_for
from journal.staff import StaffDefaults
from storage.records import OutboxCounts, OutboxMessage
from storage.uow import UnitOfWork

DEAD_NOTICE = N_(
    "A message could not be delivered and needs attention. Type: {kind}. Client: {client}. "
    "Last error: {error}. See /deliveries.")
NOTICE_KIND = "dead-letter"


class DeliveryReport:
    def __init__(self, *, clock: Clock, staff_language: str = "en") -> None:
        self._clock = clock
        self._staff = StaffDefaults(language=staff_language)

    async def dead_letter(self, uow: UnitOfWork, message: OutboxMessage, error: str) -> None:
        """Tell every supervisor about a message that went to the dead-letter state.
        A notice about a notice is never sent, so a dead Telegram cannot start a loop."""
        if message.kind == NOTICE_KIND:
            return
        client = await uow.clients.get(message.client_id) if message.client_id else None
        for supervisor in await uow.clinicians.supervisors():
            text = gettext_for(self._staff.of(supervisor).language, DEAD_NOTICE).format(
                kind=message.kind, error=error,
                client=client.code if client is not None else "-")
            await uow.outbox.add(chat_id=supervisor.telegram_id, kind=NOTICE_KIND,
                                 method="sendMessage", params={"text": text},
                                 now=self._clock.now(), client_id=message.client_id,
                                 dedupe_key=f"dead:{message.id}:{supervisor.id}")

    async def summary(self, uow: UnitOfWork
                      ) -> tuple[OutboxCounts, list[tuple[OutboxMessage, str]]]:
        """Counts, and the latest dead letters with whom they concern (a client code or
        "staff"; Telegram ids stay out of the chat)."""
        dead = []
        for message in await uow.outbox.dead(self._clock.now(), limit=10):
            client = await uow.clients.get(message.client_id) if message.client_id else None
            dead.append((message, client.code if client else "staff"))
        return await uow.outbox.counts(), dead
