"""The session report: a PDF with the client's indicators, charts, situations and journal.

build_report() takes plain, already decrypted values and returns the PDF's bytes; it does
no I/O. fpdf2 and matplotlib are imported inside it, so importing this module is cheap.

Text is laid out here rather than with fpdf2's multi_cell: its line breaking measures
every prefix of every line, which made a year of journal entries take seconds. Words are
measured once against the font's width table instead.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Protocol

from journal.alerts.levels import ALERT_ORDER, LEVELS
from journal.alerts.levels import LABELS as LEVEL_NAMES
from journal.alerts.levels import WORDS as LEVEL_WORDS
from journal.i18n import N_, gettext_for, ngettext_for
from journal.phases.review import (
    DISAGREE,
    NOT_RATED,
    PHASE_HEADING,
    RATING_CAPTION,
    RATING_HEADING,
    PhaseReview,
)
from journal.review.charts import (
    adherence_figure,
    alert_figure,
    confidence_coping_figure,
    domains_figure,
    indicators_figure,
    pixels,
)
from journal.review.model import AlertRow, DayRow, JournalText, ReportData, SituationRow
from journal.review.plan import plan_lines
from journal.times import shown_time

if TYPE_CHECKING:
    from fpdf import FPDF
    from matplotlib.figure import Figure

    from journal.review.client_page import Since


class _Head(Protocol):
    """What every page of a PDF names: the client, the language, when it was made."""

    @property
    def client_code(self) -> str: ...
    @property
    def language(self) -> str: ...
    @property
    def generated_at(self) -> datetime: ...


class _Full(Exception):
    """A one-page document has no room left."""

DISCLAIMER: Final = N_("Indicators from self-report, not an ACUTE-2007 assessment")

# A4 portrait, in millimetres.
PAGE_W: Final = 210.0
PAGE_H: Final = 297.0
MARGIN: Final = 15.0
BODY_W: Final = PAGE_W - 2 * MARGIN
BOTTOM: Final = PAGE_H - 18.0  # where text stops; the footer sits below
PT: Final = 25.4 / 72  # millimetres in a typographic point
CHART_H: Final = BODY_W / 2  # charts are 2:1
# Longer than this, the day-by-day table and the older alerts are summarised a month a row:
# a year day by day took ten pages, its alerts six more.
MONTHLY_AFTER: Final = 92
FULL_ALERT_DAYS: Final = 92  # a long report still lists each alert of its last 92 days


def _font_dir() -> Path | None:
    """matplotlib ships DejaVu Sans; found without importing matplotlib itself."""
    spec = importlib.util.find_spec("matplotlib")
    if spec is None or spec.origin is None:
        return None
    folder = Path(spec.origin).parent / "mpl-data" / "fonts" / "ttf"
    return folder if (folder / "DejaVuSans.ttf").exists() else None


class _Layout:
    """A cursor on A4 pages: lines, wrapped paragraphs, two-column rows and images."""

    def __init__(self, data: _Head, *, one_page: bool = False) -> None:
        from fpdf import FPDF
        from fpdf.image_parsing import SETTINGS

        # Charts reach fpdf2 as raw pixels, which it deflates itself: zlib's level 3 takes
        # half the time of its default for a PDF about 5% larger.
        SETTINGS.compression_level = 3
        self.data = data
        self.pdf: FPDF = FPDF(orientation="P", unit="mm", format="A4")
        self.pdf.set_auto_page_break(False)
        self.pdf.set_creation_date(data.generated_at)
        self.pdf.set_title(self.t(N_("Session report")))
        self.pdf.set_creator("Steadfast")
        fonts = _font_dir()
        if fonts is not None:
            self.pdf.add_font("DejaVu", "", str(fonts / "DejaVuSans.ttf"))
            self.pdf.add_font("DejaVu", "B", str(fonts / "DejaVuSans-Bold.ttf"))
            self.family = "DejaVu"
        else:  # core fonts hold latin-1 only: anything else is replaced below
            self.family = "Helvetica"
        self.widths: dict[str, Any] = {}
        self.known: dict[str, Any] = {}
        self.drawable: dict[str, frozenset[str] | None] = {}
        # A year of entries repeats its words: each is measured once a style.
        self.units: dict[str, dict[str, float]] = {"": {}, "B": {}}
        for style in ("", "B"):
            self.pdf.set_font(self.family, style, 10)
            font = self.pdf.current_font
            assert font is not None
            self.widths[style] = font.cw
            cmap = getattr(font, "cmap", None)
            self.known[style] = cmap if cmap else None
            self.drawable[style] = (frozenset(map(chr, cmap)) | {" ", "\n"}) if cmap else None
        self.y = MARGIN
        self.page = 0
        self.one_page = one_page
        self.bottom = BOTTOM - 8 if one_page else BOTTOM  # one page keeps a line for "more"
        self.new_page()

    def t(self, message: str) -> str:
        return gettext_for(self.data.language, message)

    # -- pages ---------------------------------------------------------------------------
    def new_page(self) -> None:
        self.pdf.add_page()
        self.page += 1
        self.y = MARGIN
        self.pdf.set_font(self.family, "", 8)
        self.pdf.set_text_color(110, 110, 110)
        footer = self.t(N_("Confidential. Client {code}. Page {page}")).format(
            code=self.data.client_code, page=self.page)
        self.pdf.text(MARGIN, PAGE_H - 10, self.clean(footer, ""))
        self.pdf.text(PAGE_W - MARGIN - 40, PAGE_H - 10,
                      self.clean(self.t(N_("Steadfast session report")), ""))
        self.pdf.set_text_color(0, 0, 0)

    def room(self, height: float) -> bool:
        """Starts a new page unless `height` fits on this one; says whether it did. A
        one-page document raises _Full instead."""
        if self.y + height > self.bottom:
            if self.one_page:
                raise _Full
            self.new_page()
            return True
        return False

    # -- text ----------------------------------------------------------------------------
    def clean(self, text: str, style: str) -> str:
        """Characters the font can draw; others become '?' (and never crash a report)."""
        text = text.replace("\t", "    ")
        known = self.known[style]
        if known is not None:
            if self.drawable[style].issuperset(text):  # type: ignore[union-attr]
                return text
            return "".join(c if ord(c) in known or c in " \n" else "?" for c in text)
        return text.encode("latin-1", errors="replace").decode("latin-1")

    def width(self, text: str, size: float, style: str) -> float:
        units = self.units[style].get(text)
        if units is None:
            units = self.units[style][text] = sum(map(self.widths[style].__getitem__,
                                                      map(ord, text)))
        return units * size / 1000 * PT

    def wrap(self, text: str, width: float, size: float, style: str = "") -> list[str]:
        lines: list[str] = []
        space = self.width(" ", size, style)
        for paragraph in self.clean(text, style).split("\n"):
            line: list[str] = []
            used = 0.0
            for word in paragraph.split(" "):
                w = self.width(word, size, style)
                while w > width:  # a word wider than the column is cut
                    if line:
                        lines.append(" ".join(line))
                        line, used = [], 0.0
                    cut = len(word)
                    while cut > 1 and self.width(word[:cut], size, style) > width:
                        cut = max(1, cut * 3 // 4)
                    lines.append(word[:cut])
                    word = word[cut:]
                    w = self.width(word, size, style)
                if line and used + space + w > width:
                    lines.append(" ".join(line))
                    line, used = [], 0.0
                used += (space if line else 0.0) + w
                line.append(word)
            lines.append(" ".join(line))
        return lines

    def heading(self, text: str, size: float = 13) -> None:
        self.room(size * PT * 1.6 + 12)
        self.y += 2
        self.pdf.set_font(self.family, "B", size)
        self.y += size * PT
        self.pdf.text(MARGIN, self.y, self.clean(text, "B"))
        self.y += size * PT * 0.8

    def paragraph(self, text: str, *, size: float = 10, style: str = "", indent: float = 0,
                  gap: float = 1.5) -> None:
        height = size * PT * 1.35
        self.pdf.set_font(self.family, style, size)
        for line in self.wrap(text, BODY_W - indent, size, style):
            if self.room(height):  # the footer of the new page set a font of its own
                self.pdf.set_font(self.family, style, size)
            self.y += height
            self.pdf.text(MARGIN + indent, self.y - height * 0.25, line)
        self.y += gap

    def row(self, cells: Sequence[tuple[str, float, str]], *, size: float = 9) -> None:
        """Cells side by side: (text, width, style). A row is never split over pages."""
        height = size * PT * 1.35
        wrapped = [self.wrap(text, width - 2, size, style) for text, width, style in cells]
        tallest = max(len(lines) for lines in wrapped)
        limit = int((self.bottom - MARGIN) / height) - 1
        if tallest > limit:  # only a pathological cell is taller than a page
            wrapped = [lines[:limit] for lines in wrapped]
            tallest = limit
        self.room(tallest * height + 2)
        x = MARGIN
        for (_text, width, style), lines in zip(cells, wrapped, strict=True):
            self.pdf.set_font(self.family, style, size)
            y = self.y
            for line in lines:
                y += height
                self.pdf.text(x, y - height * 0.25, line)
            x += width
        self.y += tallest * height + 1
        self.pdf.set_draw_color(210, 210, 210)
        self.pdf.line(MARGIN, self.y, MARGIN + BODY_W, self.y)
        self.y += 1

    def image(self, figure: Figure) -> None:
        """A chart's pixels, handed over as they are drawn (no PNG on the way)."""
        self.room(CHART_H + 3)
        self.pdf.image(pixels(figure), x=MARGIN, y=self.y, w=BODY_W, h=CHART_H)
        self.y += CHART_H + 3

    def output(self) -> bytes:
        return bytes(self.pdf.output())


