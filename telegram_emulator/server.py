"""Faithful Telegram Bot API emulator served over HTTP on 127.0.0.1, with controls for tests."""

from __future__ import annotations

import asyncio
import hmac
from types import TracebackType
from typing import Any, Self

import aiohttp
from aiohttp import web

from telegram_emulator.commands import CommandMethods
from telegram_emulator.core import _CANONICAL
from telegram_emulator.methods import BotApiMethods
from telegram_emulator.models import ApiError
from telegram_emulator.params import _MAX_UPLOAD, _Params, _Upload
from telegram_emulator.people import People
from telegram_emulator.webhook import WebhookAttempt, WebhookPump

__all__ = ["BotAPIEmulator", "WebhookAttempt"]


class BotAPIEmulator(People, BotApiMethods, CommandMethods, WebhookPump):
    """A Telegram Bot API server for one bot, with simulated people and fault scripts.

    All state lives on the event loop that runs the server; every control method must be
    called from that loop (tests and the demo do so naturally).

    One mixin per job, over the shared state of `core.EmulatorCore`: `people` plays the
    people, `observe` reads what they see, `faults` scripts Telegram failing, `methods` and
    `commands` answer the Bot API, `webhook` pushes updates; this class serves them on HTTP.
    """

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._running

    async def start(self, port: int | None = None) -> None:
        """Serve on host:port (0 = ephemeral); after stop(), the same port is reused."""
        if self._running:
            raise RuntimeError("emulator already running")
        if port is not None:
            self.port = port
        # A fresh event binds to the loop now running, should an earlier start use another.
        self._changed = asyncio.Event()
        app = web.Application(client_max_size=_MAX_UPLOAD + 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_method)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        # access_log=None: request lines contain the bot token.
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port, reuse_address=True)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self.port = int(runner.addresses[0][1])
        self._runner = runner
        self._client = aiohttp.ClientSession()
        self._running = True
        self._ensure_pump()

    async def stop(self) -> None:
        """Stop serving (connections refused from now on); all state is kept for start()."""
        if not self._running:
            return
        self._running = False
        self._notify()  # pending long polls return at once
        tasks = [t for t in (self._pump, *self._inflight.values()) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._pump = None
        self._inflight.clear()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def _handle_method(self, request: web.Request) -> web.Response:
        if not hmac.compare_digest(request.match_info["token"].encode(), self.token.encode()):
            return self._error_response(ApiError(401, "Unauthorized"))
        method = _CANONICAL.get(request.match_info["method"].lower())
        if method is None:
            return self._error_response(ApiError(404, "Not Found"))
        try:
            params = await self._read_params(request)
        except ApiError as exc:
            return self._error_response(exc)
        body, status = await self._invoke(method, params, source="http")
        return web.json_response(body, status=status)

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        if not hmac.compare_digest(request.match_info["token"].encode(), self.token.encode()):
            return self._error_response(ApiError(401, "Unauthorized"))
        stored = self._files_by_path.get(request.match_info["path"])
        if stored is None:
            return self._error_response(ApiError(404, "Not Found"))
        return web.Response(
            body=stored.data, content_type=stored.mime_type or "application/octet-stream"
        )

    @staticmethod
    def _error_response(exc: ApiError) -> web.Response:
        return web.json_response(BotAPIEmulator._error_body(exc), status=exc.code)

    async def _read_params(self, request: web.Request) -> _Params:
        values: dict[str, Any] = dict(request.query)
        files: dict[str, _Upload] = {}
        if request.method == "POST" and request.can_read_body:
            if request.content_type == "application/json":
                try:
                    body = await request.json()
                except ValueError:
                    raise ApiError(400, "Bad Request: can't parse JSON request") from None
                if not isinstance(body, dict):
                    raise ApiError(400, "Bad Request: can't parse JSON request")
                values.update(body)
            else:
                try:
                    form = await request.post()
                except web.HTTPRequestEntityTooLarge:
                    raise ApiError(413, "Request Entity Too Large") from None
                for key, value in form.items():
                    if isinstance(value, web.FileField):
                        files[key] = _Upload(value.filename, value.content_type,
                                             value.file.read())
                    elif isinstance(value, bytes):
                        values[key] = value.decode("utf-8", errors="replace")
                    else:
                        values[key] = value
        return _Params(values, files)
