"""The process's log: readable lines, or one JSON object per line for a log shipper.

Which update a line is about, and whose (the client's code, never a Telegram id), comes
from context variables the update middleware sets while it handles the update: never from
parsing the message. The message itself is what the code logs today, which by the privacy
rules never holds what a person typed; a JSON line adds nothing beyond the update id and
the client code, and carries an exception only by its class (no message, no traceback).
A readable line keeps its traceback, except from aiohttp's server, whose exceptions quote
the request's bytes.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from datetime import UTC, datetime
from typing import Literal

update_id: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "steadfast_update_id", default=None)
client_code: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "steadfast_client_code", default=None)

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# Loggers whose exceptions carry what a client sent: aiohttp's server logs a request it
# could not read ("Error handling request", a line or a cookie over 8 KiB) with an exception
# whose message, and so its traceback, quotes the request's bytes, a session cookie among
# them; the access log would quote the request line (a sign-in link's token).
REQUEST_LOGGERS = ("aiohttp.server", "aiohttp.access", "aiohttp.web")


class TextFormatter(logging.Formatter):
    """TEXT_FORMAT; an exception from REQUEST_LOGGERS by its class alone, as in JSON."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        if (record.name.startswith(REQUEST_LOGGERS) and record.exc_info
                and record.exc_info[0] is not None):
            # A copy: the record goes on to other handlers as it came.
            record = logging.makeLogRecord({
                **record.__dict__, "msg": f"{record.getMessage()} ({record.exc_info[0].__name__})",
                "args": None, "exc_info": None, "exc_text": None, "stack_info": None})
        return super().format(record)


class JsonFormatter(logging.Formatter):
    """time (UTC, ISO 8601 with milliseconds), level, logger, event; update_id and client
    where the line is about one; error (the exception's class) where one was logged."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "event": record.getMessage(),
        }
        update = update_id.get()
        if update is not None:
            line["update_id"] = update
        code = client_code.get()
        if code is not None:
            line["client"] = code
        if record.exc_info and record.exc_info[0] is not None:
            line["error"] = record.exc_info[0].__name__
        return json.dumps(line, ensure_ascii=False, default=str)


def configure(level: str, form: Literal["text", "json"] = "text") -> None:
    """The root logger on standard error, in the chosen form; libraries that would record
    who wrote when are kept quiet (see below)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if form == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(getattr(logging, level))
    # aiohttp's access log and aiogram's event log would record who wrote when; the
    # bot's own log lines carry only what an operator needs.
    logging.getLogger("aiogram.event").setLevel(logging.WARNING)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    # Alembic's "Context impl ..." lines are noise at start; DEBUG still shows them.
    logging.getLogger("alembic").setLevel(logging.DEBUG if level == "DEBUG" else logging.WARNING)