def build_report(data: ReportData) -> bytes:
    """The session report's PDF bytes."""
    doc = _Layout(data)
    t = doc.t
    period = f"{data.start:%Y-%m-%d} – {data.end:%Y-%m-%d}"
    zone = data.timezone  # every time in the viewer's zone, and naming it

    # Header.
    doc.heading(t(N_("Session report: client {code}")).format(code=data.client_code), 16)
    doc.paragraph(ngettext_for(data.language, "Period: {period} ({days} day)",
                               "Period: {period} ({days} days)", data.period_days).format(
        period=period, days=data.period_days))
    doc.paragraph(t(N_("Clinician: {name}")).format(name=data.clinician))
    doc.paragraph(t(N_("Generated: {time}")).format(time=shown_time(data.generated_at, zone)))
    doc.paragraph(t(DISCLAIMER), style="B")
    doc.paragraph(ngettext_for(data.language, "Check-ins: {done} of {asked} day asked.",
                               "Check-ins: {done} of {asked} days asked.", data.asked).format(
        done=data.adherence, asked=data.asked) + " "
        + t(N_("Alerts: {alerts}.")).format(alerts=len(data.alerts)), gap=3)

    # Charts.
    if data.roll_ups:
        doc.image(indicators_figure(data.points, data.roll_ups, start=data.start,
                                    end=data.end, language=data.language))
    doc.image(domains_figure(data.points, data.domain_labels, start=data.start, end=data.end,
                             language=data.language))
    if data.scales:
        doc.image(confidence_coping_figure(data.points, data.scales, start=data.start,
                                           end=data.end, language=data.language))
    doc.image(adherence_figure(data.days, start=data.start, end=data.end,
                               language=data.language))
    doc.image(alert_figure(data.alerts, start=data.start, end=data.end,
                           language=data.language))

    _domains(doc, data)
    if data.phase is not None:
        _phase(doc, data.phase, zone)
    _situations(doc, data.situations)
    if data.period_days > MONTHLY_AFTER:
        _months(doc, data)
        since = data.end - timedelta(days=FULL_ALERT_DAYS - 1)
        _alerts(doc, [r for r in data.alert_rows if r.at.date() >= since], zone,
                older=sum(1 for r in data.alert_rows if r.at.date() < since))
    else:
        _alerts(doc, data.alert_rows, zone)
        _days(doc, data.day_rows)
    _journal(doc, data.journal, zone, compact=data.period_days > MONTHLY_AFTER)

    _help_now(doc, data)
    # The plan as it stands today.
    doc.heading(t(N_("Relapse prevention plan (current)")))
    if data.plan.is_empty:
        doc.paragraph(t(N_("The plan is empty.")))
    if data.plan.updated_at is not None:
        doc.paragraph(t(N_("Version {number} of {day}")).format(
            number=data.plan.version, day=f"{data.plan.updated_at:%Y-%m-%d}"), gap=0.5)
    for title, items in plan_lines(data.plan, data.language):
        if items:
            doc.paragraph(title, style="B", gap=0.5)
            for item in items:
                doc.paragraph("• " + item, indent=4, gap=0.3)
            doc.y += 2
    return doc.output()


