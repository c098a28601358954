"""A report a clinician can hand over: alerts newest first in the PDF and the chat as on the
page, a year summarised a month a row, and no alert dot cut in half at the plot's edge."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from io import BytesIO

import pytest
from pypdf import PdfReader

from bot.views.review import summary_text
from journal.alerts.rules import RiskRules
from journal.alerts.rules_file import load_rules
from journal.checkin.questionnaire import Questionnaire
from journal.checkin.questionnaire_file import load_questionnaire
from journal.clock import FakeClock
from journal.review import charts
from journal.review.report import build_report
from storage.uow import Store
from tests.test_report import _seeded

TIME = re.compile(r"(\d{4}-\d{2}-\d{2} \d{2}:\d{2}) \w+ {2}(?:Critical|High|Elevated)")


@pytest.fixture
def q() -> Questionnaire:
    return load_questionnaire()


@pytest.fixture
def rules(q: Questionnaire) -> RiskRules:
    return load_rules(questionnaire=q)


def _text(pdf: bytes) -> tuple[int, str]:
    reader = PdfReader(BytesIO(pdf))
    return len(reader.pages), "\n".join(page.extract_text() for page in reader.pages)


async def test_alerts_read_newest_first_in_the_pdf_and_the_chat(
        store: Store, clock: FakeClock, q: Questionnaire, rules: RiskRules) -> None:
    review, lane, client, _seed = await _seeded(store, clock, q, rules, days=30)
    async with store.transaction() as uow:
        data = await review.report(uow, lane, client.code, 30)
        summary = await review.summary(uow, lane, client.code)
    _pages, text = _text(build_report(data))
    section = text.split("Day by day")[0].split("Alerts\n")[-1]
    times = TIME.findall(section)
    assert len(times) == len(data.alert_rows) >= 3
    assert times == sorted(times, reverse=True)
    chat = summary_text(summary, 10)
    shown = re.findall(r"• (\d{4}-\d{2}-\d{2} \d{2}:\d{2})", chat)
    assert len(shown) >= 2 and shown == sorted(shown, reverse=True)


async def test_a_year_is_a_month_a_row_and_far_fewer_pages(
        store: Store, clock: FakeClock, q: Questionnaire, rules: RiskRules) -> None:
    review, lane, client, _seed = await _seeded(store, clock, q, rules, days=365)
    async with store.transaction() as uow:
        year = await review.report(uow, lane, client.code, 365)
        month = await review.report(uow, lane, client.code, 30)
    pages, text = _text(build_report(year))
    # The same year day by day took 37 pages (10 of them the day table, 6 the alerts).
    assert pages <= 20, pages
    assert "Month by month" in text and "Day by day" not in text
    months = re.findall(r"^(\d{4}-\d{2}) \d+/\d+", text, flags=re.M)
    assert len(months) in (12, 13) and months == sorted(months, reverse=True)
    assert "older alerts are counted in the month-by-month table" in " ".join(text.split())
    # Every word the client wrote is still there.
    flat = " ".join(text.split())
    for entry in year.journal[-5:]:
        assert " ".join(entry.text.split())[:40] in flat
    _pages, short = _text(build_report(month))
    assert "Day by day" in short and "Month by month" not in short


def test_an_alert_at_either_end_of_the_period_is_drawn_whole() -> None:
    start, end = datetime(2026, 2, 1).date(), datetime(2026, 3, 2).date()
    marks = [charts.AlertMark(datetime.combine(start, time(0, 1), UTC), "critical", True),
             charts.AlertMark(datetime.combine(end, time(23, 58), UTC), "high", False),
             charts.AlertMark(datetime.combine(end, time(12), UTC) - timedelta(days=3),
                              "elevated", False)]
    figure = charts.alert_figure(marks, start=start, end=end)
    figure.canvas.draw()
    ax = figure.axes[0]
    box = ax.get_window_extent()
    seen = 0
    for collection in ax.collections:
        radius = collection.get_sizes()[0] ** 0.5 / 2 * figure.dpi / 72
        for x, y in collection.get_offset_transform().transform(collection.get_offsets()):
            seen += 1
            assert box.x0 <= x - radius and x + radius <= box.x1, (x, radius, box)
            assert box.y0 <= y - radius and y + radius <= box.y1
    assert seen == 3
