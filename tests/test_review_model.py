"""The one review model behind the PDF, the chat summary and the workspace page: each alert
reason once, every time labelled in the viewer's zone, who acknowledged an alert and how
fast, the day-by-day answers, each domain's own indicator, and the viewer's language."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from io import BytesIO

import pytest
from pypdf import PdfReader

from bot.views.review import summary_text
from journal.alerts.rules import RiskRules
from journal.alerts.rules_file import load_rules
from journal.checkin.flow import answers_of
from journal.checkin.questionnaire import Questionnaire
from journal.checkin.questionnaire_file import load_questionnaire
from journal.clock import FakeClock
from journal.i18n import current_language, gettext_for
from journal.review import charts
from journal.review import report as report_module
from journal.review.adherence import client_today
from journal.review.model import duration_text
from journal.review.report import build_report
from journal.review.service import ReviewService
from journal.times import shown_time
from storage.records import Client, Clinician
from storage.uow import Store
from tests.helpers import make_clinician
from tests.reading import repeated_phrases, times_without_zone
from tests.review_seed import seed_history
from tests.stories import enrolled_client

NOTE = "Called the client, agreed a safety plan for the weekend"
SECOND_NOTE = "Reviewed the plan with the clinician; a visit is booked for Monday"


@pytest.fixture(scope="module")
def q() -> Questionnaire:
    return load_questionnaire()


@pytest.fixture(scope="module")
def rules(q: Questionnaire) -> RiskRules:
    return load_rules(questionnaire=q)


@pytest.fixture
def english() -> Iterator[None]:
    token = current_language.set("en")
    yield
    current_language.reset(token)


def _pdf_text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(BytesIO(pdf)).pages)


def _labels(rules: RiskRules, language: str = "en") -> list[str]:
    return [gettext_for(language, label) for label in rules.reasons.values()]


async def _history(store: Store, clock: FakeClock, q: Questionnaire, rules: RiskRules,
                   days: int = 30) -> tuple[ReviewService, Clinician, Client]:
    """A month of history, and yesterday an alert stored as the issue found them: one
    reason twice (an elevated and a high rule give the same reason), acknowledged 65
    minutes later with a note."""
    lane = await make_clinician(store, clock, telegram_id=7301, name="Dr Lane")
    client = await enrolled_client(store, clock, lane, 8301, timezone="Europe/Madrid")
    clock.advance(days=days)
    await seed_history(store, q, rules, client, end=client_today(client, clock.now()),
                       days=days)
    raised = clock.now() - timedelta(days=1)
    async with store.transaction() as uow:
        alert = await uow.alerts.add(
            client_id=client.id, checkin_id=None, level="high", now=raised,
            detail={"reasons": list(REPEATED), "rules": [], "answers": []},
            next_escalation_at=None)
        await uow.alerts.acknowledge(alert.id, by=lane.id, now=raised + timedelta(minutes=65))
        await uow.alerts.add_note(alert.id, client.id, NOTE, by=lane.id,
                                  now=raised + timedelta(minutes=66))
        # The supervisor's escalated copy, acknowledged later: a second note, not a new one.
        sup = await uow.clinicians.add(telegram_id=7399, name="Dr Sup", role="supervisor",
                                       now=raised)
        await uow.alerts.add_note(alert.id, client.id, SECOND_NOTE, by=sup.id,
                                  now=raised + timedelta(minutes=90))
    return (ReviewService(clock=clock, questionnaire=q, rules=rules,
                          display_timezone="Europe/London"), lane, client)


REPEATED = ("GENERAL_INDICATOR", "HIGH_RISK_SITUATION", "SEXUAL_VIOLENT_INDICATOR",
            "GENERAL_INDICATOR", "HIGH_RISK_SITUATION")


async def test_each_reason_once_in_the_report_and_the_summary(
        store: Store, clock: FakeClock, q: Questionnaire, rules: RiskRules,
        english: None) -> None:
    review, lane, client = await _history(store, clock, q, rules)
    async with store.transaction() as uow:
        data = await review.report(uow, lane, client.code, 30)
        summary = await review.summary(uow, lane, client.code)
    assert all(len(set(row.reasons)) == len(row.reasons) for row in data.alert_rows)
    text = _pdf_text(build_report(data))
    assert any(gettext_for("en", "General indicator above threshold") in r
               for row in data.alert_rows for r in row.reasons)
    assert repeated_phrases(text, _labels(rules)) == []
    chat = summary_text(summary, 5)
    assert summary.alert_rows and repeated_phrases(chat, _labels(rules)) == []
    # The check itself catches a repeat, wrapped over a line or not.
    doubled = "2026-03-02 08:55 CET High (open): General indicator above\nthreshold; " \
              "Was in a high-risk situation; General indicator above threshold"
    assert repeated_phrases(doubled, _labels(rules))


async def test_every_time_names_the_viewers_zone_in_the_report_and_the_summary(
        store: Store, clock: FakeClock, q: Questionnaire, rules: RiskRules,
        english: None, monkeypatch: pytest.MonkeyPatch) -> None:
    review, lane, client = await _history(store, clock, q, rules)
    async with store.transaction() as uow:
        await uow.clinicians.set_locale(lane.id, timezone="America/New_York")
        lane = await uow.clinicians.get(lane.id) or lane
        data = await review.report(uow, lane, client.code, 30)
        summary = await review.summary(uow, lane, client.code)
    text = _pdf_text(build_report(data))
    assert data.timezone == summary.timezone == "America/New_York"
    assert times_without_zone(text) == []
    assert (" EST" in text or " EDT" in text) and " CET" not in text  # not the client's
    chat = summary_text(summary, 5)
    assert times_without_zone(chat) == [] and (" EDT" in chat or " EST" in chat)
    # A time printed without its zone is caught in the PDF's text.
    monkeypatch.setattr(report_module, "shown_time", lambda moment, _zone: f"{moment:%H:%M}")
    assert times_without_zone(_pdf_text(build_report(data)))


async def test_a_session_sees_who_acknowledged_how_fast_with_the_note_and_each_day(
        store: Store, clock: FakeClock, q: Questionnaire, rules: RiskRules,
        english: None) -> None:
    review, lane, client = await _history(store, clock, q, rules)
    async with store.transaction() as uow:
        data = await review.report(uow, lane, client.code, 30)
        checkins = await uow.checkins.recent(client.id, since=data.start, until=data.end)
    acknowledged = [r for r in data.alert_rows if r.acknowledged_at is not None]
    assert acknowledged and all(r.acknowledged_by == "Dr Lane" for r in acknowledged)
    # The seed acknowledges 57 minutes after raising; the alert of yesterday took 65.
    assert {r.response_minutes for r in acknowledged} == {57, 65}
    noted = [r for r in data.alert_rows if r.notes]
    assert [[(n.author, n.text) for n in r.notes] for r in noted] == [
        [("Dr Lane", NOTE), ("Dr Sup", SECOND_NOTE)]]
    text = " ".join(_pdf_text(build_report(data)).split())
    assert "Acknowledged by Dr Lane at" in text and "after 57 minutes." in text
    assert "after 1 hour 5 minutes." in text
    # Both notes, each under its author and time, the first one kept as it was.
    first, second = noted[0].notes
    assert (f"Note by Dr Lane, {shown_time(first.at, 'Europe/London')}: {NOTE}" in text)
    assert (f"Note by Dr Sup, {shown_time(second.at, 'Europe/London')}: {SECOND_NOTE}"
            in text)

    # Day by day: the answers of each submitted day, in words.
    rows = {row.day: row for row in data.day_rows}
    assert len(rows) == 30
    for checkin in checkins:
        if checkin.status != "submitted" or not checkin.state:
            assert rows[checkin.local_date].lapse is None
            continue
        answers = answers_of(checkin.state)
        row = rows[checkin.local_date]
        assert (row.lapse, row.self_harm) == (answers["lapse"], answers["self_harm"])
        assert len(row.small_decisions) == len(answers["suds"])  # type: ignore[arg-type]
        assert len(row.good_life) == len(answers["good_life"])  # type: ignore[arg-type]
        assert set(row.domains) == set((checkin.scores or {})["domains"])
    assert "Day by day" in text and "Went past places I avoid" in text or \
        "Stayed up late online" in text
    assert "Work" in text or "Relationships" in text or "Health" in text
    # Each domain's own indicator, beside the roll-ups.
    for label in ("Access to victims", "Hostility", "Sexual preoccupation",
                  "Rejection of supervision", "Emotional collapse",
                  "Collapse of social supports", "Substance abuse"):
        assert label in text
    scored = {row.domain: row for row in data.domain_rows}
    assert scored["hostility"].days == sum(1 for r in data.day_rows if r.status == "submitted")


async def test_each_clinician_reads_the_report_and_summary_in_their_own_language(
        store: Store, clock: FakeClock, q: Questionnaire, rules: RiskRules) -> None:
    review, lane, client = await _history(store, clock, q, rules)
    async with store.transaction() as uow:
        ruiz = await uow.clinicians.add(telegram_id=7302, name="Dra. Ruiz", role="supervisor",
                                        now=clock.now(), language="es",
                                        timezone="America/Bogota")
        spanish = await review.report(uow, ruiz, client.code, 30)
        english = await review.report(uow, lane, client.code, 30)
        summary_es = await review.summary(uow, ruiz, client.code)
    es, en = _pdf_text(build_report(spanish)), _pdf_text(build_report(english))
    assert "Informe de sesión" in es and "Session report" not in es
    assert "Session report" in en and "Informe de sesión" not in en
    assert " -05" in es or "-05" in es  # Bogotá names its zone by its offset
    assert times_without_zone(es) == [] and times_without_zone(en) == []
    assert repeated_phrases(es, _labels(rules, "es")) == []
    token = current_language.set("es")
    try:
        chat = summary_text(summary_es, 5)
    finally:
        current_language.reset(token)
    assert "Alertas" in chat and times_without_zone(chat) == []


def test_a_response_time_reads_in_words() -> None:
    assert duration_text(1, "en") == "1 minute"
    assert duration_text(65, "en") == "1 hour 5 minutes"
    assert duration_text(60 * 26, "es") == "1 día 2 horas"


@pytest.mark.parametrize(("start", "end"), [(date(2026, 2, 10), date(2026, 3, 11)),
                                            (date(2026, 2, 26), date(2026, 3, 11)),
                                            (date(2025, 3, 12), date(2026, 3, 11))])
def test_the_date_axis_names_the_month_from_its_first_label(start: date, end: date) -> None:
    ticks = charts.date_ticks(start, end)
    assert ticks[0][0] >= start and ticks[-1][0] <= end
    first = ticks[0][1]
    assert any(month in first for month in ("Feb", "Mar", "Apr")), first
    months = {d.month for d, _label in ticks}
    for d, label in ticks:  # each month is named where its labels begin
        if d.month in months and d == min(x for x, _l in ticks if x.month == d.month):
            assert not label.isdigit(), label
    assert charts.date_ticks(start, end, "es")[0][1].split()[-1] in ("feb", "mar", "abr",
                                                                     "2025", "2026")


def test_series_sharing_an_axis_are_told_apart() -> None:
    start = date(2026, 2, 1)
    points = [charts.DayPoint(start + timedelta(days=n), {"sexual_violent": 2, "general": 2},
                              {"confidence": 7, "coping": 7, "coping_effect": 7},
                              {"hostility": 1}) for n in range(14)]  # every value equal
    roll_ups = (charts.Series("roll_up", "sexual_violent", "SV", 8, charts.Thresholds(3, 5)),
                charts.Series("roll_up", "general", "General", 14, charts.Thresholds(6, 9)))
    scales = tuple(charts.Series("scale", name, name, 10)
                   for name in ("confidence", "coping", "coping_effect"))
    figure = charts.summary_figure(points, roll_ups, scales,
                                   start=start, end=start + timedelta(days=13))
    for ax in figure.axes:
        series = [line for line in ax.get_lines() if len(line.get_xdata()) > 2]
        looks = {(line.get_marker(), line.get_linestyle(), line.get_color())
                 for line in series}
        assert len(looks) == len(series)  # no two drawn alike
        drawn = {(tuple(line.get_xdata()), tuple(line.get_ydata())) for line in series}
        assert len(drawn) == len(series)  # equal values are nudged apart, not stacked
    # The two roll-ups are panels of their own: a panel holds one indicator series.
    assert sum(1 for ax in figure.axes if len([line for line in ax.get_lines()
                                               if len(line.get_xdata()) > 2]) == 1) == 2
    axis = figure.axes[1]
    labels = [t.get_text() for t in axis.get_xticklabels()]
    assert labels[0] == "1 Feb"