HELP_OUTCOME_WORDS: Final = {"better": N_("Better"), "same": N_("About the same"),
                              "worse": N_("Worse")}


def _help_now(doc: _Layout, data: ReportData) -> None:
    """Each moment the client said they were at risk (/now), and the plan's versions."""
    t = doc.t
    if data.help_moments:
        doc.heading(t(N_("Help-now moments")))
        for at, told, outcome in data.help_moments:
            line = f"{at:%Y-%m-%d %H:%M} ({data.timezone}): " + (
                t(N_("clinician told")) if told else t(N_("clinician not told")))
            if outcome:
                line += " · " + t(HELP_OUTCOME_WORDS.get(outcome, outcome))
            doc.paragraph("• " + line, indent=4, gap=0.3)
    if data.plan_history:
        doc.heading(t(N_("Plan history")))
        for number, at, reason in data.plan_history[:10]:
            doc.paragraph(f"• {t(N_('Version {number} of {day}')).format(number=number, day=f'{at:%Y-%m-%d}')}"
                          + (f": {reason}" if reason else ""), indent=4, gap=0.3)


def _domains(doc: _Layout, data: ReportData) -> None:
    """Each ACUTE-2007 domain's own indicator, not only the two roll-ups."""
    t = doc.t
    doc.heading(t(N_("Each domain's indicator (0 none, 1 some, 2 definite)")))
    widths = (BODY_W * 0.4, BODY_W * 0.15, BODY_W * 0.15, BODY_W * 0.15, BODY_W * 0.15)
    doc.row(list(zip((t(N_("Domain")), t(N_("Days scored")), t(N_("Days at 1")),
                      t(N_("Days at 2")), t(N_("Latest"))), widths, ("B",) * 5,
                     strict=True)))
    for row in data.domain_rows:
        doc.row(list(zip((row.label, str(row.days), str(row.some), str(row.definite),
                          "-" if row.latest is None else str(row.latest)), widths,
                         ("",) * 5, strict=True)))


