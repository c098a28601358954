"""What a session report shows, gathered and decrypted for one client and period.

The values are journal/review/model.py's (documented there); the PDF is laid out from them
in journal/review/report.py, and the workspace page renders the same model."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING, Final
from zoneinfo import ZoneInfo

from journal.checkin.questionnaire import Questionnaire
from journal.errors import InvalidInput
from journal.i18n import N_, gettext_for
from journal.review.adherence import adherence, client_today, day_states
from journal.review.charts import AlertMark
from journal.review.indicators import Indicators
from journal.review.model import (
    JournalText,
    ReportData,
    SituationRow,
    alert_rows,
    day_rows,
    domain_labels,
    domain_rows,
)
from journal.review.situations import Situation, checkin_note, domain_series, situations
from storage.records import AlertStatus, CheckInDay, Client
from storage.uow import UnitOfWork

if TYPE_CHECKING:
    from journal.phases.service import PhaseService

DEFAULT_REPORT_DAYS: Final = 30
MAX_REPORT_DAYS: Final = 366


async def report_data(uow: UnitOfWork, client: Client, days: int, actor: str, *,
                      now: datetime, questionnaire: Questionnaire, indicators: Indicators,
                      language: str, timezone: str,
                      reason_label: Callable[[str], str],
                      phases: PhaseService | None = None) -> ReportData:
    """The last `days` local days of a client, up to today (or their discharge), in the
    viewer's `language` and `timezone`."""
    if not 1 <= days <= MAX_REPORT_DAYS:
        raise InvalidInput(f"days must be 1 to {MAX_REPORT_DAYS}", key="report.days")
    zone = ZoneInfo(client.timezone)
    viewer = ZoneInfo(timezone)
    end = client_today(client, now)
    start = end - timedelta(days=days - 1)
    checkins = await uow.checkins.recent(client.id, since=start, until=end)
    outline = [CheckInDay(c.id, c.local_date, c.status, c.risk_level, c.submitted_at)
               for c in checkins]
    states = day_states(client, outline, start=start, end=end, today=client_today(
        client, now))
    plan = await uow.plans.get(client.id)
    since = datetime.combine(start, time(0), zone).astimezone(UTC)
    until = datetime.combine(end + timedelta(days=1), time(0), zone).astimezone(UTC)
    alerts = [a for a in await uow.alerts.recent(client.id, since=since)
              if a.created_at < until]
    entries = [e for e in await uow.journal.recent(client.id, limit=100_000, since=since)
               if e.created_at < until]
    owner = await uow.clinicians.get(client.clinician_id)
    roll_ups, scales = await indicators.series(uow, client, language)
    rows = [_situation_row(s, language) for s in reversed(
        situations(checkins, questionnaire, plan.coping_steps, language))]
    journal: list[JournalText] = [
        JournalText(at=e.created_at.astimezone(viewer), text=e.text, source="entry")
        for e in entries]
    for checkin in checkins:
        note = checkin_note(checkin, questionnaire)
        if note is not None:
            moment = checkin.submitted_at or datetime.combine(checkin.local_date,
                                                              time(21), zone)
            journal.append(JournalText(at=moment.astimezone(viewer), text=note,
                                       source="checkin"))
    journal.sort(key=lambda j: j.at)

    points = tuple(indicators.points(checkins, start, end))
    labels = domain_labels(questionnaire, language)
    done = adherence(states, start=start, end=end)
    phase = None
    if phases is not None:
        month_start = end - timedelta(days=29)
        month_checkins = (checkins if start <= month_start else await uow.checkins.recent(
            client.id, since=month_start, until=end))
        month = domain_series(indicators.points(month_checkins, month_start, end), list(labels))
        phase = await phases.review(uow, client, language=language, timezone=timezone,
                                    labels=labels, month=month, reason_label=reason_label)
    data = ReportData(
        client_code=client.code, clinician=owner.name if owner else "-", start=start,
        end=end, generated_at=now.astimezone(viewer), timezone=timezone,
        client_timezone=client.timezone, language=language, points=points, days=states,
        adherence=done.done, asked=done.expected,
        alerts=tuple(AlertMark(a.created_at, a.level, a.status == AlertStatus.OPEN)
                     for a in alerts),
        alert_rows=await alert_rows(uow, alerts, language=language, timezone=timezone,
                                    reason_label=reason_label),
        day_rows=day_rows(points, states, checkins, questionnaire, language),
        domain_rows=domain_rows(points, labels), domain_labels=labels,
        roll_ups=roll_ups, scales=scales, situations=tuple(rows),
        journal=tuple(journal), plan=plan,
        help_moments=tuple((m.at.astimezone(viewer), m.told, m.outcome)
                           for m in await uow.plans.moments(client.id, since=since)
                           if m.at < until),
        plan_history=tuple((v.number, v.at.astimezone(viewer), v.reason)
                           for v in await uow.plans.versions(client.id)),
        phase=phase)
    await uow.audit(at=now, actor=actor, action="client.report", client_id=client.id,
                    detail=f"client {client.code} days: {days}")
    return data


def _situation_row(situation: Situation, language: str) -> SituationRow:
    """A situation as the report's table shows it: what happened and the coping, a cell
    each."""
    def t(message: str) -> str:
        return gettext_for(language, message)

    happened = situation.happened or t(N_("(no details given)"))
    if situation.lapse:
        happened += "\n" + t(N_("Lapse reported."))
    coping = situation.coping_answer or t(N_("(not answered)"))
    if situation.worked is not None:
        coping += "\n" + t(N_("Worked: {n}/10")).format(n=situation.worked)
    return SituationRow(day=situation.day, happened=happened, coping=coping)


__all__ = ["DEFAULT_REPORT_DAYS", "MAX_REPORT_DAYS", "report_data"]
