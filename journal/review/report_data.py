"""What a session report shows, gathered and decrypted for one client and period.

The values are journal/review/model.py's (documented there); the PDF is laid out from them
in journal/review/report.py, and the workspace page renders the same model."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from journal.checkin.flow import answers_of, render_answer
from journal.checkin.questionnaire import Answer, Questionnaire
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
from storage.records import CheckInDay, Client
from storage.uow import UnitOfWork

DEFAULT_REPORT_DAYS: Final = 30
MAX_REPORT_DAYS: Final = 366


async def report_data(uow: UnitOfWork, client: Client, days: int, actor: str, *,
                      now: datetime, questionnaire: Questionnaire, indicators: Indicators,
                      language: str, timezone: str,
                      reason_label: Callable[[str], str]) -> ReportData:
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
    sv, general = await indicators.thresholds(uow, client)
    situations: list[SituationRow] = []
    journal: list[JournalText] = [
        JournalText(at=e.created_at.astimezone(viewer), text=e.text, source="entry")
        for e in entries]
    for checkin in checkins:
        if checkin.status != "submitted" or not checkin.state:
            continue
        answers = answers_of(checkin.state)
        situation = _situation(checkin.local_date, answers, plan.coping_steps,
                               questionnaire, language)
        if situation is not None:
            situations.append(situation)
        note = answers.get("journal_note")
        if isinstance(note, str) and note.strip():
            moment = checkin.submitted_at or datetime.combine(checkin.local_date,
                                                              time(21), zone)
            journal.append(JournalText(at=moment.astimezone(viewer), text=note,
                                       source="checkin"))
    journal.sort(key=lambda j: j.at)

    points = tuple(indicators.points(checkins, start, end))
    labels = domain_labels(questionnaire, language)
    done = adherence(states, start=start, end=end)
    data = ReportData(
        client_code=client.code, clinician=owner.name if owner else "-", start=start,
        end=end, generated_at=now.astimezone(viewer), timezone=timezone,
        client_timezone=client.timezone, language=language, points=points, days=states,
        adherence=done.done, asked=done.expected,
        alerts=tuple(AlertMark(a.created_at, a.level, a.status == "open") for a in alerts),
        alert_rows=await alert_rows(uow, alerts, language=language, timezone=timezone,
                                    reason_label=reason_label),
        day_rows=day_rows(points, states, checkins, questionnaire, language),
        domain_rows=domain_rows(points, labels), domain_labels=labels,
        sexual_violent=sv, general=general, sv_max=indicators.maximum("sexual_violent"),
        general_max=indicators.maximum("general"), situations=tuple(situations),
        journal=tuple(journal), plan=plan)
    await uow.audit(at=now, actor=actor, action="client.report", client_id=client.id,
                    detail=f"client {client.code} days: {days}")
    return data


def _situation(day: date, answers: Mapping[str, Answer], plan: Sequence[str],
               questionnaire: Questionnaire, language: str) -> SituationRow | None:
    if answers.get("high_risk") is not True:
        return None

    def t(message: str) -> str:
        return gettext_for(language, message)

    detail = answers.get("high_risk_detail")
    happened = detail if isinstance(detail, str) else t(N_("(no details given)"))
    if answers.get("lapse") is True:
        happened += "\n" + t(N_("Lapse reported."))
    coping = t(N_("(not answered)"))
    if "coping_steps" in answers and questionnaire.has_item("coping_steps"):
        coping = render_answer(questionnaire.item("coping_steps"), answers["coping_steps"],
                               language, plan)
    effect = answers.get("coping_effect")
    if isinstance(effect, int) and not isinstance(effect, bool):
        coping += "\n" + t(N_("Worked: {n}/10")).format(n=effect)
    return SituationRow(day=day, happened=happened, coping=coping)


__all__ = ["DEFAULT_REPORT_DAYS", "MAX_REPORT_DAYS", "report_data"]