def _phase(doc: _Layout, phase: PhaseReview, zone: str) -> None:
    """The treatment phase's path, what stepping down asks, and the clinician's rating
    beside the month's self-report, a disagreement flagged to talk about in session."""
    t = doc.t
    doc.heading(t(PHASE_HEADING))
    doc.paragraph(ngettext_for(doc.data.language,
                               "Phase: {name} ({number} of {count}), {days} day in it.",
                               "Phase: {name} ({number} of {count}), {days} days in it.",
                               phase.days_in_phase).format(
        name=phase.phase, number=phase.number, count=phase.count, days=phase.days_in_phase))
    if phase.next is not None:
        doc.paragraph(t(N_("To step down to {name}:")).format(name=phase.next), style="B",
                      gap=0.5)
        for criterion in phase.criteria:
            mark = t(N_("Met")) if criterion.met else t(N_("Not met"))
            doc.paragraph(f"{mark}: {criterion.text}", indent=4, gap=0.3)
    if phase.timeline:
        widths = (BODY_W * 0.22, BODY_W * 0.1, BODY_W * 0.17, BODY_W * 0.17, BODY_W * 0.34)
        doc.row(list(zip((t(N_("Date")), t(N_("Direction")), t(N_("From")), t(N_("To")),
                          t(N_("Why"))), widths, ("B",) * 5, strict=True)))
        for step in phase.timeline:
            doc.row(list(zip((shown_time(step.at, zone),
                              t(N_("down")) if step.direction == "down" else t(N_("up")),
                              step.start, step.end, step.why), widths, ("",) * 5,
                             strict=True)))
    doc.heading(t(RATING_HEADING), 11)
    doc.paragraph(t(RATING_CAPTION), size=9)
    if phase.rated_at is not None:
        doc.paragraph(t(N_("Rated {time}")).format(time=shown_time(phase.rated_at, zone))
                      + (f": {phase.rating_note}" if phase.rating_note else ""), size=9)
    if phase.rating_overdue:
        doc.paragraph(t(N_("Rating overdue")), style="B", size=9)
    cells = (BODY_W * 0.4, BODY_W * 0.18, BODY_W * 0.18, BODY_W * 0.24)
    doc.row(list(zip((t(N_("Area")), t(N_("Self-report (month)")), t(N_("Clinician's rating")),
                      ""), cells, ("B",) * 4, strict=True)))
    for row in phase.comparisons:
        doc.row(list(zip((row.label, "-" if row.self_report is None else str(row.self_report),
                          t(NOT_RATED) if row.rating is None else str(row.rating),
                          t(DISAGREE) if row.disagree else ""), cells,
                         ("", "", "", "B"), strict=True)))


