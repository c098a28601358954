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
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from journal.alerts.levels import LABELS as LEVEL_NAMES
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
from journal.review.plan import plan_sections
from journal.times import shown_time

if TYPE_CHECKING:
    from fpdf import FPDF
    from matplotlib.figure import Figure

DISCLAIMER: Final = N_("Indicators from self-report, not an ACUTE-2007 assessment")

# A4 portrait, in millimetres.
PAGE_W: Final = 210.0
PAGE_H: Final = 297.0
MARGIN: Final = 15.0
BODY_W: Final = PAGE_W - 2 * MARGIN
BOTTOM: Final = PAGE_H - 18.0  # where text stops; the footer sits below
PT: Final = 25.4 / 72  # millimetres in a typographic point
CHART_H: Final = BODY_W / 2  # charts are 2:1


def _font_dir() -> Path | None:
    """matplotlib ships DejaVu Sans; found without importing matplotlib itself."""
    spec = importlib.util.find_spec("matplotlib")
    if spec is None or spec.origin is None:
        return None
    folder = Path(spec.origin).parent / "mpl-data" / "fonts" / "ttf"
    return folder if (folder / "DejaVuSans.ttf").exists() else None


class _Layout:
    """A cursor on A4 pages: lines, wrapped paragraphs, two-column rows and images."""

    def __init__(self, data: ReportData) -> None:
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
        """Starts a new page unless `height` fits on this one; says whether it did."""
        if self.y + height > BOTTOM:
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
        limit = int((BOTTOM - MARGIN) / height) - 1
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
    _alerts(doc, data.alert_rows, zone)
    _days(doc, data.day_rows)
    _journal(doc, data.journal, zone)

    # The plan as it stands today.
    doc.heading(t(N_("Relapse prevention plan (current)")))
    if data.plan.is_empty:
        doc.paragraph(t(N_("The plan is empty.")))
    for title, items in plan_sections(data.plan):
        if items:
            doc.paragraph(t(title), style="B", gap=0.5)
            for item in items:
                doc.paragraph("• " + item, indent=4, gap=0.3)
            doc.y += 2
    return doc.output()


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
    doc.paragraph(t(N_("Phase: {name} ({number} of {count}), {days} days in it.")).format(
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


def _alerts(doc: _Layout, rows: Sequence[AlertRow], zone: str) -> None:
    """Each alert with its reasons once, then who acknowledged it, when, how fast, and every
    note left on it, each under its author."""
    t = doc.t
    doc.heading(t(N_("Alerts")))
    if not rows:
        doc.paragraph(t(N_("No alerts in this period.")))
        return
    for row in rows:
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


def _journal(doc: _Layout, journal: Sequence[JournalText], zone: str) -> None:
    t = doc.t
    doc.heading(t(N_("Journal entries")))
    if not journal:
        doc.paragraph(t(N_("No journal entries in this period.")))
        return
    for entry in journal:
        label = (t(N_("Journal entry")) if entry.source == "entry"
                 else t(N_("Check-in note")))
        doc.paragraph(f"{shown_time(entry.at, zone)} · {label}", size=9, style="B", gap=0)
        doc.paragraph(entry.text, size=10, gap=2.5)


def report_filename(code: str, end: date) -> str:
    return f"steadfast-{code}-{end:%Y%m%d}.pdf"


__all__ = ["DISCLAIMER", "JournalText", "ReportData", "SituationRow", "build_report",
           "report_filename"]  # the model's classes stay importable from here
