"""Fault scripts: the errors, delays and outages a test schedules, and the one place every
call meets them on its way to a handler."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from telegram_emulator.core import EmulatorCore
from telegram_emulator.models import ApiError, RecordedCall
from telegram_emulator.params import _Params

log = logging.getLogger(__name__)


_DEFAULT_DESCRIPTIONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    413: "Request Entity Too Large",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


@dataclass(frozen=True)
class _Fault:
    error_code: int
    description: str
    retry_after: int | None
    after_effect: bool


@dataclass(frozen=True)
class _Outage:
    until: float  # time.monotonic(); math.inf until end_outage()
    fault: _Fault
    methods: frozenset[str] | None  # None: every method


class FaultScripts(EmulatorCore):
    """Errors, delays and outages scripted by a test, applied to every call in `_invoke`."""

    def fail_next(
        self,
        method: str,
        count: int = 1,
        error_code: int = 502,
        description: str | None = None,
        retry_after: int | None = None,
        *,
        after_effect: bool = False,
    ) -> None:
        """Answer the next `count` calls of `method` with an error.

        after_effect=True applies the call before answering the error, like a reply lost on
        its way back from Telegram (the message is delivered, the bot sees a failure).
        """
        fault = self._make_fault(error_code, description, retry_after,
                                 after_effect=after_effect)
        self._faults.setdefault(self._canonical(method), deque()).extend([fault] * count)

    def fail_for(
        self,
        seconds: float,
        error_code: int = 502,
        methods: Iterable[str] | None = None,
        description: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        """Answer every call (or every call of `methods`) with an error until `seconds` have
        passed, like Telegram being down: getUpdates included, so nothing reaches the bot
        either. Overlapping outages add up; clear_faults() ends them all. A scripted
        fail_next() fault still answers first."""
        if seconds <= 0:
            raise ValueError("an outage lasts a positive number of seconds")
        names = None if methods is None else frozenset(self._canonical(m) for m in methods)
        fault = self._make_fault(error_code, description, retry_after, after_effect=False)
        self._outages.append(_Outage(time.monotonic() + seconds, fault, names))

    def outage_active(self, method: str | None = None) -> bool:
        """Whether an outage answers `method` (any method if None) right now."""
        return self._outage_for(None if method is None else self._canonical(method)) is not None

    def _outage_for(self, method: str | None) -> _Fault | None:
        now = time.monotonic()
        self._outages = [o for o in self._outages if o.until > now]
        for outage in self._outages:
            if method is None or outage.methods is None or method in outage.methods:
                return outage.fault
        return None

    @staticmethod
    def _make_fault(error_code: int, description: str | None, retry_after: int | None, *,
                    after_effect: bool) -> _Fault:
        if error_code == 429 and retry_after is None:
            retry_after = 1
        if description is None:
            if retry_after is not None:
                description = f"Too Many Requests: retry after {retry_after}"
            else:
                description = _DEFAULT_DESCRIPTIONS.get(error_code, "Error")
        return _Fault(error_code, description, retry_after, after_effect)

    def delay_next(self, method: str, count: int = 1, seconds: float = 2.0) -> None:
        """Hold the next `count` calls of `method` for `seconds` before handling them."""
        self._delays.setdefault(self._canonical(method), deque()).extend([seconds] * count)

    def outage(self, *methods: str, error_code: int = 502) -> None:
        """Answer every call of `methods` (of every method if none are named) with
        `error_code` until end_outage(): Telegram down for as long as a test wants."""
        fault = self._make_fault(error_code, None, None, after_effect=False)
        names = frozenset(self._canonical(m) for m in methods) if methods else None
        self._outages.append(_Outage(math.inf, fault, names))

    def end_outage(self) -> None:
        """End every outage begun with outage(); timed ones from fail_for() run their course."""
        self._outages = [o for o in self._outages if o.until != math.inf]

    def clear_faults(self) -> None:
        self._faults.clear()
        self._delays.clear()
        self._outages.clear()

    async def _invoke(self, method: str, params: _Params, *, source: str) -> tuple[Any, int]:
        """Run one call with its fault script; return (JSON body, HTTP status)."""
        chat_id: int | None = None
        with contextlib.suppress(TypeError, ValueError):
            chat_id = int(params.values["chat_id"]) if "chat_id" in params.values else None
        call = RecordedCall(method, params.recorded(), time.monotonic(), chat_id, source=source)
        self.calls.append(call)
        delays = self._delays.get(method)
        if delays:
            await asyncio.sleep(delays.popleft())
        faults = self._faults.get(method)
        fault = faults.popleft() if faults else None
        # A scripted fault comes first, so a test can make one call fail its own way mid-outage.
        if fault is None:
            fault = self._outage_for(method)
        result: Any = None
        try:
            if fault is not None and not fault.after_effect:
                raise self._fault_error(fault)
            result = await self._handlers[method](params)
            if fault is not None:
                raise self._fault_error(fault)
        except ApiError as exc:
            call.error_code, call.description = exc.code, exc.description
            return self._error_body(exc), exc.code
        except Exception:
            # An emulator bug must look like a Telegram hiccup, not hang the bot.
            log.exception("emulator failed handling %s", method)
            call.error_code, call.description = 500, "Internal Server Error"
            return self._error_body(ApiError(500, "Internal Server Error")), 500
        finally:
            self._notify()
        body: dict[str, Any] = {"ok": True, "result": result}
        if method == "setWebhook":
            body["description"] = "Webhook was set" if self._webhook else "Webhook was deleted"
        elif method == "deleteWebhook":
            body["description"] = "Webhook was deleted"
        return body, 200

    @staticmethod
    def _fault_error(fault: _Fault) -> ApiError:
        parameters = {"retry_after": fault.retry_after} if fault.retry_after is not None else None
        return ApiError(fault.error_code, fault.description, parameters)

    @staticmethod
    def _error_body(exc: ApiError) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": False, "error_code": exc.code,
                                "description": exc.description}
        if exc.parameters:
            body["parameters"] = exc.parameters
        return body
