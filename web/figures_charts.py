"""The program figures' charts as inline SVG drawn in Python, like the client page's
(web/client_charts.py): no script, nothing fetched, colours as attributes (the CSP allows
no inline style). Each chart is an image with a title and a description in words; the
page gives every number as a table too."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Final

from markupsafe import Markup, escape

from journal.alerts.levels import ALERT_ORDER
from journal.export.figures import WeekAdherence
from journal.i18n import N_

WIDTH: Final = 640
HEIGHT: Final = 180
LEFT, RIGHT, TOP, BOTTOM = 40, 10, 10, 28
BAND: Final = "#c9d9ec"
LINE: Final = "#0b5394"
LEVEL_COLORS: Final = {"critical": "#7b1010", "high": "#c0392b", "elevated": "#b36b00"}


def _svg(title: str, desc: str, body: list[str], ident: str) -> Markup:
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="100%" role="img" aria-labelledby="{ident}-t {ident}-d" class="chart">'
        f'<title id="{ident}-t">{escape(title)}</title>'
        f'<desc id="{ident}-d">{escape(desc)}</desc>' + "".join(body) + "</svg>")


def _y_axis(top_label: str, bottom_label: str) -> list[str]:
    plot_bottom = HEIGHT - BOTTOM
    return [f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{plot_bottom}" stroke="#888"/>',
            f'<line x1="{LEFT}" y1="{plot_bottom}" x2="{WIDTH - RIGHT}" y2="{plot_bottom}" '
            'stroke="#888"/>',
            f'<text x="{LEFT - 4}" y="{TOP + 8}" text-anchor="end" font-size="10">'
            f'{escape(top_label)}</text>',
            f'<text x="{LEFT - 4}" y="{plot_bottom}" text-anchor="end" font-size="10">'
            f'{escape(bottom_label)}</text>']


def adherence_chart(weeks: Sequence[WeekAdherence], t: Callable[[str], str]) -> Markup:
    """Each week's median share of check-ins done (a line), over the middle half of
    clients (a band from the 25th to the 75th percentile)."""
    n = max(len(weeks), 1)
    step = (WIDTH - LEFT - RIGHT) / n
    height = HEIGHT - TOP - BOTTOM

    def y(share: float) -> float:
        return TOP + height * (1 - share)

    body = _y_axis("100%", "0%")
    points = []
    for i, week in enumerate(weeks):
        x = LEFT + step * i
        if week.low is not None and week.high is not None:
            body.append(f'<rect x="{x + step * 0.2:.1f}" y="{y(week.high):.1f}" '
                        f'width="{step * 0.6:.1f}" height="{max(y(week.low) - y(week.high), 1):.1f}" '
                        f'fill="{BAND}"/>')
        if week.median is not None:
            points.append(f"{x + step / 2:.1f},{y(week.median):.1f}")
            body.append(f'<circle cx="{x + step / 2:.1f}" cy="{y(week.median):.1f}" r="2.5" '
                        f'fill="{LINE}"/>')
        if i % max(1, n // 6) == 0:
            body.append(f'<text x="{x + step / 2:.1f}" y="{HEIGHT - 10}" text-anchor="middle" '
                        f'font-size="10">{week.start:%d.%m}</text>')
    if len(points) > 1:
        body.append(f'<polyline points="{" ".join(points)}" fill="none" stroke="{LINE}" '
                    'stroke-width="2"/>')
    medians = [w.median for w in weeks if w.median is not None]
    desc = (t(N_("Median share of due check-ins done, week by week, with the middle half of "
              "clients as a band.")) + " "
            + (t(N_("Latest median: {share}.")).format(share=f"{medians[-1]:.0%}") if medians
               else t(N_("No check-in was due in these weeks."))))
    return _svg(t(N_("Adherence by week")), desc, body, "adherence")


def alerts_chart(months: Sequence[tuple[str, dict[str, int]]], t: Callable[[str], str],
                 level_names: Mapping[str, str]) -> Markup:
    """Alerts raised each month, stacked by level (most serious at the bottom)."""
    n = max(len(months), 1)
    step = (WIDTH - LEFT - RIGHT) / n
    height = HEIGHT - TOP - BOTTOM
    top = max([sum(levels.values()) for _, levels in months] + [1])
    body = _y_axis(str(top), "0")
    for i, (month, levels) in enumerate(months):
        x = LEFT + step * i + step * 0.15
        base = float(HEIGHT - BOTTOM)
        for level in ALERT_ORDER:
            count = levels.get(level, 0)
            if not count:
                continue
            h = height * count / top
            base -= h
            body.append(f'<rect x="{x:.1f}" y="{base:.1f}" width="{step * 0.7:.1f}" '
                        f'height="{h:.1f}" fill="{LEVEL_COLORS[level]}">'
                        f'<title>{escape(month)}: {escape(level_names[level])} {count}</title>'
                        '</rect>')
        body.append(f'<text x="{x + step * 0.35:.1f}" y="{HEIGHT - 10}" text-anchor="middle" '
                    f'font-size="10">{escape(month)}</text>')
    for n, level in enumerate(ALERT_ORDER):  # the legend, top right
        x = WIDTH - RIGHT - 95
        y = TOP + 4 + 14 * n
        body.append(f'<rect x="{x}" y="{y}" width="10" height="10" '
                    f'fill="{LEVEL_COLORS[level]}"/>'
                    f'<text x="{x + 14}" y="{y + 9}" font-size="10">'
                    f'{escape(level_names[level])}</text>')
    total = sum(sum(levels.values()) for _, levels in months)
    desc = t(N_("Alerts raised each month, stacked by level; {n} in all.")).format(n=total)
    return _svg(t(N_("Alerts by level per month")), desc, body, "alerts-by-month")


__all__ = ["adherence_chart", "alerts_chart"]
