"""What operators watch: /metrics for Prometheus, /healthz and /readyz for a load balancer.

`add_routes(app, services)` puts them on any aiohttp application (the webhook server, or a
small server of their own while polling, `serve`). /healthz says the process answers;
/readyz that the database answers and the master keys open it (503 with a short reason
otherwise: no trace, no setting's value). /metrics is there only with
STEADFAST_METRICS_ENABLED, behind basic auth when STEADFAST_METRICS_USER and _PASSWORD are
set; prometheus-client is imported only then.

Two sources feed /metrics: what this process counted (journal/telemetry.py reports,
turned into counters and histograms here), and the outbox read from the database at
scrape time with one grouped query, so every instance reports the same depth and the same
oldest undelivered alert. No label holds a client code, a Telegram id or any text."""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import logging
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web

from journal import telemetry
from storage.records import WAITING

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry
    from prometheus_client.metrics_core import Metric

    from app.composition import Services

log = logging.getLogger(__name__)

PREFIX = "steadfast_"
UNDELIVERED = WAITING  # the states of a row Telegram has not taken yet
READY_TIMEOUT = 5.0
# Handling an update is tens of milliseconds; a tick up to seconds on a large caseload.
SECONDS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

# The gauges read from the database at each scrape (see _Outbox).
GAUGES = (PREFIX + "database_up", PREFIX + "outbox_messages",
          PREFIX + "oldest_undelivered_alert_seconds")

_registry: CollectorRegistry | None = None


class _PrometheusSink:
    """journal.telemetry's reports as prometheus-client metrics, one per name in EVENTS."""

    def __init__(self, registry: CollectorRegistry) -> None:
        from prometheus_client import Counter, Histogram

        self._metrics: dict[str, Any] = {}
        for name, (kind, labels, text) in telemetry.EVENTS.items():
            if kind == "counter":
                self._metrics[name] = Counter(PREFIX + name, text, labels, registry=registry)
            else:
                self._metrics[name] = Histogram(PREFIX + name, text, labels, registry=registry,
                                                buckets=SECONDS_BUCKETS)

    def record(self, name: str, value: float, labels: Mapping[str, str]) -> None:
        metric = self._metrics[name]
        if labels:
            metric = metric.labels(**labels)
        if hasattr(metric, "inc"):
            metric.inc(value)
        else:
            metric.observe(value)


def enable() -> CollectorRegistry:
    """This process's metrics from now on (once per process: counters outlive a restart of
    the bot inside it, as Prometheus expects of a process)."""
    global _registry
    if _registry is None:
        from prometheus_client import (
            CollectorRegistry,
            ProcessCollector,
            disable_created_metrics,
        )

        disable_created_metrics()  # a *_created series beside each one says little here
        registry = CollectorRegistry()
        ProcessCollector(registry=registry)
        telemetry.install(_PrometheusSink(registry))
        _registry = registry
    return _registry


class _Outbox:
    """The outbox as the database has it now, as gauges (collected once per scrape)."""

    def __init__(self, rows: list[tuple[str, str, int, datetime | None]] | None,
                 now: datetime) -> None:
        self._rows, self._now = rows, now

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        from prometheus_client.core import GaugeMetricFamily

        up = GaugeMetricFamily(PREFIX + "database_up",
                               "1 when the scrape could read the outbox from the database")
        up.add_metric([], 0 if self._rows is None else 1)
        yield up
        if self._rows is None:
            return
        depth = GaugeMetricFamily(PREFIX + "outbox_messages",
                                  "Outbox rows by kind and state, read from the database",
                                  labels=["kind", "state"])
        oldest: datetime | None = None
        for kind, state, count, created in self._rows:
            depth.add_metric([kind, state], count)
            if kind == "alert" and state in UNDELIVERED and created is not None:
                oldest = created if oldest is None else min(oldest, created)
        yield depth
        age = GaugeMetricFamily(
            PREFIX + "oldest_undelivered_alert_seconds",
            "Age of the oldest alert copy Telegram has not taken yet (0: none waiting)")
        age.add_metric([], max(0.0, (self._now - oldest).total_seconds()) if oldest else 0.0)
        yield age


def authorized(request: web.Request, user: str, password: str) -> bool:
    """Basic auth, compared in constant time over the whole user:password pair."""
    header = request.headers.get("Authorization", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        given = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    return hmac.compare_digest(given, f"{user}:{password}".encode())


def add_routes(app: web.Application, services: Services) -> None:
    """/healthz and /readyz always; /metrics with STEADFAST_METRICS_ENABLED."""
    settings = services.settings
    store = services.store

    async def healthz(request: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def readyz(request: web.Request) -> web.Response:
        from sqlalchemy import text

        try:
            async with asyncio.timeout(READY_TIMEOUT), store.unit_of_work() as uow:
                await uow.session.execute(text("SELECT 1"))
        except Exception as exc:
            log.warning("not ready: the database does not answer (%s)", type(exc).__name__)
            return web.Response(status=503, text="not ready: the database does not answer\n")
        try:
            async with asyncio.timeout(READY_TIMEOUT), store.unit_of_work() as uow:
                await uow.vault.check_opens()
        except Exception as exc:
            log.warning("not ready: the master keys do not open the database (%s)",
                        type(exc).__name__)
            return web.Response(status=503,
                                text="not ready: the master keys do not open the database\n")
        return web.Response(text="ready\n")

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    if not settings.metrics_enabled:
        return
    registry = enable()
    password = settings.metrics_password.get_secret_value() if settings.metrics_password else ""

    async def metrics(request: web.Request) -> web.Response:
        from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

        if settings.metrics_user and not authorized(request, settings.metrics_user, password):
            return web.Response(status=401, text="unauthorized\n",
                                headers={"WWW-Authenticate": 'Basic realm="steadfast metrics"'})
        rows: list[tuple[str, str, int, datetime | None]] | None
        try:
            async with asyncio.timeout(READY_TIMEOUT), store.unit_of_work() as uow:
                rows = await uow.outbox.depth()
        except Exception as exc:  # still serve this process's own counters
            log.warning("metrics: the outbox could not be read (%s)", type(exc).__name__)
            rows = None
        scrape = CollectorRegistry(auto_describe=False)
        scrape.register(_Outbox(rows, services.clock.now()))
        body = generate_latest(registry) + generate_latest(scrape)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    app.router.add_get("/metrics", metrics)


async def serve(services: Services, stop: asyncio.Event, *, host: str, port: int,
                started: asyncio.Event | None = None) -> None:
    """The routes on a small server of their own (while polling), until `stop`."""
    app = web.Application()
    add_routes(app, services)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        try:
            await web.TCPSite(runner, host, port).start()
        except OSError as exc:  # the port is taken: the bot still serves its clients
            log.error("metrics and health not served on %s:%s: %s", host, port,
                      exc.strerror or type(exc).__name__)
            return
        log.info("metrics and health listening on %s:%s", host, port)
        if started is not None:
            started.set()
        await stop.wait()
    finally:
        await runner.cleanup()
