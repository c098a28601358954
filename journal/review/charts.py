"""Charts of a client's self-report indicators (matplotlib, Agg, no pyplot): as PNG bytes
(`*_chart`), or as figures (`*_figure`) whose `pixels()` a document embeds.

matplotlib is imported inside the functions: it takes about half a second to import, and
neither the bot at start-up nor the administrator's commands should pay for it. Figures
are built with the object API (no pyplot), so nothing global is shared between threads.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, Literal

from journal.alerts.levels import LABELS as LEVEL_LABELS
from journal.alerts.levels import RULE_LEVELS as LEVEL_ORDER
from journal.i18n import N_, gettext_for

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from PIL.Image import Image as PILImage

WIDTH: Final = 1200  # pixels
HEIGHT: Final = 600
DPI: Final = 100

LEVEL_COLORS: Final = {"low": "#4c9a5b", "elevated": "#e69f00", "high": "#d55e00",
                       "critical": "#8b0000"}
# Adherence calendar: what a day's cell shows.
DAY_COLORS: Final = {"none": "#f2f2f2", "submitted": "#4c9a5b", "missed": "#d55e00",
                     "open": "#f0c94a"}
DAY_LABELS: Final = {"submitted": N_("Checked in"), "missed": N_("Missed"),
                     "open": N_("Started, not finished"), "none": N_("No check-in asked")}


@dataclass(frozen=True)
class Thresholds:
    """Where an indicator's levels begin (None when the rules define no such level)."""

    elevated: int | None = None
    high: int | None = None


@dataclass(frozen=True)
class DayPoint:
    """One local day's values; a name is absent where the client did not check in or
    skipped."""

    day: date
    roll_ups: Mapping[str, int] = field(default_factory=dict)  # roll-up id -> its value
    scales: Mapping[str, int] = field(default_factory=dict)  # charted scale item -> 0..10
    domains: Mapping[str, int] = field(default_factory=dict)  # domain id -> 0..2

    def value(self, series: Series) -> int | None:
        return (self.roll_ups if series.kind == "roll_up" else self.scales).get(series.id)


@dataclass(frozen=True)
class Series:
    """One line a chart draws, named in the reader's language: a roll-up (the
    questionnaire's [[roll_ups]]) against its thresholds, or a scale item ([review] scales).
    """

    kind: Literal["roll_up", "scale"]
    id: str
    label: str
    top: int  # the highest value it can take
    thresholds: Thresholds = field(default_factory=lambda: Thresholds())


@dataclass(frozen=True)
class AlertMark:
    at: datetime
    level: str
    open: bool


def _figure(width: int, height: int) -> Figure:
    import matplotlib

    matplotlib.use("Agg", force=False)
    # FreeType's hinting of DejaVu's outlines took a quarter of the time spent drawing a
    # report's charts; at 100 dpi unhinted labels read the same.
    matplotlib.rcParams["text.hinting"] = "no_hinting"
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width / DPI, height / DPI), dpi=DPI)
    FigureCanvasAgg(figure)
    return figure


def _png(figure: Figure) -> bytes:
    """The figure as PNG bytes, for whatever shows the chart by itself (a chat, a page)."""
    buffer = io.BytesIO()
    # No bbox_inches="tight": it would change the size that callers rely on. A low zlib
    # level keeps a year's report fast; the charts are small either way.
    figure.savefig(buffer, format="png", dpi=DPI, pil_kwargs={"compress_level": 3})
    return buffer.getvalue()


def pixels(figure: Figure) -> PILImage:
    """The figure drawn once, as an RGB image of its size in pixels, for a document that
    embeds it: a PNG would be encoded here only to be decoded again by fpdf2, which then
    compresses the same pixels afresh."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image

    canvas = figure.canvas
    assert isinstance(canvas, FigureCanvasAgg)  # as _figure() made it
    canvas.draw()
    rgba = canvas.buffer_rgba()
    width, height = canvas.get_width_height()
    return Image.frombuffer("RGBA", (width, height), rgba, "raw", "RGBA", 0, 1).convert("RGB")


def _x(moments: Sequence[date | datetime]) -> Any:
    """Dates as matplotlib's day numbers (what its date axes use underneath)."""
    from matplotlib import dates as mdates

    return mdates.date2num(list(moments))


