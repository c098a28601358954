"""Role filters: each router serves one kind of person."""

from __future__ import annotations

from typing import Any

from aiogram.filters import Filter
from aiogram.types import TelegramObject

from journal.people import Person


class Role(Filter):
    def __init__(self, *kinds: str) -> None:
        self.kinds = kinds

    async def __call__(self, event: TelegramObject, person: Person | None = None,
                       **_: Any) -> bool:
        return person is not None and person.kind in self.kinds
