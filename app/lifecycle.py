"""How a process starts listening for its stop and stops: the signals, a wait that a stop
cuts short, and the one wind-down every long-running process goes through."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Callable, Iterable


def install_signal_handlers(stop: asyncio.Event,
                            reload_keys: Callable[[], object] | None = None) -> None:
    """SIGTERM/SIGINT stop cleanly; SIGHUP reads the master key file again."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if reload_keys is not None:
        loop.add_signal_handler(signal.SIGHUP, reload_keys)


async def sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    """Wait `seconds`, or less when the process is told to stop."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


async def wind_down(stop: asyncio.Event, tasks: Iterable[asyncio.Task[None]], *,
                    seconds: float = 10) -> None:
    """The stop: every task is told (`stop`), given `seconds` to finish what it holds, then
    cancelled; the chart and report worker process, if one was started, is stopped."""
    stop.set()
    for task in tasks:
        try:
            await asyncio.wait_for(task, timeout=seconds)
        except (TimeoutError, asyncio.CancelledError):
            task.cancel()
    renderer = sys.modules.get("journal.review.renderer")
    if renderer is not None:  # a chart or a report was drawn: stop its worker process
        renderer.RENDERER.close()
