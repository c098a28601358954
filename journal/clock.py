"""Time is injected: the system clock in production, a fake clock in tests."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Protocol


def backoff(attempts: int, *, base: float, cap: float) -> float:
    """Seconds to wait before try number `attempts` + 1: doubling from `base`, never above
    `cap`, with jitter (a random half to all of it) so retries after an outage spread out."""
    ceiling = min(cap, base * (2 ** min(attempts, 32)))
    return random.uniform(ceiling / 2, ceiling)


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("FakeClock needs an aware datetime")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta | None = None, **kwargs: float) -> datetime:
        self._now += delta if delta is not None else timedelta(**kwargs)
        return self._now

    def set(self, moment: datetime) -> None:
        self._now = moment.astimezone(UTC)