def _situations(doc: _Layout, situations: Sequence[SituationRow]) -> None:
    t = doc.t
    doc.heading(t(N_("High-risk situations and the coping used")))
    if not situations:
        doc.paragraph(t(N_("No high-risk situations were reported in this period.")))
        return
    widths = (24.0, (BODY_W - 24) * 0.55, (BODY_W - 24) * 0.45)
    doc.row(list(zip((t(N_("Date")), t(N_("What happened")), t(N_("Coping used"))),
                     widths, ("B", "B", "B"), strict=True)))
    for situation in situations:
        doc.row([(f"{situation.day:%Y-%m-%d}", widths[0], ""),
                 (situation.happened, widths[1], ""), (situation.coping, widths[2], "")])


def _alerts(doc: _Layout, rows: Sequence[AlertRow], zone: str, *, older: int = 0) -> None:
    """Each alert, newest first as the page and the chat list them, with its reasons once,
    then who acknowledged it, when, how fast, and every note left on it, each under its
    author. `older` alerts are left to the month-by-month table."""
    t = doc.t
    doc.heading(t(N_("Alerts")))
    if older:
        doc.paragraph(ngettext_for(
            doc.data.language,
            "Each alert of the last {days} days, newest first; {n} older alert is counted "
            "in the month-by-month table.",
            "Each alert of the last {days} days, newest first; {n} older alerts are counted "
            "in the month-by-month table.", older).format(days=FULL_ALERT_DAYS, n=older),
            size=9)
    if not rows:
        doc.paragraph(t(N_("No alerts in this period.")))
        return
    for row in sorted(rows, key=lambda r: r.at, reverse=True):
        state = t(N_("open")) if row.status == "open" else t(N_("acknowledged"))
        doc.paragraph(f"{shown_time(row.at, zone)}  {row.level_label} ({state}): "
                      + "; ".join(row.reasons), size=9, style="B", gap=0.3)
        if row.acknowledged_at is not None:
            doc.paragraph(t(N_("Acknowledged by {name} at {time}, after {took}.")).format(
                name=row.acknowledged_by or "-", time=shown_time(row.acknowledged_at, zone),
                took=row.response_text or "-"), size=9, indent=4, gap=0.3)
        for note in row.notes:
            doc.paragraph(t(N_("Note by {name}, {time}: {note}")).format(
                name=note.author, time=shown_time(note.at, zone), note=note.text),
                size=9, indent=4, gap=0.3)
        if row.escalations:
            doc.paragraph(ngettext_for(doc.data.language,
                                       "Sent to the supervisors {n} time.",
                                       "Sent to the supervisors {n} times.",
                                       row.escalations).format(n=row.escalations),
                          size=9, indent=4, gap=0.3)
        doc.y += 1.2


