"""Counts and timings the program's parts report, for whoever watches.

The check-in service, the e-mail fallback, the scheduler and the bot's sender say here what happened; when
STEADFAST_METRICS_ENABLED is on, app/observability.py installs a sink that turns each into
a Prometheus metric. With no sink installed every call is a no-op, so nothing here imports
a metrics library and the domain does not depend on one.

Names are fixed in code (EVENTS) and labels carry only words from the code (a kind, an
outcome, an error class): never a client code, a Telegram id or anything a person typed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, Literal, Protocol

Kind = Literal["counter", "histogram"]

# name: (kind, label names, help). The one list of what can be reported.
EVENTS: Final[Mapping[str, tuple[Kind, tuple[str, ...], str]]] = {
    "updates_handled": ("counter", ("outcome",),
                        "Telegram updates handled, by outcome"),
    "update_seconds": ("histogram", ("outcome",),
                       "Time to handle one Telegram update, its transaction and replies"),
    "telegram_requests": ("counter", ("method", "outcome"),
                          "Bot API calls the bot made, by method and what the answer meant"),
    "delivery_sent": ("counter", ("kind",), "Outbox messages Telegram accepted, by kind"),
    "delivery_failures": ("counter", ("error_class",),
                          "Outbox sends that failed, by the error's class"),
    # No label, so the series is there (at 0) from the start and the first dead letter is
    # an increase an alerting rule sees; the kinds are in the outbox gauge's state="dead".
    "dead_letters": ("counter", (),
                     "Outbox messages given up on for good (a permanent answer)"),
    "scheduler_ticks": ("counter", ("ran",),
                        "Scheduler ticks started; ran=false when another instance held the lock"),
    "scheduler_tick_seconds": ("histogram", (), "Time one scheduler tick took"),
    "scheduler_tick_lag_seconds": ("histogram", (),
                                   "How late a scheduler tick started after it was due"),
    "checkins_prompted": ("counter", (), "Check-in prompts queued"),
    "checkins_completed": ("counter", (), "Check-ins submitted"),
    "checkins_missed": ("counter", (), "Check-in days closed as missed"),
    "email_fallbacks_sent": ("counter", (), "Staff e-mails sent because Telegram was late"),
    "sign_ins": ("counter", ("how",), "Workspace sessions started, by link or mini_app"),
    # reason: one of journal/web_access.py REFUSALS, so a bounded set.
    "sign_in_failures": ("counter", ("reason",),
                         "Workspace sign-ins refused, by reason (throttled: told to wait)"),
}


class Sink(Protocol):
    def record(self, name: str, value: float, labels: Mapping[str, str]) -> None: ...


_sink: Sink | None = None


def install(sink: Sink | None) -> Sink | None:
    """Send every report to `sink` from now on (None: report nowhere); returns the sink it
    replaces, so whoever installs one for a while can put the previous one back."""
    global _sink
    previous, _sink = _sink, sink
    return previous


def count(name: str, n: float = 1, **labels: str) -> None:
    """A counter moved by `n` (0 is not reported)."""
    if _sink is not None and n:
        _sink.record(name, n, labels)


def observe(name: str, seconds: float, **labels: str) -> None:
    """One timing, in seconds."""
    if _sink is not None:
        _sink.record(name, seconds, labels)
