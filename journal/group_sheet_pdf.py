"""The group preparation sheet as a PDF, built in the renderer's worker process
(journal/review/renderer.py) from plain values: nothing here imports storage."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from journal.review.report import _font_dir


@dataclass(frozen=True)
class SheetPdf:
    """What the PDF prints, already in the reader's words."""

    title: str
    subtitle: str
    footer: str
    members: Sequence[tuple[str, Sequence[tuple[str, str]]]]  # code, (label, value) lines


def build_sheet_pdf(data: SheetPdf) -> bytes:
    from fpdf import FPDF

    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.set_title(data.title)
    pdf.set_creator("Steadfast")
    fonts = _font_dir()
    if fonts is not None:
        pdf.add_font("DejaVu", "", str(fonts / "DejaVuSans.ttf"))
        pdf.add_font("DejaVu", "B", str(fonts / "DejaVuSans-Bold.ttf"))
        family = "DejaVu"
    else:  # core fonts hold latin-1 only
        family = "Helvetica"

    def clean(text: str) -> str:
        return text if family == "DejaVu" else text.encode("latin-1", "replace").decode(
            "latin-1")

    pdf.set_auto_page_break(True, margin=18)
    pdf.add_page()
    pdf.set_font(family, "B", 15)
    pdf.multi_cell(0, 8, clean(data.title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(family, "", 9)
    pdf.multi_cell(0, 5, clean(data.subtitle), new_x="LMARGIN", new_y="NEXT")
    for code, lines in data.members:
        pdf.ln(3)
        pdf.set_font(family, "B", 12)
        pdf.multi_cell(0, 7, clean(code), new_x="LMARGIN", new_y="NEXT")
        for label, value in lines:
            pdf.set_font(family, "B", 9)
            pdf.cell(45, 5, clean(label))
            pdf.set_font(family, "", 9)
            pdf.multi_cell(0, 5, clean(value), new_x="LMARGIN", new_y="NEXT")
    pdf.set_y(-14)
    pdf.set_font(family, "", 8)
    pdf.cell(0, 5, clean(data.footer))
    return bytes(pdf.output())


__all__ = ["SheetPdf", "build_sheet_pdf"]
