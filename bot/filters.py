"""Role filters: each router serves one kind of person."""

from __future__ import annotations

from typing import Any

from aiogram.filters import Filter
from aiogram.types import TelegramObject

from journal.people import Person
from storage.records import Client


class Role(Filter):
    def __init__(self, *kinds: str) -> None:
        self.kinds = kinds

    async def __call__(self, event: TelegramObject, person: Person | None = None,
                       **_: Any) -> bool:
        return person is not None and person.kind in self.kinds


def client_of(person: Person) -> Client:
    """The client a Role("client") router serves (its filter guarantees there is one)."""
    assert person.client is not None
    return person.client


def chat_of(client: Client) -> int:
    """A client's private chat: their Telegram id."""
    assert client.telegram_id is not None
    return client.telegram_id