def _months(doc: _Layout, data: ReportData) -> None:
    """A long period a month a row: check-ins, what was reported and the alerts raised."""
    t = doc.t
    doc.heading(t(N_("Month by month")))
    rows: dict[tuple[int, int], dict[str, Any]] = {}
    for day in data.day_rows:
        row = rows.setdefault((day.day.year, day.day.month), {
            "done": 0, "asked": 0, "missed": 0, "lapse": 0, "harm": 0, "risk": 0,
            "alerts": dict.fromkeys(LEVELS, 0), "top": None})
        if day.status in ("submitted", "missed", "open"):
            row["asked"] += 1
        row["done"] += day.status == "submitted"
        row["missed"] += day.status == "missed"
        row["lapse"] += bool(day.lapse)
        row["harm"] += bool(day.self_harm)
        row["risk"] += bool(day.high_risk)
        if day.level in LEVELS and (row["top"] is None
                                    or LEVELS.index(day.level) > LEVELS.index(row["top"])):
            row["top"] = day.level
    for alert in data.alert_rows:
        found = rows.get((alert.at.year, alert.at.month))
        if found is not None and alert.level in found["alerts"]:
            found["alerts"][alert.level] += 1
    widths = (22.0, 22.0, 16.0, 16.0, 18.0, 22.0, 20.0, BODY_W - 136.0)
    doc.row(list(zip((t(N_("Month")), t(N_("Checked in")), t(N_("Missed")), t(N_("Lapse")),
                      t(N_("Self-harm")), t(N_("High-risk situations")), t(N_("Level")),
                      t(N_("Alerts"))), widths, ("B",) * 8, strict=True)), size=8)
    for (year, month), row in sorted(rows.items(), reverse=True):  # newest first
        raised = ", ".join(f"{row['alerts'][level]} {t(LEVEL_WORDS[level])}"
                           for level in ALERT_ORDER if row["alerts"].get(level)) or "-"
        top = t(LEVEL_NAMES[row["top"]]) if row["top"] else "-"
        doc.row([(f"{year}-{month:02d}", widths[0], ""),
                 (f"{row['done']}/{row['asked']}", widths[1], ""),
                 (str(row["missed"]), widths[2], ""),
                 (str(row["lapse"]), widths[3], "B" if row["lapse"] else ""),
                 (str(row["harm"]), widths[4], "B" if row["harm"] else ""),
                 (str(row["risk"]), widths[5], ""), (top, widths[6], ""),
                 (raised, widths[7], "")], size=8)


def _yes_no(doc: _Layout, value: bool | None) -> str:
    return "-" if value is None else doc.t(N_("yes")) if value else doc.t(N_("no"))


def _days(doc: _Layout, rows: Sequence[DayRow]) -> None:
    """Lapses, small decisions, good-life steps and self-harm answers, day by day."""
    t = doc.t
    doc.heading(t(N_("Day by day")))
    asked = [r for r in rows if r.status in ("submitted", "missed", "open")]
    if not asked:
        doc.paragraph(t(N_("No check-ins were asked for in this period.")))
        return
    widths = (22.0, 20.0, 18.0, 24.0, (BODY_W - 84) * 0.55, (BODY_W - 84) * 0.45)
    doc.row(list(zip((t(N_("Date")), t(N_("Level")), t(N_("Self-harm")), t(N_("Lapse")),
                      t(N_("Small decisions")), t(N_("Toward a good life"))), widths,
                     ("B",) * 6, strict=True)), size=8)
    for row in asked:
        if row.status != "submitted":
            state = t(N_("missed")) if row.status == "missed" else t(N_("not finished"))
            doc.row([(f"{row.day:%Y-%m-%d}", widths[0], ""), (state, sum(widths[1:]), "")],
                    size=8)
            continue
        lapse = _yes_no(doc, row.lapse)
        if row.lapse and row.blown_it is not None:
            lapse += " " + t(N_("(blown it: {n}/10)")).format(n=row.blown_it)
        level = t(LEVEL_NAMES.get(row.level, row.level)) if row.level else "-"
        doc.row([(f"{row.day:%Y-%m-%d}", widths[0], ""), (level, widths[1], ""),
                 (_yes_no(doc, row.self_harm), widths[2], "B" if row.self_harm else ""),
                 (lapse, widths[3], "B" if row.lapse else ""),
                 ("; ".join(row.small_decisions) or "-", widths[4], ""),
                 ("; ".join(row.good_life) or "-", widths[5], "")], size=8)


