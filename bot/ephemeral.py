"""Messages that remove themselves: detail views and journal readings are deleted later."""

from __future__ import annotations

from datetime import timedelta

from bot.outgoing import SentHook
from journal.clock import Clock
from journal.deliveries import DELETE_WINDOW
from storage.uow import Store


def delete_later(store: Store, clock: Clock, chat_id: int, after: timedelta) -> SentHook:
    """A hook for Outgoing.send: once the message exists, queue its deletion in the outbox,
    so it happens even if the bot restarts in between."""

    async def schedule(message_id: int) -> None:
        now = clock.now()
        async with store.transaction() as uow:
            await uow.outbox.add(chat_id=chat_id, kind="delete", method="deleteMessage",
                                 params={"message_id": message_id}, now=now, due=now + after,
                                 useful_until=now + DELETE_WINDOW)

    return schedule
