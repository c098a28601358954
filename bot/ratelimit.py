"""Telegram's flood limits for every send of the bot: 30 messages/s overall, one new message
per chat per second, replies to the person being answered before bulk sends.

The overall limit is the bot's, not the process's: with several instances on one
PostgreSQL database each one paces itself to its share of it (`set_instances`, fed from
storage.instances, which counts the instances alive right now). The pacing itself is
aiolimiter's leaky bucket; what is kept here is what aiolimiter does not know: the chat
interval, replies first, and a pause after a 429."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiolimiter import AsyncLimiter

from storage.instances import Instances

log = logging.getLogger(__name__)

# Telegram counts a request when it arrives, and between the limiter letting a send go and
# its arrival lie the event loop (a press being handled) and the network. Sends at least
# 1/r apart whose arrival varies by up to J seconds put at most r * (1 + J) + 1 into any
# second of arrivals, so 30 a second holds while J < 30 / r - 1: about 50 ms at 95% of the
# limit (28.5/s). With k instances each at r / k it is at most r * (1 + J) + k, which for
# two or three instances at 28.5/s comes to the same 30 under the same 50 ms. An instance
# alone is no steadier than several (the same loop, the same network), so it gets no more:
# 97% would leave 30 ms of jitter, 99% 10 ms, less than one slow press handler holds the loop
# on a busy machine. (At 95% the fan-out bench's busiest second of arrivals held 30 already;
# the emulator's 50 ms tolerance is its allowance for timer jitter, not a margin to use.)
# (A joining instance waits until the others have counted it: keep_share.)
HEADROOM = 0.95
# A waiter wakes a little after its slot (the loop was busy, a timer fired late), and a
# bucket that counts the next slot from that late wake loses the difference for good: at
# 28.5/s, one waiter after another got 26.8/s on a loaded machine. So the bucket has room
# for a send and 5 ms more: a send may follow a late one up to 5 ms early, which keeps
# 28.5/s on average and never more, and spends 5 ms of the jitter above (45 ms are left).
LATE_WAKE = 0.005


class RateLimiter:
    """`per_second` calls overall for the bot (this instance paces at its share of them),
    one new message per chat per `chat_interval` seconds (an edit in place counts only
    against the overall limit).

    The bucket holds one unit, a send at the bot's whole rate (and LATE_WAKE's few ms); an
    instance with a share of 1/k takes k units per send, so its rate is the bot's divided
    by k without a burst, and the share changes between one send and the next without
    swapping limiters under waiters (see `set_instances` for the shares).

    Replies go first: a bulk send (the outbox's prompts and reminders) takes a unit only
    while no reply waits for one. A reply waiting only for its own chat's interval holds
    nobody up. The chat interval is counted from Telegram's answer (`done`), so the next
    message to that chat starts a full interval after the last one arrived, however slow
    the network was."""

    def __init__(self, per_second: float = 30, chat_interval: float = 1.0) -> None:
        self.per_second = per_second
        self._rate = per_second * HEADROOM
        # Room for one send and the lateness forgiven (LATE_WAKE), filled at the rate.
        room = 1 + LATE_WAKE * self._rate
        self._bucket = AsyncLimiter(room, room / self._rate)
        self._chat_interval = chat_interval
        self._instances = 1
        self._units = 1
        self._last_by_chat: dict[int, float] = {}
        self._paused_until = 0.0
        self._replies_waiting = 0
        self._no_replies_waiting = asyncio.Event()
        self._no_replies_waiting.set()
        # Bulk sends ask the bucket one at a time, in the order they came; the one asking
        # steps aside when a reply starts waiting (see _bulk_units).
        self._bulk_turn = asyncio.Lock()
        self._bulk_ask: asyncio.Future[None] | None = None

    @property
    def instances(self) -> int:
        return self._instances

    @property
    def chat_interval(self) -> float:
        return self._chat_interval

    @property
    def units(self) -> int:
        return self._units

    def set_instances(self, count: int) -> None:
        """How many instances share the bot's limit now (this one included): each sends at
        an equal share of it, `count` units a send. Equal, because nginx spreads the
        updates, and with them the replies, evenly; the one delivering the outbox sends its
        bulk messages within its share, behind its replies."""
        self._instances = max(1, count)
        self._units = self._instances

    def pause(self, seconds: float) -> None:
        """Send nothing for `seconds` (a 429's retry_after, or a new instance settling)."""
        loop = asyncio.get_running_loop()
        self._paused_until = max(self._paused_until, loop.time() + seconds)

    def chat_ready_in(self, chat_id: int) -> float:
        last = self._last_by_chat.get(chat_id)
        if last is None:
            return 0.0
        return max(0.0, last + self._chat_interval - asyncio.get_running_loop().time())

    async def acquire(self, chat_id: int, *, per_chat: bool = True, reply: bool = False
                      ) -> float:
        """Wait until a send to `chat_id` keeps the limits (`per_chat`: a new message, which
        also keeps the chat's interval); `reply`: it answers an update and goes before bulk
        sends. Returns the stamp to hand to `done()` once Telegram answered."""
        loop = asyncio.get_running_loop()
        while True:
            wait = max(self.chat_ready_in(chat_id) if per_chat else 0.0,
                       self._paused_until - loop.time())
            if wait > 0:
                await asyncio.sleep(wait + 0.002)
                continue
            await (self._reply_units() if reply else self._bulk_units())
            # Another send to this chat may have gone while this one waited for its units
            # (or a 429 paused everything): then the wait begins again.
            if (not per_chat or self.chat_ready_in(chat_id) <= 0) and \
                    self._paused_until <= loop.time():
                break
        # No await since the last unit: the chat's slot is taken atomically on the loop.
        stamp = loop.time()
        if per_chat:
            self._last_by_chat[chat_id] = stamp
            if len(self._last_by_chat) > 10_000:  # forget chats idle for long
                cutoff = stamp - 60
                self._last_by_chat = {c: t for c, t in self._last_by_chat.items() if t > cutoff}
        return stamp

    async def _reply_units(self) -> None:
        self._replies_waiting += 1
        self._no_replies_waiting.clear()
        if self._bulk_ask is not None:
            self._bulk_ask.cancel()  # the bulk send waiting in the bucket lets this go first
        try:
            for _ in range(self._units):
                await self._bucket.acquire()
        finally:
            self._replies_waiting -= 1
            if not self._replies_waiting:
                self._no_replies_waiting.set()

    async def _bulk_units(self) -> None:
        """A bulk send's units, each taken only while no reply is waiting for one. One bulk
        send at a time waits in the bucket, woken the moment its unit is there (a unit
        found late is a unit lost, see LATE_WAKE); a reply that starts waiting meanwhile
        cancels that wait and goes first, and the bulk send asks again after the replies."""
        async with self._bulk_turn:
            taken = 0
            while taken < self._units:
                if self._replies_waiting:
                    await self._no_replies_waiting.wait()
                    continue
                ask = self._bulk_ask = asyncio.ensure_future(self._bucket.acquire())
                try:
                    await asyncio.wait((ask,))
                finally:
                    self._bulk_ask = None
                    ask.cancel()  # only while still waiting: a unit taken stays taken
                if not ask.cancelled():
                    ask.result()
                    taken += 1

    def done(self, chat_id: int, stamp: float) -> None:
        """The send that `acquire` returned `stamp` for has been answered: the chat's
        interval counts from now (an edit, which took no chat slot, changes nothing)."""
        if self._last_by_chat.get(chat_id) == stamp:
            self._last_by_chat[chat_id] = asyncio.get_running_loop().time()


async def keep_share(limiter: RateLimiter, instances: Instances, stop: asyncio.Event, *,
                     interval: float = 1.0) -> None:
    """Register this instance, then set the limiter's share from the live count every
    `interval`. A new instance sends nothing until the others had two looks in which to
    count it, so the bot's total stays under the limit while the count changes; one that
    died is counted out at the next look (the survivors speed up only then)."""
    settled = False
    while not stop.is_set():
        try:
            if not settled:
                await instances.register()
                limiter.pause(2 * interval + 0.2)
                settled = True
            count = await instances.live()
            units = limiter.units
            limiter.set_instances(count)
            if limiter.units != units:
                log.info("%s instance(s) share the bot's rate limit; this one sends at 1/%s "
                         "of it", count, limiter.units)
        except Exception as exc:  # the database may be down: keep the last count
            log.warning("could not count the live instances: %s", type(exc).__name__)
            settled = False  # its connection is gone: register (and settle) again
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)