def _journal(doc: _Layout, journal: Sequence[JournalText], zone: str, *,
             compact: bool = False) -> None:
    t = doc.t
    doc.heading(t(N_("Journal entries")))
    if not journal:
        doc.paragraph(t(N_("No journal entries in this period.")))
        return
    for entry in journal:
        label = (t(N_("Journal entry")) if entry.source == "entry"
                 else t(N_("Check-in note")))
        if compact:  # a long period: every word kept, a line less for each entry
            doc.paragraph(f"{shown_time(entry.at, zone)} · {label}: {entry.text}", size=9,
                          gap=1.2)
            continue
        doc.paragraph(f"{shown_time(entry.at, zone)} · {label}", size=9, style="B", gap=0)
        doc.paragraph(entry.text, size=10, gap=2.5)


def report_filename(code: str, start: date, end: date, made: date) -> str:
    """The client, the days covered and the day it was made: two reports never share a
    name, and the name says what is inside without opening it."""
    return f"steadfast-{code}-{start:%Y-%m-%d}-to-{end:%Y-%m-%d}-made-{made:%Y-%m-%d}.pdf"


def since_filename(code: str, since: date, end: date, made: date) -> str:
    return (f"steadfast-{code}-since-{since:%Y-%m-%d}-to-{end:%Y-%m-%d}"
            f"-made-{made:%Y-%m-%d}.pdf")


@dataclass(frozen=True)
class _SinceHead:
    client_code: str
    language: str
    generated_at: datetime


SINCE_TEXT_CUT: Final = 240  # characters of one entry the one-page view shows


def _cut(text: str, limit: int = SINCE_TEXT_CUT) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def build_since_report(view: Since, language: str, timezone: str) -> bytes:
    """What changed since a day, on exactly one A4 page: the newest of each kind first,
    and a closing line when something did not fit (the full report has all of it)."""
    doc = _Layout(_SinceHead(view.code, language, view.generated_at), one_page=True)
    t = doc.t

    doc.heading(t(N_("Since the last session: client {code}")).format(code=view.code), 15)
    basis = since_basis_text(view, language)
    doc.paragraph((basis + " " if basis else "")
        + t(N_("From {start} to {end}, the client's own days.")).format(
        start=f"{view.since:%Y-%m-%d}", end=f"{view.today:%Y-%m-%d}") + " "
        + t(N_("Clinician: {name}")).format(name=view.clinician_name) + " "
        + t(N_("Generated: {time}")).format(time=shown_time(view.generated_at, timezone)),
        size=9)
    doc.paragraph(t(DISCLAIMER), size=9, style="B")
    try:
        for line in since_lines(view, language, timezone):
            kind, text = line
            if kind == "h":
                doc.heading(text, 11)
            elif kind == "b":
                doc.paragraph(text, size=9, style="B", gap=0.2)
            else:
                doc.paragraph(text, size=9, indent=3 if kind == "i" else 0, gap=0.6)
    except _Full:
        doc.y = doc.bottom
        doc.bottom = BOTTOM
        doc.paragraph(t(N_("Not everything fits on one page: the session report and the "
                           "client page have the rest.")), size=9, style="B")
    return doc.output()


