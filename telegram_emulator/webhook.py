"""The webhook: setWebhook and its siblings, and the pump that pushes updates to the bot one
chat at a time and retries as Telegram does."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from dataclasses import dataclass
from typing import Any

import aiohttp

from telegram_emulator.core import _CANONICAL, _now, _update_type
from telegram_emulator.faults import FaultScripts
from telegram_emulator.models import ApiError
from telegram_emulator.params import _Params, _Upload

log = logging.getLogger(__name__)


_SECRET_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")


@dataclass
class _Webhook:
    url: str
    secret_token: str | None
    max_connections: int
    ip_address: str | None
    last_error_date: int | None = None
    last_error_message: str | None = None


@dataclass(frozen=True)
class WebhookAttempt:
    """One push of an update to the webhook: HTTP status, or the connection error."""

    update_id: int
    status: int | None
    error: str | None
    time: float

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def _update_chat_key(update: dict[str, Any]) -> int:
    """The chat an update belongs to (webhook pushes are ordered per chat); 0 when an
    injected, malformed update names none."""
    body: Any = update.get(_update_type(update))
    try:
        if "chat" in body:
            return int(body["chat"]["id"])
        if "message" in body:
            return int(body["message"]["chat"]["id"])
        return int(body.get("from", {}).get("id", 0))
    except (TypeError, ValueError, KeyError, AttributeError):
        return 0


class WebhookPump(FaultScripts):
    """Pushes pending updates to the webhook; a method in the bot's answer runs like a call."""

    async def _api_set_webhook(self, params: _Params) -> Any:
        url = params.get_str("url") or ""
        if params.get_bool("drop_pending_updates"):
            self._pending.clear()
        allowed = params.get_json("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = [str(a) for a in allowed]
        if not url:
            await self._remove_webhook()
            return True
        if not re.match(r"https?://[^\s/]+", url):
            raise ApiError(400, "Bad Request: bad webhook: An HTTPS URL must be provided for "
                           "webhook")
        secret = params.get_str("secret_token")
        if secret is not None and not _SECRET_RE.fullmatch(secret):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        max_connections = params.get_int("max_connections") or 40
        if not 1 <= max_connections <= 100:
            raise ApiError(400, "Bad Request: bad webhook: max_connections must be in 1..100")
        self._webhook = _Webhook(url, secret, max_connections, params.get_str("ip_address"))
        # Any getUpdates still waiting ends with 409 now; the pump takes over.
        self._ensure_pump()
        return True

    async def _api_delete_webhook(self, params: _Params) -> Any:
        if params.get_bool("drop_pending_updates"):
            self._pending.clear()
        await self._remove_webhook()
        return True

    async def _api_get_webhook_info(self, params: _Params) -> Any:
        info: dict[str, Any] = {"url": "", "has_custom_certificate": False,
                                "pending_update_count": len(self._pending)}
        hook = self._webhook
        if hook is not None:
            info["url"] = hook.url
            info["max_connections"] = hook.max_connections
            if hook.ip_address:
                info["ip_address"] = hook.ip_address
            if hook.last_error_date is not None:
                info["last_error_date"] = hook.last_error_date
                info["last_error_message"] = hook.last_error_message
        if self._allowed_updates:
            info["allowed_updates"] = list(self._allowed_updates)
        return info

    async def _remove_webhook(self) -> None:
        self._webhook = None
        current = asyncio.current_task()
        tasks = [t for t in (self._pump, *self._inflight.values())
                 if t is not None and t is not current]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._pump = None
        self._inflight = {k: t for k, t in self._inflight.items() if t is current}

    def _ensure_pump(self) -> None:
        if self._running and self._webhook is not None and (
                self._pump is None or self._pump.done()):
            self._pump = asyncio.create_task(self._webhook_pump(), name="emulator-webhook")

    async def _webhook_pump(self) -> None:
        """Start one delivery per chat at a time, oldest update first, as Telegram does."""
        while self._running and self._webhook is not None:
            event = self._changed
            hook = self._webhook
            seen: set[int] = set()
            for update in self._pending:
                key = _update_chat_key(update)
                if key in seen:
                    continue
                seen.add(key)
                if key in self._inflight:
                    continue
                if len(self._inflight) >= hook.max_connections:
                    break
                self._inflight[key] = asyncio.create_task(self._deliver(update, key))
            await event.wait()

    async def _deliver(self, update: dict[str, Any], key: int) -> None:
        try:
            while self._running and self._webhook is not None and self._client is not None:
                hook = self._webhook
                headers = {"Content-Type": "application/json"}
                if hook.secret_token:
                    headers["X-Telegram-Bot-Api-Secret-Token"] = hook.secret_token
                status: int | None = None
                error: str | None = None
                try:
                    async with self._client.post(
                        hook.url, data=json.dumps(update).encode(), headers=headers,
                        timeout=aiohttp.ClientTimeout(total=self.webhook_timeout),
                    ) as resp:
                        status = resp.status
                        if 200 <= status < 300:
                            await self._webhook_reply(resp)
                        else:
                            error = f"Wrong response from the webhook: {status} {resp.reason}"
                except (aiohttp.ClientError, TimeoutError) as exc:
                    error = ("Read timeout expired" if isinstance(exc, TimeoutError)
                             else "Connection refused")
                self.webhook_attempts.append(
                    WebhookAttempt(update["update_id"], status, error, time.monotonic()))
                if error is None:
                    self._pending = [u for u in self._pending
                                     if u["update_id"] != update["update_id"]]
                    return
                hook.last_error_date, hook.last_error_message = _now(), error
                await asyncio.sleep(self.webhook_retry_delay)
        finally:
            if self._inflight.get(key) is asyncio.current_task():
                del self._inflight[key]
            self._notify()

    async def _webhook_reply(self, resp: aiohttp.ClientResponse) -> None:
        """Run a method the bot put in its webhook answer (aiogram can reply that way)."""
        values: dict[str, Any] = {}
        files: dict[str, _Upload] = {}
        try:
            if resp.content_type == "multipart/form-data":
                reader = aiohttp.MultipartReader(resp.headers, resp.content)
                while True:
                    part = await reader.next()
                    if part is None:
                        break
                    if not isinstance(part, aiohttp.BodyPartReader) or part.name is None:
                        continue
                    data = await part.read(decode=True)
                    if part.filename:
                        files[part.name] = _Upload(part.filename, None, bytes(data))
                    else:
                        values[part.name] = bytes(data).decode("utf-8")
            elif resp.content_type == "application/json":
                body = await resp.json()
                if isinstance(body, dict):
                    values = body
            else:
                await resp.read()
        except (aiohttp.ClientError, ValueError):
            log.warning("emulator could not read a webhook answer body")
            return
        method = _CANONICAL.get(str(values.pop("method", "")).lower())
        if method is not None:
            # Telegram reports nothing back about such a call; record it like any other.
            await self._invoke(method, _Params(values, files), source="webhook-reply")
