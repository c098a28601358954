"""The client page's charts as inline SVG, drawn here in Python: no script runs in the
browser and nothing is fetched from elsewhere, so the page keeps `default-src 'self'`.

One small chart for each series (small multiples) instead of several lines on one chart:
series never hide each other, and each chart carries its own thresholds as dashed lines.
The axis names the month at every month's first day and at its first tick, so a reader
never has to count ticks back to the last label; labels that would touch another are left
out (the busiest ones first), never drawn over each other. Text is sized for the width a
chart is shown at, so it reads at 11 px or more on a phone. Each chart is an image with a title and a
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
NARROW_WIDTH: Final = 340  # a roll-up's chart at phone width
LEFT, TOP = 30, 10  # room for the y labels
FONT: Final = 11.0  # px in the chart's own units
# The narrowest a chart is shown (a 390 px phone less the page's margins): a chart's font
# is scaled so that, drawn this wide, its text is at least MIN_SHOWN px.
SHOWN_AT_LEAST: Final = 330
MIN_SHOWN: Final = 11.5
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


def font_for(width: int) -> float:
    """The font size of a chart `width` units wide shown as narrow as SHOWN_AT_LEAST px,
    in half units: never under FONT."""
    return max(FONT, -(-2 * MIN_SHOWN * width // SHOWN_AT_LEAST) / 2)


def text_width(text: str, font: float) -> float:
    """About how wide `text` is drawn (DejaVu Sans and the like, a little generous)."""
    units = 0.0
    for char in text:
        units += (.32 if char.isspace() else .66 if char.isdigit()
                  else .76 if char.isupper() else .64)
    return units * font


def bottom_for(font: float) -> float:
    """Room under the plot for a tick and a line of labels."""
    return round(font * 1.35 + 8)


class _Frame:
    """Where a day and a value fall inside one chart."""

    def __init__(self, start: date, end: date, top: int, width: int, height: int,
                 right: float, font: float = FONT) -> None:
        self.start, self.end, self.top = start, end, max(1, top)
        self.width, self.height, self.right = width, height, right
        self.font, self.bottom = font, bottom_for(font)
        self.span = max(1, (end - start).days)

    def x(self, day: date) -> float:
        return LEFT + (self.width - LEFT - self.right) * (day - self.start).days / self.span

    def y(self, value: float) -> float:
        return TOP + (self.height - TOP - self.bottom) * (1 - value / self.top)


def month_ticks(start: date, end: date, month_name: Callable[[date], str]
                ) -> list[tuple[date, str]]:
    """(day, label) of the ticks on a date axis. Over long ranges every month's first day is named; the
    first tick names its month too, unless a month begins within a few days of it. Short
    ranges get a tick a week (two days, up to two weeks), labelled with the day of the
    month, and with the month's name at the first tick in it."""
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
            # The first tick of each month names it: "Dec 29", "31", "Jan 2", never a bare
            # number after a new month began.
            named = not ticks or ticks[-1][0].month != day.month
            ticks.append((day, f"{month_name(day)} {day.day}" if named else str(day.day)))
            day += timedelta(days=step)
        return ticks
    near = firsts and (firsts[0] - start).days < max(5, span // 24)
    if not near:
        ticks.append((start, month_name(start)))
    ticks += [(f, month_name(f)) for f in firsts]
    if span > 200:  # a year: every other month, so twelve names never collide
        ticks = [t for i, t in enumerate(ticks) if i % 2 == 0 or t[0].month == 1]
    return ticks


def _axis(frame: _Frame, ticks: Sequence[tuple[date, str]], years: bool) -> list[str]:
    """The date axis: a tick mark at each tick, and the labels that fit. A label starts
    under its tick when centring it would reach past the plot's left end (under the y
    labels) or the chart's right edge; a label that would come closer than half a letter
    to one already placed is left out, placing first those that name a year, then a
    month, then a day."""
    base = frame.height - frame.bottom
    font = frame.font
    parts = [f'<line x1="{LEFT}" y1="{base}" x2="{frame.width - frame.right}" y2="{base}" '
             f'stroke="#888" stroke-width="1"/>']
    labels = []
    for index, (day, label) in enumerate(ticks):
        x = frame.x(day)
        new_year = index == 0 or day.year != ticks[index - 1][0].year
        text = f"{label} {day.year}" if years and new_year else label
        wide = text_width(text, font)
        left = min(max(x - wide / 2, LEFT - 4), frame.width - 2 - wide)
        rank = 0 if text != label else 1 if not text.isdigit() else 2
        labels.append((rank, index, left, wide, text))
        parts.append(f'<line x1="{_fmt(x)}" y1="{base}" x2="{_fmt(x)}" y2="{base + 4}" '
                     f'stroke="#888"/>')
    placed: list[tuple[float, float]] = []
    gap = font / 2
    for _rank, _index, left, wide, text in sorted(labels):
        if any(left < right + gap and left + wide + gap > other for other, right in placed):
            continue
        placed.append((left, left + wide))
        parts.append(f'<text x="{_fmt(left)}" y="{_fmt(base + 5 + font)}" font-size="{font}" '
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
               height: int = HEIGHT, font: float | None = None,
               labels_inside: bool = False) -> Markup:
    """One series over the days, 0 to `top`, with its thresholds as labelled dashed lines.
    Over more than SMOOTH_AFTER days the daily values are drawn light, under a bold 7-day
    average: a year of daily ups and downs otherwise hides the trend. `font`: the text's
    size in the chart's units (default: font_for(width)). `labels_inside`: the thresholds'
    labels sit on their lines at the plot's right end (a phone's narrow chart keeps its
    width for the days), else in a margin to the right of the plot."""
    font = font or font_for(width)
    shown = [t for t in thresholds if t.value <= top]
    right = 8.0 if labels_inside else max((text_width(t.label, font) + 8 for t in shown),
                                          default=8.0)
    frame = _Frame(days[0], days[-1], top, width, height, right, font)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
             f'class="chart" role="img" aria-labelledby="{chart_id}-t {chart_id}-d" '
             f'id="{chart_id}" focusable="false">',
             f'<title id="{chart_id}-t">{escape(title)}</title>',
             f'<desc id="{chart_id}-d">{escape(description)}</desc>']
    middle = () if thresholds else (top // 2,)
    # The y labels that fit: a value closer than a line of text to one shown is left out.
    marks: list[float] = []
    for value in sorted({0, top, *middle, *(t.value for t in shown)},
                        key=lambda v: (v not in (0, top), v)):
        y = frame.y(value)
        labelled = all(abs(y - other) >= font for other in marks)
        if labelled:
            marks.append(y)
        parts.append(f'<line x1="{LEFT}" y1="{_fmt(y)}" x2="{_fmt(width - right)}" '
                     f'y2="{_fmt(y)}" stroke="#e3e3e3" stroke-width="1"/>')
        if labelled:
            parts.append(f'<text x="{LEFT - 5}" y="{_fmt(y + font * .35)}" font-size="{font}" '
                         f'text-anchor="end" fill="#333">{value}</text>')
    labels: list[float] = []
    for threshold in sorted(shown, key=lambda t: -t.value):
        color, dash = THRESHOLD_STYLE.get(threshold.kind, ("#555", "4 2"))
        y = frame.y(threshold.value)
        parts.append(f'<line x1="{LEFT}" y1="{_fmt(y)}" x2="{_fmt(width - right)}" '
                     f'y2="{_fmt(y)}" stroke="{color}" stroke-width="1.4" '
                     f'stroke-dasharray="{dash}"/>')
        if labels_inside:  # above its line, or below it when the one above is too close
            at = y - 3 if all(abs(y - 3 - other) >= font * 1.1 for other in labels) \
                else y + font
            labels.append(at)
            parts.append(f'<text x="{_fmt(width - right - 2)}" y="{_fmt(at)}" '
                         f'font-size="{font}" text-anchor="end" fill="{color}" stroke="#fff" '
                         f'stroke-width="3" paint-order="stroke">'
                         f'{escape(threshold.label)}</text>')
            continue
        at = max([y + font * .35, *(other + font * 1.1 for other in labels)])
        labels.append(at)
        parts.append(f'<text x="{_fmt(width - right + 4)}" y="{_fmt(at)}" '
                     f'font-size="{font}" fill="{color}">{escape(threshold.label)}</text>')
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
                   month_name: Callable[[date], str], weekday_names: Sequence[str], *,
                   weeks_per_row: int | None = None) -> Markup:
    """The adherence calendar: a column a week, a row a weekday (Monday first), each day's
    cell coloured by what the client did, with the day and its state as a tooltip. Missed
    days are also crossed, so the calendar reads without telling colours apart. With
    `weeks_per_row`, the weeks wrap into bands of that many (a year on a phone), each with
    its weekday and month names, so nothing scrolls sideways."""
    first = days[0][0] - timedelta(days=days[0][0].weekday())
    weeks = (days[-1][0] - first).days // 7 + 1
    per_row = weeks_per_row or weeks
    bands = -(-weeks // per_row)
    font = FONT
    left, top = 34, 18
    band = top + 7 * CELL + 8
    width, height = left + min(weeks, per_row) * CELL + 4, bands * band
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}" class="calendar" role="img" aria-labelledby="{chart_id}-t {chart_id}-d" '
             f'id="{chart_id}" focusable="false">',
             f'<title id="{chart_id}-t">{escape(title)}</title>',
             f'<desc id="{chart_id}-d">{escape(description)}</desc>']
    for number in range(bands):
        for row in (0, 2, 4):
            parts.append(f'<text x="{left - 4}" y="{number * band + top + row * CELL + 10}" '
                         f'font-size="{font}" text-anchor="end" fill="#333">'
                         f'{escape(weekday_names[row])}</text>')
    months: list[tuple[int, int, str]] = []  # band, x, name: where each month is named
    named: tuple[int, int] | None = None
    for day, state in days:
        week = (day - first).days // 7
        number, column = divmod(week, per_row)
        x, y = left + column * CELL, number * band + top + day.weekday() * CELL
        if (number, day.month) != named and (day.day <= 7 or named is None
                                             or named[0] != number):
            named = (number, day.month)
            months.append((number, x, month_name(day)))
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
    # A month's name that would touch the next one's (a band's first, part-shown month)
    # gives way to it; one that would pass the right edge is left out.
    for index, (number, x, name) in enumerate(months):
        end = x + text_width(name, font)
        after = months[index + 1] if index + 1 < len(months) else None
        if after is not None and after[0] == number and end + font / 2 > after[1]:
            continue
        if end > width:
            continue
        parts.append(f'<text x="{x}" y="{number * band + top - 5}" font-size="{font}" '
                     f'fill="#333">{escape(name)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


__all__ = ["NARROW_WIDTH", "SMALL_WIDTH", "Threshold", "calendar_chart", "font_for",
           "line_chart", "month_ticks", "rolling_mean", "text_width"]
