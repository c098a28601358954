"""Small builders shared by storage and service tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.engine import Connection

from journal.clock import FakeClock
from storage.db import create_engine
from storage.records import Client, Clinician
from storage.uow import Store


async def make_clinician(store: Store, clock: FakeClock, telegram_id: int = 500,
                         role: str = "clinician", name: str = "Dr Lane") -> Clinician:
    async with store.transaction() as uow:
        return await uow.clinicians.add(telegram_id=telegram_id, name=name, role=role,
                                        now=clock.now())


async def make_client(store: Store, clock: FakeClock, clinician: Clinician,
                      telegram_id: int | None = None) -> Client:
    async with store.transaction() as uow:
        client = await uow.clients.add_invited(clinician_id=clinician.id, language="en",
                                               timezone="Europe/Madrid", checkin_time="20:00",
                                               now=clock.now())
        if telegram_id is not None:
            client = await uow.clients.update(client.id, telegram_id=telegram_id,
                                              status="active", enrolled_at=clock.now())
        return client


T = TypeVar("T")


def read_schema(url: str, read: Callable[[Connection], T]) -> T:
    """Run `read` on a plain connection to the database at `url` (schema inspection)."""
    async def go() -> T:
        engine = create_engine(url)
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(read)
        finally:
            await engine.dispose()

    return asyncio.run(go())
