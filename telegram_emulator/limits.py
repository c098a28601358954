"""Telegram's flood limits as the emulator enforces them: 30 messages/s overall, 1/s per chat."""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable

__all__ = ["FloodControl"]


class FloodControl:
    """Sliding-window accounting of what a bot sends; says how long to wait when over a limit.

    Telegram itself tolerates short bursts; the emulator is strict on purpose so that a bot
    whose own limiter is wrong is caught. `tolerance` absorbs timer jitter of a limiter that
    paces exactly at the limit.
    """

    def __init__(
        self,
        *,
        global_per_second: int = 30,
        chat_interval: float = 1.0,
        tolerance: float = 0.05,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.global_per_second = global_per_second
        self.chat_interval = chat_interval
        self.tolerance = tolerance
        self._clock = clock
        self._recent: deque[float] = deque()
        self._last_in_chat: dict[int, float] = {}
        # What each refusal was for ("overall" or "chat"), so a story can say which limit
        # the bot broke.
        self.refused: dict[str, int] = {"overall": 0, "chat": 0}

    def acquire(self, chat_id: int | None, *, per_chat: bool) -> int | None:
        """Count one message; return None when allowed, else Telegram's retry_after seconds."""
        now = self._clock()
        window = 1.0 - self.tolerance
        while self._recent and now - self._recent[0] >= window:
            self._recent.popleft()
        wait = 0.0
        if len(self._recent) >= self.global_per_second:
            wait = window - (now - self._recent[0])
            if wait > 0:
                self.refused["overall"] += 1
        if per_chat and chat_id is not None:
            last = self._last_in_chat.get(chat_id)
            if last is not None and now - last < self.chat_interval - self.tolerance:
                wait = max(wait, self.chat_interval - (now - last))
                self.refused["chat"] += 1
        if wait > 0:
            # Telegram always answers a whole number of seconds, at least one.
            return max(1, math.ceil(wait))
        self._recent.append(now)
        if per_chat and chat_id is not None:
            self._last_in_chat[chat_id] = now
        return None
