"""One aiohttp server for whatever the process serves: the webhook, the workspace, and
health and metrics. Each part is a route adder, a function given the
application before it starts, so a new part is one more function in the list."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any, Final, cast

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

log = logging.getLogger(__name__)
server_log = logging.getLogger("aiohttp.server")

RouteAdder = Callable[[web.Application], None]

# The request line and each header line aiohttp's parser reads. Above aiohttp's own
# defaults (8190 bytes), so a long address or a heavy cookie still reaches the workspace's
# guard, which answers 414 or 431 with a kind page (web/render.py); beyond these
# the parser itself answers a plain 400.
MAX_LINE: Final = 32 * 1024


class BadRequestLog(logging.LoggerAdapter[logging.Logger]):
    """aiohttp's server log, except that a request it could not read (a malformed line or
    header, one too long, a body that does not decompress, which aiohttp raises again as
    it drains the body after our 400) is the sender's doing: one INFO line naming the
    error's type (never its text, which quotes what was sent), not an ERROR with a trace."""

    def exception(self, msg: object, *args: object, exc_info: Any = True,
                  **kwargs: Any) -> None:
        if isinstance(exc_info, HttpProcessingError | web.RequestPayloadError):
            self.logger.info("refused a request that is not valid HTTP (%s)",
                             type(exc_info).__name__)
            return
        self.logger.exception(msg, *args, exc_info=exc_info, **kwargs)


def build_server(adders: Sequence[RouteAdder]) -> web.Application:
    app = web.Application(client_max_size=64 * 1024)  # forms and initData are small
    for add in adders:
        add(app)
    return app


def make_runner(app: web.Application) -> web.AppRunner:
    """The runner every server of the process uses: no access log (a sign-in link carries
    its token in the path), the parser's limits and its log as above."""
    return web.AppRunner(app, shutdown_timeout=30, access_log=None,
                         logger=cast("logging.Logger", BadRequestLog(server_log, {})),
                         max_line_size=MAX_LINE, max_field_size=MAX_LINE)


async def serve(app: web.Application, host: str, port: int, stop: asyncio.Event, *,
                started: asyncio.Event | None = None, what: str = "web server") -> None:
    """Serve until `stop` is set, then let requests in flight finish."""
    runner = make_runner(app)
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