def _cells(grid: Sequence[Sequence[float]], colors: Sequence[str]) -> Any:
    """Cells numbered by category (0, 1, ...; NaN: blank) as their RGBA colours. Given the
    numbers and a colormap, imshow first stretches them to the chart's pixels and then
    colours every pixel, a tenth of a second a chart; given the colours, it only stretches."""
    import numpy as np
    from matplotlib.colors import to_rgba_array

    palette = np.vstack([to_rgba_array(list(colors)), [0.0, 0.0, 0.0, 0.0]])  # last: blank
    values = np.asarray(grid, dtype=float)
    if values.size == 0:  # no day at all: one blank cell (imshow refuses an empty picture)
        values = np.full((max(len(values), 1), 1), np.nan)
    index = np.where(np.isnan(values), len(colors), np.nan_to_num(values)).astype(int)
    return (palette * 255).round().astype(np.uint8)[index]


def _series(points: Sequence[DayPoint], series: Series) -> tuple[Any, list[float]]:
    """Every day, NaN where there is no value: the line breaks at a missed day instead of
    drawing a slope nobody reported."""
    values = [p.value(series) for p in points]
    return (_x([p.day for p in points]),
            [float("nan") if v is None else float(v) for v in values])


MONTHS: Final = (N_("Jan"), N_("Feb"), N_("Mar"), N_("Apr"), N_("May"), N_("Jun"),
                 N_("Jul"), N_("Aug"), N_("Sep"), N_("Oct"), N_("Nov"), N_("Dec"))
# Series that share an axis are told apart by colour, marker and line style together, and
# drawn a little apart, so one never hides another where their values are the same.
STYLES: Final = (("#0b5394", "o", "-"), ("#4c9a5b", "s", "--"), ("#9b59b6", "^", ":"))
NUDGE: Final = 0.12  # on a 0-10 axis: visible, never enough to misread a value


