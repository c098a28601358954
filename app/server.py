"""One aiohttp server for whatever the process serves: the webhook, the workspace, and
health and metrics. Each part is a route adder, a function given the
application before it starts, so a new part is one more function in the list."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

from aiohttp import web

log = logging.getLogger(__name__)

RouteAdder = Callable[[web.Application], None]


def build_server(adders: Sequence[RouteAdder]) -> web.Application:
    app = web.Application(client_max_size=64 * 1024)  # forms and initData are small
    for add in adders:
        add(app)
    return app


async def serve(app: web.Application, host: str, port: int, stop: asyncio.Event, *,
                started: asyncio.Event | None = None, what: str = "web server") -> None:
    """Serve until `stop` is set, then let requests in flight finish."""
    runner = web.AppRunner(app, shutdown_timeout=30, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        log.info("%s listening on %s:%s", what, host, port)
        if started is not None:
            started.set()
        await stop.wait()
    finally:
        await runner.cleanup()
