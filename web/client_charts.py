"""The client page's charts as inline SVG, drawn here in Python: no script runs in the
browser and nothing is fetched from elsewhere, so the page keeps `default-src 'self'`.

One small chart for each series (small multiples) instead of several lines on one chart:
series never hide each other, and each chart carries its own thresholds as dashed lines.
The axis names the month at every month's first day and at its first tick, so a reader
never has to count ticks back to the last label. Each chart is an image with a title and a
description that says in words what it shows; the page also gives the values as a table.

Colours come as presentation attributes, never `style=`: a CSP without 'unsafe-inline'
blocks inline styles, but not SVG attributes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final

from markupsafe import Markup, escape

from journal.review.charts import DAY_COLORS

WIDTH: Final = 640
HEIGHT: Final = 118
SMALL_WIDTH: Final = 320  # a small multiple: drawn at about its shown size, so text stays legible
LEFT, TOP, BOTTOM = 30, 10, 24  # room for the y labels and the month names
LABELS_RIGHT: Final = 92  # room for the thresholds' labels
LINE: Final = "#0b5394"
DAILY: Final = "#9db7d5"  # each day's value, under the week's average on long ranges
SMOOTH_AFTER: Final = 45  # days; longer ranges add a 7-day average
WINDOW: Final = 7
THRESHOLD_STYLE: Final = {"elevated": ("#b36b00", "6 3"), "high": ("#c0392b", "2 2")}


@dataclass(frozen=True)
class Threshold:
    value: int
    label: str  # "Elevated from 4", already in the viewer's language
    kind: str  # elevated | high


def _fmt(number: float) -> str:
    return f"{number:.1f}".rstrip("0").rstrip(".")


class _Frame:
    """Where a day and a value fall inside one chart."""

    def __init__(self, start: date, end: date, top: int, width: int, height: int,
                 right: int) -> None:
        self.start, self.end, self.top = start, end, max(1, top)
        self.width, self.height, self.right = width, height, right
        self.span = max(1, (end - start).days)

    def x(self, day: date) -> float:
        return LEFT + (self.width - LEFT - self.right) * (day - self.start).days / self.span

    def y(self, value: float) -> float:
        return TOP + (self.height - TOP - BOTTOM) * (1 - value / self.top)


def month_ticks(start: date, end: date, month_name: Callable[[date], str]
                ) -> list[tuple[date, str]]:
    """(day, label) of the ticks on a date axis. Every month's first day is named; the
    first tick names its month too, unless a month begins within a few days of it. Short
    ranges get a tick a week, labelled with the day of the month."""
    span = (end - start).days
    ticks: list[tuple[date, str]] = []
    firsts = []
    day = start.replace(day=1)
    while day <= end:
        if day >= start:
            firsts.append(day)
        day = (day + timedelta(days=32)).replace(day=1)
    if span <= 45:
        step = 7 if span > 14 else 2
        day = start
        while day <= end:
            named = day == start or any(f == day for f in firsts)
            ticks.append((day, f"{month_name(day)} {day.day}" if named else str(day.day)))
            day += timedelta(days=step)
        for first in firsts:
            if all(abs((first - t).days) > 1 for t, _l in ticks):
                ticks.append((first, f"{month_name(first)} 1"))
        return sorted(ticks)
    near = firsts and (firsts[0] - start).days < max(5, span // 24)
    if not near:
        ticks.append((start, month_name(start)))
    ticks += [(f, month_name(f)) for f in firsts]
    if span > 200:  # a year: every other month, so twelve names never collide
        ticks = [t for i, t in enumerate(ticks) if i % 2 == 0 or t[0].month == 1]
    return ticks


def _axis(frame: _Frame, ticks: Sequence[tuple[date, str]], years: bool) -> list[str]:
    base = frame.height - BOTTOM
    parts = [f'<line x1="{LEFT}" y1="{base}" x2="{frame.width - frame.right}" y2="{base}" '
             f'stroke="#888" stroke-width="1"/>']
    for day, label in ticks:
        x = _fmt(frame.x(day))
        text = f"{label} {day.year}" if years and (day.month == 1 or day == ticks[0][0]) \
            else label
        parts.append(f'<line x1="{x}" y1="{base}" x2="{x}" y2="{base + 4}" stroke="#888"/>'
                     f'<text x="{x}" y="{base + 15}" font-size="10" text-anchor="middle" '
                     f'fill="#333">{escape(text)}</text>')
    return parts


def rolling_mean(values: Sequence[int | None], window: int = WINDOW
                 ) -> list[float | None]:
    """Each day's average over the last `window` days that have a value; None where fewer
    than three of them do, so a sparse stretch draws no invented trend."""
    out: list[float | None] = []
    for index in range(len(values)):
        known = [v for v in values[max(0, index - window + 1):index + 1] if v is not None]
        out.append(sum(known) / len(known) if len(known) >= 3 else None)
    return out


def _path(frame: _Frame, days: Sequence[date], values: Sequence[float | None], *,
          color: str, width: float, dots: bool) -> list[str]:
    """The series as line segments broken at each day without a value; a day alone
    between gaps is drawn as a dot, so it is not lost."""
    parts: list[str] = []
    run: list[tuple[float, float]] = []

    def flush() -> None:
        if len(run) == 1 or (run and dots):
            parts.extend(f'<circle cx="{_fmt(x)}" cy="{_fmt(y)}" r="{max(1.5, width + .8)}" '
                         f'fill="{color}"/>' for x, y in run)
        if len(run) > 1:
            points = " ".join(f"{_fmt(x)},{_fmt(y)}" for x, y in run)
            parts.append(f'<polyline points="{points}" fill="none" stroke="{color}" '
                         f'stroke-width="{width}" stroke-linejoin="round"/>')
        run.clear()

    for day, value in zip(days, values, strict=True):
        if value is None:
            flush()
        else:
            run.append((frame.x(day), frame.y(value)))
    flush()
    return parts


def line_chart(chart_id: str, title: str, description: str, days: Sequence[date],
               values: Sequence[int | None], *, top: int, thresholds: Sequence[Threshold] = (),
               month_name: Callable[[date], str], width: int = WIDTH,
               height: int = HEIGHT) -> Markup:
    """One series over the days, 0 to `top`, with its thresholds as labelled dashed lines.
    Over more than SMOOTH_AFTER days the daily values are drawn light, under a bold 7-day
    average: a year of daily ups and downs otherwise hides the trend."""
    right = LABELS_RIGHT if thresholds else 8
    frame = _Frame(days[0], days[-1], top, width, height, right)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
             f'class="chart" role="img" aria-labelledby="{chart_id}-t {chart_id}-d" '
             f'id="{chart_id}" focusable="false">',
             f'<title id="{chart_id}-t">{escape(title)}</title>',
             f'<desc id="{chart_id}-d">{escape(description)}</desc>']
    middle = () if thresholds else (top // 2,)
    for value in sorted({0, top, *middle, *(t.value for t in thresholds if t.value <= top)}):
        y = _fmt(frame.y(value))
        parts.append(f'<line x1="{LEFT}" y1="{y}" x2="{width - right}" y2="{y}" '
                     f'stroke="#e3e3e3" stroke-width="1"/>'
                     f'<text x="{LEFT - 5}" y="{_fmt(frame.y(value) + 3.5)}" font-size="10" '
                     f'text-anchor="end" fill="#333">{value}</text>')
    for threshold in thresholds:
        if threshold.value > top:
            continue
        color, dash = THRESHOLD_STYLE.get(threshold.kind, ("#555", "4 2"))
        y = _fmt(frame.y(threshold.value))
        parts.append(f'<line x1="{LEFT}" y1="{y}" x2="{width - right}" y2="{y}" '
                     f'stroke="{color}" stroke-width="1.4" stroke-dasharray="{dash}"/>'
                     f'<text x="{width - right + 4}" y="{_fmt(frame.y(threshold.value) + 3.5)}" '
                     f'font-size="10" fill="{color}">{escape(threshold.label)}</text>')
    if len(days) > SMOOTH_AFTER:
        parts += _path(frame, days, values, color=DAILY, width=0.8, dots=False)
        parts += _path(frame, days, rolling_mean(values), color=LINE, width=2.0, dots=False)
    else:
        parts += _path(frame, days, values, color=LINE, width=1.8, dots=True)
    ticks = month_ticks(days[0], days[-1], month_name)
    parts += _axis(frame, ticks, years=days[0].year != days[-1].year)
    parts.append("</svg>")
    return Markup("".join(parts))


CELL: Final = 13


def calendar_chart(chart_id: str, title: str, description: str,
                   days: Sequence[tuple[date, str]], state_label: Callable[[str], str],
                   month_name: Callable[[date], str], weekday_names: Sequence[str]) -> Markup:
    """The adherence calendar: a column a week, a row a weekday (Monday first), each day's
    cell coloured by what the client did, with the day and its state as a tooltip. Missed
    days are also crossed, so the calendar reads without telling colours apart."""
    first = days[0][0] - timedelta(days=days[0][0].weekday())
    weeks = (days[-1][0] - first).days // 7 + 1
    left, top = 30, 16
    width, height = left + weeks * CELL + 4, top + 7 * CELL + 4
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}" class="calendar" role="img" aria-labelledby="{chart_id}-t {chart_id}-d" '
             f'id="{chart_id}" focusable="false">',
             f'<title id="{chart_id}-t">{escape(title)}</title>',
             f'<desc id="{chart_id}-d">{escape(description)}</desc>']
    for row in (0, 2, 4):
        parts.append(f'<text x="{left - 4}" y="{top + row * CELL + 10}" font-size="9" '
                     f'text-anchor="end" fill="#333">{escape(weekday_names[row])}</text>')
    named_month = None
    for day, state in days:
        week = (day - first).days // 7
        x, y = left + week * CELL, top + day.weekday() * CELL
        if day.month != named_month and (day.day <= 7 or named_month is None):
            named_month = day.month
            parts.append(f'<text x="{x}" y="{top - 4}" font-size="9" fill="#333">'
                         f'{escape(month_name(day))}</text>')
        parts.append(f'<rect x="{x}" y="{y}" width="{CELL - 2}" height="{CELL - 2}" rx="2" '
                     f'fill="{DAY_COLORS.get(state, "#dde6f0" if state == "paused" else "#eee")}">'
                     f'<title>{day.isoformat()}: {escape(state_label(state))}</title></rect>')
        if state == "missed":
            parts.append(f'<path d="M{x + 3} {y + 3}L{x + CELL - 5} {y + CELL - 5}'
                         f'M{x + CELL - 5} {y + 3}L{x + 3} {y + CELL - 5}" stroke="#fff" '
                         f'stroke-width="1.4"/>')
        elif state == "paused":
            parts.append(f'<path d="M{x + 2} {y + CELL - 4}L{x + CELL - 4} {y + 2}" '
                         f'stroke="#6b7f99" stroke-width="1.2"/>')
    parts.append("</svg>")
    return Markup("".join(parts))


__all__ = ["SMALL_WIDTH", "Threshold", "calendar_chart", "line_chart", "month_ticks",
           "rolling_mean"]