def date_ticks(start: date, end: date, language: str = "en") -> list[tuple[date, str]]:
    """Where the date axis is labelled, and how: every label that opens a month (the first
    one included) names it, so no reader has to wait for the last tick to learn it."""
    def month(day: date) -> str:
        return gettext_for(language, MONTHS[day.month - 1])

    span = (end - start).days + 1
    if span > 120:  # month starts, a year named where it starts and on the first label
        step = 1 if span <= 400 else 2
        ticks, day = [], date(start.year, start.month, 1)
        while day <= end:
            if day >= start and (day.month - 1) % step == 0:
                ticks.append(day)
            day = date(day.year + day.month // 12, day.month % 12 + 1, 1)
        return [(d, f"{month(d)} {d.year}" if n == 0 or d.month == 1 else month(d))
                for n, d in enumerate(ticks)]
    step = max(1, -(-span // 10))
    days = [start + timedelta(days=n) for n in range(0, span, step)]
    labels, shown = [], None
    for day in days:
        labels.append(f"{day.day} {month(day)}" if (day.year, day.month) != shown
                      else f"{day.day}")
        shown = (day.year, day.month)
    return list(zip(days, labels, strict=True))


def _date_axis(ax: Axes, start: date, end: date, language: str = "en") -> None:
    low, high = _x([start, end])
    # +1: the last day runs until midnight, and alerts carry their time of day.
    ax.set_xlim(low - 0.5, high + 1.0)
    ticks = date_ticks(start, end, language)
    ax.set_xticks(_x([d for d, _label in ticks]), [label for _d, label in ticks])
    ax.grid(axis="y", color="#dddddd", linewidth=0.6)


def _indicator_panel(ax: Axes, points: Sequence[DayPoint], series: Series, start: date,
                     end: date, language: str) -> None:
    t = _translator(language)
    title, top, thresholds = series.label, series.top, series.thresholds
    days, values = _series(points, series)
    if thresholds.elevated is not None:
        ax.axhline(thresholds.elevated, color=LEVEL_COLORS["elevated"], linestyle="--",
                   linewidth=1.2, label=t(N_("Elevated from {n}")).format(n=thresholds.elevated))
    if thresholds.high is not None:
        ax.axhline(thresholds.high, color=LEVEL_COLORS["high"], linestyle=":",
                   linewidth=1.4, label=t(N_("High from {n}")).format(n=thresholds.high))
    ax.plot(days, values, color="#0b5394", linewidth=1.6, marker="o",
            markersize=4 if len(days) <= 45 else 1.5, label=title)
    ax.set_ylim(-0.3, top + 0.3)
    ax.set_ylabel(title, fontsize=8)
    ax.legend(loc="upper left", fontsize=8, frameon=False, ncol=3)
    _date_axis(ax, start, end, language)


def _style(n: int) -> tuple[str, str, str]:
    return STYLES[n % len(STYLES)]


def _wellbeing_panel(ax: Axes, points: Sequence[DayPoint], scales: Sequence[Series],
                     start: date, end: date, language: str) -> None:
    """The scales on one axis, each with its own colour, marker and line style, nudged
    apart so equal values stay visible side by side."""
    t = _translator(language)
    many = len(points) > 45
    middle = (len(scales) - 1) / 2
    for n, series in enumerate(scales):
        color, marker, style = _style(n)
        days, values = _series(points, series)
        ax.plot(days + (n - middle) * NUDGE * (3 if many else 1),
                [v + (n - middle) * NUDGE for v in values], color=color, linewidth=1.3,
                linestyle=style, marker=marker, markersize=2 if many else 4.5,
                markerfacecolor="white" if n == 1 else color, label=series.label)
    top = max((series.top for series in scales), default=10)
    ax.set_ylim(-0.5, top + 0.5)
    ax.set_ylabel(t(N_("0-10")))
    ax.legend(loc="lower left", fontsize=8, frameon=False, ncol=3)
    _date_axis(ax, start, end, language)


def _translator(language: str) -> Any:
    return lambda message: gettext_for(language, message)


def indicators_figure(points: Sequence[DayPoint], roll_ups: Sequence[Series], *, start: date,
                      end: date, language: str = "en", width: int = WIDTH,
                      height: int = HEIGHT) -> Figure:
    """Each roll-up by day, a panel each, against its thresholds."""
    t = _translator(language)
    figure = _figure(width, height)
    axes = figure.subplots(max(len(roll_ups), 1), 1, sharex=True, squeeze=False)[:, 0]
    for ax, series in zip(axes, roll_ups, strict=False):
        _indicator_panel(ax, points, series, start, end, language)
    figure.suptitle(t(N_("Self-report indicators (not an ACUTE-2007 assessment)")), fontsize=12)
    figure.subplots_adjust(left=0.07, right=0.98, top=0.92, bottom=0.08, hspace=0.15)
    return figure


def indicators_chart(points: Sequence[DayPoint], roll_ups: Sequence[Series], *, start: date,
                     end: date, language: str = "en", width: int = WIDTH,
                     height: int = HEIGHT) -> bytes:
    return _png(indicators_figure(points, roll_ups, start=start, end=end, language=language,
                                  width=width, height=height))


DOMAIN_COLORS: Final = ("#dfeee2", LEVEL_COLORS["elevated"], LEVEL_COLORS["high"])


def domains_figure(points: Sequence[DayPoint], labels: Mapping[str, str], *, start: date,
                   end: date, language: str = "en", width: int = WIDTH,
                   height: int = HEIGHT) -> Figure:
    """Each domain's own indicator by day, a row a domain (0, 1, 2 as three colours, blank
    without a check-in): seven series side by side, none drawn over another."""
    from matplotlib.patches import Patch

    t = _translator(language)
    figure = _figure(width, height)
    ax = figure.subplots()
    names = list(labels)
    grid = [[float(p.domains[d]) if d in p.domains else float("nan") for p in points]
            for d in names] or [[float("nan")] * len(points)]
    low, high = _x([start, end])
    ax.imshow(_cells(grid, DOMAIN_COLORS), aspect="auto", interpolation="nearest",
              extent=(low - 0.5, high + 0.5, len(grid) - 0.5, -0.5))
    ax.set_yticks(range(len(names)), [labels[d] for d in names], fontsize=8)
    ax.hlines([n - 0.5 for n in range(1, len(names))], low - 0.5, high + 0.5,
              colors="white", linewidth=2)
    _date_axis(ax, start, end, language)
    ax.grid(False)
    ax.set_title(t(N_("Each domain's indicator by day")), fontsize=12)
    ax.legend(handles=[Patch(color=DOMAIN_COLORS[n], label=t(text)) for n, text in
                       enumerate((N_("0: none"), N_("1: some"), N_("2: definite")))],
              loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=3, fontsize=9,
              frameon=False)
    figure.subplots_adjust(left=0.2, right=0.98, top=0.92, bottom=0.18)
    return figure


def domains_chart(points: Sequence[DayPoint], labels: Mapping[str, str], *, start: date,
                  end: date, language: str = "en", width: int = WIDTH,
                  height: int = HEIGHT) -> bytes:
    return _png(domains_figure(points, labels, start=start, end=end, language=language,
                               width=width, height=height))


def confidence_coping_figure(points: Sequence[DayPoint], scales: Sequence[Series], *,
                             start: date, end: date, language: str = "en",
                             width: int = WIDTH, height: int = HEIGHT) -> Figure:
    """Small multiples: each charted scale (with the default check-in confidence for
    tomorrow, coping today and how well the coping steps worked, 0-10), a panel each on
    one date axis, so no series hides another."""
    t = _translator(language)
    figure = _figure(width, height)
    axes = figure.subplots(max(len(scales), 1), 1, sharex=True, squeeze=False)[:, 0]
    many = len(points) > 45
    for n, (ax, series) in enumerate(zip(axes, scales, strict=False)):
        color, marker, style = _style(n)
        days, values = _series(points, series)
        ax.plot(days, values, color=color, linewidth=1.3, linestyle=style, marker=marker,
                markersize=2 if many else 4)
        ax.set_ylim(-0.5, series.top + 0.5)
        ax.set_yticks([0, series.top // 2, series.top])
        ax.text(0.005, 0.9, series.label, transform=ax.transAxes, fontsize=9, va="top")
        _date_axis(ax, start, end, language)
    figure.suptitle(t(N_("Confidence and coping")) + " (0-10)", fontsize=12)
    figure.subplots_adjust(left=0.05, right=0.98, top=0.92, bottom=0.07, hspace=0.18)
    return figure


def confidence_coping_chart(points: Sequence[DayPoint], scales: Sequence[Series], *,
                            start: date, end: date, language: str = "en", width: int = WIDTH,
                            height: int = HEIGHT) -> bytes:
    return _png(confidence_coping_figure(points, scales, start=start, end=end,
                                         language=language, width=width, height=height))


def summary_figure(points: Sequence[DayPoint], roll_ups: Sequence[Series],
                   scales: Sequence[Series], *, start: date, end: date, language: str = "en",
                   width: int = WIDTH, height: int = HEIGHT) -> Figure:
    """For /client: each roll-up in a panel of its own against its thresholds (left), then
    the scales (right)."""
    t = _translator(language)
    figure = _figure(width, height)
    rows = max(len(roll_ups), 1)
    grid = figure.add_gridspec(rows, 2 if scales else 1)
    first = None
    for row, series in enumerate(roll_ups):
        ax = figure.add_subplot(grid[row, 0], sharex=first)
        first = first or ax
        _indicator_panel(ax, points, series, start, end, language)
    if scales:  # a questionnaire may chart no scale at all
        wellbeing = figure.add_subplot(grid[:, 1])
        _wellbeing_panel(wellbeing, points, scales, start, end, language)
        wellbeing.set_title(t(N_("Confidence and coping")), fontsize=10)
    figure.subplots_adjust(left=0.05, right=0.99, top=0.93, bottom=0.08, wspace=0.15,
                           hspace=0.2)
    return figure


def summary_chart(points: Sequence[DayPoint], roll_ups: Sequence[Series],
                  scales: Sequence[Series], *, start: date, end: date, language: str = "en",
                  width: int = WIDTH, height: int = HEIGHT) -> bytes:
    return _png(summary_figure(points, roll_ups, scales, start=start, end=end,
                               language=language, width=width, height=height))


def adherence_figure(days: Mapping[date, str], *, start: date, end: date,
                     language: str = "en", width: int = WIDTH, height: int = HEIGHT) -> Figure:
    """One cell a day, a column a week (Monday on top): checked in, missed, not asked.

    `days` maps a date to "submitted", "missed", "open" or "none"; absent dates are "none".
    """
    from matplotlib.patches import Patch

    t = _translator(language)
    kinds = list(DAY_COLORS)
    first_monday = start - timedelta(days=start.weekday())
    weeks = (end - first_monday).days // 7 + 1
    grid: list[list[float]] = [[float("nan")] * weeks for _ in range(7)]
    day = start
    while day <= end:
        week = (day - first_monday).days // 7
        grid[day.weekday()][week] = kinds.index(days.get(day, "none"))
        day += timedelta(days=1)
    figure = _figure(width, height)
    ax = figure.subplots()
    ax.imshow(_cells(grid, [DAY_COLORS[k] for k in kinds]), aspect="auto",
              interpolation="nearest")
    weekday_names = [t(name) for name in (N_("Mon"), N_("Tue"), N_("Wed"), N_("Thu"),
                                          N_("Fri"), N_("Sat"), N_("Sun"))]
    ax.set_yticks(range(7), weekday_names)
    step = max(1, weeks // 12)
    ticks = list(range(0, weeks, step))
    ax.set_xticks(ticks, [f"{(first_monday + timedelta(weeks=w)).day} "
                          f"{t(MONTHS[(first_monday + timedelta(weeks=w)).month - 1])}"
                          for w in ticks])
    # Cell borders as two line collections: minor ticks would cost a Tick object each.
    border = 2 if weeks <= 20 else 0.8
    ax.vlines([w - 0.5 for w in range(1, weeks)], -0.5, 6.5, colors="white", linewidth=border)
    ax.hlines([d - 0.5 for d in range(1, 7)], -0.5, weeks - 0.5, colors="white",
              linewidth=border)
    ax.set_title(t(N_("Check-in adherence by day")), fontsize=12)
    ax.legend(handles=[Patch(color=DAY_COLORS[k], label=t(DAY_LABELS[k])) for k in kinds],
              loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=4, fontsize=9,
              frameon=False)
    figure.subplots_adjust(left=0.06, right=0.98, top=0.9, bottom=0.2)
    return figure


def adherence_calendar(days: Mapping[date, str], *, start: date, end: date,
                       language: str = "en", width: int = WIDTH, height: int = HEIGHT) -> bytes:
    return _png(adherence_figure(days, start=start, end=end, language=language, width=width,
                                 height=height))


ALERT_DOT_SIZE: Final = 70  # points squared, matplotlib's scatter size
ALERT_DOT_RADIUS_PT: Final = ALERT_DOT_SIZE ** 0.5 / 2 + 1.6  # half its width and its edge


def alert_figure(alerts: Sequence[AlertMark], *, start: date, end: date,
                 language: str = "en", width: int = WIDTH, height: int = HEIGHT) -> Figure:
    """Each alert at its time, on the row of its level; hollow while still open."""
    t = _translator(language)
    figure = _figure(width, height)
    ax = figure.subplots()
    for row, level in enumerate(LEVEL_ORDER):
        for is_open in (False, True):
            times = [a.at for a in alerts if a.level == level and a.open == is_open]
            if not times:
                continue
            ax.scatter(_x(times), [row] * len(times), s=ALERT_DOT_SIZE, marker="o",
                       facecolors="none" if is_open else LEVEL_COLORS[level],
                       edgecolors=LEVEL_COLORS[level], linewidths=1.6, zorder=3)
    ax.set_yticks(range(len(LEVEL_ORDER)), [t(LEVEL_LABELS[level]) for level in LEVEL_ORDER])
    ax.set_ylim(-0.7, len(LEVEL_ORDER) - 0.3)
    _date_axis(ax, start, end, language)
    # A dot at the first or last moment of the period stays whole inside the plot: the
    # range widens by a dot's radius (in days) on each side.
    low, high = ax.get_xlim()
    plot_inches = width / DPI * (0.98 - 0.09)
    pad = (high - low) * (ALERT_DOT_RADIUS_PT / 72 + 0.02) / plot_inches
    ax.set_xlim(low - pad, high + pad)
    ax.grid(axis="x", color="#eeeeee", linewidth=0.6)
    title = t(N_("Alerts ({n}); hollow: not yet acknowledged")).format(n=len(alerts))
    if not alerts:
        title = t(N_("No alerts in this period"))
    ax.set_title(title, fontsize=12)
    figure.subplots_adjust(left=0.09, right=0.98, top=0.9, bottom=0.1)
    return figure


def alert_timeline(alerts: Sequence[AlertMark], *, start: date, end: date,
                   language: str = "en", width: int = WIDTH, height: int = HEIGHT) -> bytes:
    return _png(alert_figure(alerts, start=start, end=end, language=language, width=width,
                             height=height))


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk (raises ValueError for anything else)."""
    if len(data) < 24 or data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise ValueError("not a PNG image")
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


__all__ = [
    "DPI", "HEIGHT", "WIDTH", "AlertMark", "DayPoint", "Series", "Thresholds",
    "adherence_calendar",
    "adherence_figure", "alert_figure", "alert_timeline", "confidence_coping_chart",
    "confidence_coping_figure", "date_ticks", "domains_chart", "domains_figure",
    "indicators_chart", "indicators_figure", "pixels", "png_size", "summary_chart",
    "summary_figure",
]