def since_lines(view: Since, language: str, timezone: str) -> list[tuple[str, str]]:
    """The one-page view as lines: ("h", heading), ("b", bold), ("p", text), ("i", indented),
    newest first in every part: check-ins and the plan, then the alerts, the situations
    and lapses, and the client's own words."""
    def t(message: str) -> str:
        return gettext_for(language, message)

    # The short parts first, so a page that runs out of room still says them.
    lines: list[tuple[str, str]] = []
    lines.append(("h", t(N_("Check-ins"))))
    lines.append(("p", ngettext_for(
        language, "Checked in {done} day, missed {missed}, started and not finished {open}.",
        "Checked in {done} days, missed {missed}, started and not finished {open}.",
        view.done).format(done=view.done, missed=view.missed, open=view.unfinished)))
    if view.missed_days:
        lines.append(("i", t(N_("Missed: {days}")).format(
            days=", ".join(f"{d:%Y-%m-%d}" for d in view.missed_days))))
    lines.append(("h", t(N_("Relapse prevention plan"))))
    lines.append(("p", plan_change_text(view, language, timezone)))
    lines.append(("h", t(N_("Alerts"))))
    if not view.alerts:
        lines.append(("p", t(N_("No alerts in this period."))))
    for row in view.alerts:
        state = t(N_("open")) if row.status == "open" else t(N_("acknowledged"))
        lines.append(("b", f"{shown_time(row.at, timezone)}  {row.level_label} ({state})"))
        lines.append(("i", "; ".join(row.reasons)))
        for note in row.notes:
            lines.append(("i", t(N_("Note by {name}, {time}: {note}")).format(
                name=note.author, time=shown_time(note.at, timezone), note=_cut(note.text))))
    lines.append(("h", t(N_("High-risk situations and lapses"))))
    if not view.situations and not view.lapses:
        lines.append(("p", t(N_("No high-risk situations and no lapses were reported."))))
    if view.lapses:
        lines.append(("b", t(N_("Lapse reported: {days}")).format(
            days=", ".join(f"{d:%Y-%m-%d}" for d in view.lapses))))
    for situation in view.situations:
        coping = ", ".join(situation.coping) or t(N_("None"))
        lines.append(("i", f"{situation.day:%Y-%m-%d}  "
                      + _cut(situation.happened or t(N_("(no details given)")))
                      + " · " + t(N_("Coping used")) + ": " + coping))
    lines.append(("h", t(N_("The client's own words"))))
    if not view.words:
        lines.append(("p", t(N_("No journal entries or check-in notes in this period."))))
    for words in view.words:
        label = t(N_("Journal entry")) if words.source == "entry" else t(N_("Check-in note"))
        lines.append(("i", f"{shown_time(words.at, timezone)} · {label}: {_cut(words.text)}"))
    return lines


def since_basis_text(view: Since, language: str) -> str:
    """Where the view starts when nobody chose the day: the last session the client came
    to, or the last 7 days ("" when chosen: the dates say it)."""
    if view.basis == "session" and view.session is not None:
        return gettext_for(language, N_("Since the session on {day}.")).format(
            day=f"{view.session:%Y-%m-%d}")
    if view.basis == "default":
        return gettext_for(language, N_("The last 7 days: no session the client came to "
                                        "is recorded in the last year."))
    return ""


def plan_change_text(view: Since, language: str, timezone: str) -> str:
    """Whether the plan changed in the period; only its latest change is recorded."""
    if view.plan_changed_at is not None:
        return gettext_for(language, N_("Changed {time} (only the latest change is "
                                        "recorded).")).format(
            time=shown_time(view.plan_changed_at, timezone))
    if view.plan_updated_at is not None:
        return gettext_for(language, N_("Not changed in this period; last changed "
                                        "{time}.")).format(
            time=shown_time(view.plan_updated_at, timezone))
    return gettext_for(language, N_("No change recorded."))


__all__ = ["DISCLAIMER", "JournalText", "ReportData", "SituationRow", "build_report",
           "build_since_report", "plan_change_text", "report_filename", "since_basis_text",
           "since_filename", "since_lines"]  # the model's classes stay importable from here
