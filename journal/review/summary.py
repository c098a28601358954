"""The client summary a clinician opens with /client: adherence, alerts, plan and a chart.

Its alerts are the review model's rows (journal/review/model.py: reasons once, who
acknowledged, when and how fast), in the viewer's `language` and `timezone`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Final

from journal.people import actor_of, visible_client
from journal.phases.review import PhaseReview
from journal.review.adherence import Adherence, adherence, client_today, day_states
from journal.review.charts import DayPoint, Series
from journal.review.indicators import Indicators
from journal.review.model import AlertRow, alert_rows, domain_labels
from storage.records import Alert, CheckInDay, Client, Clinician, HelpMoment, Plan
from storage.uow import UnitOfWork

SUMMARY_DAYS: Final = 14


@dataclass(frozen=True)
class ClientSummary:
    client: Client
    clinician_name: str
    today: date
    last_checkin: CheckInDay | None
    week: Adherence
    month: Adherence
    open_alerts: Mapping[str, int]
    recent_alerts: tuple[Alert, ...]
    plan: Plan
    points: tuple[DayPoint, ...]
    start: date
    roll_ups: tuple[Series, ...]
    scales: tuple[Series, ...]
    language: str
    timezone: str = "UTC"
    alert_rows: tuple[AlertRow, ...] = ()
    domain_labels: Mapping[str, str] = field(default_factory=dict)
    help_moments: tuple[HelpMoment, ...] = ()  # /now in the summary's days
    open_suggestions: int = 0
    phase: PhaseReview | None = None  # the phase path, criteria and the latest rating

    async def chart(self) -> bytes:
        """The last days as a PNG, drawn off the event loop (matplotlib is CPU-bound)."""
        from journal.review import charts
        from journal.review.renderer import RENDERER

        return await RENDERER.run(
            charts.summary_chart, self.points, self.roll_ups, self.scales,
            start=self.start, end=self.today, language=self.language)


async def client_summary(uow: UnitOfWork, clinician: Clinician, code: str, *, now: datetime,
                         indicators: Indicators, language: str, timezone: str = "UTC",
                         reason_label: Callable[[str], str] = str) -> ClientSummary:
    client = await visible_client(uow, clinician, code)
    today = client_today(client, now)
    month_start = today - timedelta(days=29)
    start = today - timedelta(days=SUMMARY_DAYS - 1)
    days = await uow.checkins.days(client.id, since=month_start, until=today)
    states = day_states(client, days, start=month_start, end=today, today=today)
    checkins = await uow.checkins.recent(client.id, since=start, until=today)
    owner = await uow.clinicians.get(client.clinician_id)
    roll_ups, scales = await indicators.series(uow, client, language)
    counts = await uow.alerts.open_counts([client.id])
    alerts = await uow.alerts.recent(client.id, since=now - timedelta(days=SUMMARY_DAYS))
    summary = ClientSummary(
        client=client, clinician_name=owner.name if owner else "", today=today,
        last_checkin=await uow.checkins.latest_day(client.id),
        week=adherence(states, start=today - timedelta(days=6), end=today),
        month=adherence(states, start=month_start, end=today),
        open_alerts=counts.get(client.id, {}), recent_alerts=tuple(alerts),
        plan=await uow.plans.get(client.id),
        points=tuple(indicators.points(checkins, start, today)), start=start,
        roll_ups=roll_ups, scales=scales, language=language, timezone=timezone,
        alert_rows=await alert_rows(uow, alerts, language=language, timezone=timezone,
                                    reason_label=reason_label),
        domain_labels=domain_labels(indicators.questionnaire, language),
        help_moments=tuple(await uow.plans.moments(
            client.id, since=now - timedelta(days=SUMMARY_DAYS))),
        open_suggestions=len(await uow.plans.suggestions(client.id)))
    await uow.audit(at=now, actor=actor_of(clinician), action="client.summary",
                    client_id=client.id, detail=f"client {client.code}")
    return summary


__all__ = ["SUMMARY_DAYS", "ClientSummary", "client_summary"]
