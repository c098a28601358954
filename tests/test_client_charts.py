"""The client page's SVG charts as drawn in Python: the date axis names each month at its
first tick, a year range names each year once, and labels that would touch are left out
(tests/test_workspace_pages_browser.py measures the drawn boxes in Chromium)."""

from __future__ import annotations

import re
from datetime import date, timedelta

from web.client_charts import NARROW_WIDTH, font_for, line_chart, month_ticks, text_width
from web.client_page import month_namer

MONTHS = month_namer("en")


def labels(svg: str) -> list[tuple[float, float, str]]:
    """(x, y, text) of every text element of a chart."""
    return [(float(x), float(y), text) for x, y, text in
            re.findall(r'<text x="([\d.]+)" y="([\d.]+)"[^>]*>([^<]*)</text>', svg)]


def test_a_short_range_names_each_month_at_its_first_tick() -> None:
    start = date(2025, 12, 23)
    ticks = [label for _day, label in month_ticks(start, start + timedelta(days=13), MONTHS)]
    assert ticks == ["Dec 23", "25", "27", "29", "31", "Jan 2", "4"]
    week = [label for _d, label in month_ticks(date(2025, 11, 10), date(2025, 12, 9), MONTHS)]
    assert week == ["Nov 10", "17", "24", "Dec 1", "8"]


def test_axis_labels_never_touch_and_each_year_is_named_once() -> None:
    for days, width in ((14, NARROW_WIDTH), (365, NARROW_WIDTH), (365, 640), (30, 320)):
        end = date(2026, 1, 5)
        span = [end - timedelta(days=days - 1 - i) for i in range(days)]
        svg = str(line_chart("c", "t", "d", span, [i % 3 for i in range(days)], top=2,
                             month_name=MONTHS, width=width, height=150))
        font = font_for(width)
        drawn = labels(svg)
        bottom = max(y for _x, y, _t in drawn)
        axis = sorted((x, text) for x, y, text in drawn if y == bottom)
        for (x1, a), (x2, _b) in zip(axis, axis[1:], strict=False):
            assert x1 + text_width(a, font) + font / 2 <= x2, (days, width, axis)
        assert all(x + text_width(t, font) <= width for x, t in axis)
        years = [t for _x, t in axis if re.search(r"20\d\d", t)]
        assert len(years) == len({t[-4:] for t in years}) >= 1, axis
