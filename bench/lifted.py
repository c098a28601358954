"""`steadfast run` with Telegram's rate limit lifted: what the bot itself can do.

Run by bench/checkin.py as its "no-limit" bot (`python bench/lifted.py run`), beside
the real one. The shipped bot paces every send, edits of a pressed message included, at 95%
of Telegram's 30 messages a second, so at 30 presses/s offered its edits queue behind the
limit and its saturation is the limit's, not its own. With the limit lifted (the emulator
of that bench enforces none) the same process shows its own latency and throughput, the
figures to hold against the bare bot and the storage floor. Never for a real bot: Telegram
answers 429 and, repeated, blocks the bot for a while."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.ratelimit import RateLimiter  # noqa: E402

_limited = RateLimiter.__init__


def _lifted(self: RateLimiter, per_second: float = 30, chat_interval: float = 1.0) -> None:
    # Far above anything one process can send; the chat interval (new messages only) stays.
    _limited(self, per_second=100_000, chat_interval=chat_interval)


RateLimiter.__init__ = _lifted  # type: ignore[method-assign]

from cli import main  # noqa: E402

if __name__ == "__main__":
    main()
