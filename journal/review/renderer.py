"""Charts and PDFs drawn in a worker process of their own, so the bot never holds
matplotlib and fpdf2 (a year's report raised the bot's resident memory by about 100 MiB,
past its 250 MB goal, and that memory was never given back).

One worker, started on the first render and stopped once it has been idle for
`IDLE_SECONDS`: renders close together reuse the warm worker, and an idle bot holds
nothing of it. The work sent is plain values (ReportData, chart points); nothing is
logged or written to disk on the way."""

from __future__ import annotations

import asyncio
import functools
import gc
import multiprocessing
import signal
import sys
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

T = TypeVar("T")
IDLE_SECONDS = 300.0


def _ignore_interrupts() -> None:
    """In the worker: Ctrl-C reaches every process of the terminal's group, and the worker
    would die with a trace of its own; the process that started it decides when it ends."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


_modules_frozen = 0


def _call(func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """In the worker: func(*args, **kwargs). After a call that imported modules, what it
    left alive (those modules, their caches) is frozen out of the cyclic garbage
    collector's sight: otherwise each full collection during a render walks all of
    matplotlib and fpdf2 again, a few tenths of a second a report. What a render leaves
    behind is still collected as before."""
    global _modules_frozen
    result = func(*args, **kwargs)
    if len(sys.modules) != _modules_frozen:
        gc.collect()
        gc.freeze()
        _modules_frozen = len(sys.modules)
    return result


class Renderer:
    def __init__(self, idle_seconds: float = IDLE_SECONDS) -> None:
        self._idle = idle_seconds
        self._pool: ProcessPoolExecutor | None = None
        self._busy = 0
        self._timer: asyncio.TimerHandle | None = None

    async def run(self, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """func(*args, **kwargs) in the worker (func and its arguments must pickle)."""
        loop = asyncio.get_running_loop()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._pool is None:
            # spawn: a fork of the bot would copy its event loop, threads and open sockets.
            self._pool = ProcessPoolExecutor(
                max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                initializer=_ignore_interrupts)
        pool = self._pool
        self._busy += 1
        try:
            return await loop.run_in_executor(
                pool, functools.partial(_call, func, *args, **kwargs))
        except BrokenProcessPool:  # the worker died (killed, out of memory): a new one next
            if self._pool is pool:
                self._pool = None
            raise
        finally:
            self._busy -= 1
            if self._busy == 0 and self._pool is not None:
                self._timer = loop.call_later(self._idle, self.close)

    def close(self) -> None:
        """Stop the worker (it finishes what it draws); the next render starts another."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)


RENDERER = Renderer()
