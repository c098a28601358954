"""Messages that remove themselves: detail views, reports, plans and journal readings.

The one place a timed deletion is queued. It goes through the outbox, so it happens even
if the bot restarts in between."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Final

from bot.outgoing import SentHook
from journal.clock import Clock
from storage.uow import Store

log = logging.getLogger(__name__)

# Telegram lets a bot delete a message in a private chat for 48 hours after it was sent;
# a timed delete is retried that long and then expires.
DELETE_WINDOW: Final = timedelta(hours=48)


class Ephemeral:
    """Hooks for `Outgoing.send(on_sent=...)` that delete a sent message `after` a while."""

    def __init__(self, store: Store, clock: Clock, after: timedelta) -> None:
        self.store, self.clock, self.after = store, clock, after

    @property
    def minutes(self) -> int:
        """The time-to-live as the message tells it."""
        return max(1, int(self.after.total_seconds() // 60))

    def hook(self, chat_id: int, *, client_id: str | None = None) -> SentHook:
        """Once the message exists, queue its deletion; `client_id` ties the row to the
        client whose data it shows."""

        async def schedule(message_id: int) -> None:
            now = self.clock.now()
            try:
                async with self.store.transaction() as uow:
                    await uow.outbox.add(chat_id=chat_id, kind="delete",
                                         method="deleteMessage",
                                         params={"message_id": message_id}, now=now,
                                         due=now + self.after, client_id=client_id,
                                         useful_until=now + DELETE_WINDOW)
            except Exception as exc:  # the reply is out; the others still go
                log.error("could not schedule the removal of a message: %s",
                          type(exc).__name__)

        return schedule
