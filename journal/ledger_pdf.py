"""The client's "who looked at my information" as a short PDF: plain lines in, bytes out.

Built in the renderer's worker (journal/review/renderer.py) like the session report, so
fpdf2 never sits in the bot's memory; it takes translated lines only and imports nothing
of storage/."""

from __future__ import annotations

from collections.abc import Sequence


def build_ledger(title: str, intro: str, sections: Sequence[tuple[str, Sequence[str]]]
                 ) -> bytes:
    """A4, one column: the title, a line saying what this is, then each section's heading
    and its lines."""
    from fpdf import FPDF

    from journal.review.report import _font_dir

    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.set_auto_page_break(auto=True, margin=18)
    pdf.set_margins(15, 15, 15)
    fonts = _font_dir()
    family = "Helvetica"
    if fonts is not None:
        pdf.add_font("DejaVu", "", str(fonts / "DejaVuSans.ttf"))
        pdf.add_font("DejaVu", "B", str(fonts / "DejaVuSans-Bold.ttf"))
        family = "DejaVu"

    def clean(text: str) -> str:  # the core fonts hold latin-1 only
        return text if family == "DejaVu" else text.encode("latin-1", "replace").decode("latin-1")

    pdf.add_page()
    pdf.set_font(family, "B", 15)
    pdf.multi_cell(0, 8, clean(title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(family, "", 10)
    pdf.multi_cell(0, 5, clean(intro), new_x="LMARGIN", new_y="NEXT")
    for heading, lines in sections:
        pdf.ln(3)
        pdf.set_font(family, "B", 12)
        pdf.multi_cell(0, 7, clean(heading), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(family, "", 10)
        for line in lines:
            pdf.multi_cell(0, 5, clean(line), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


__all__ = ["build_ledger"]
