"""A client's copy of their record as documents: the plain values (ClientCopy), its JSON
and its PDF. Imports nothing of storage/: the PDF is drawn in the renderer's worker
process, which unpickles the copy and this module only."""

from __future__ import annotations

import importlib.util
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from journal.i18n import N_, gettext_for


@dataclass(frozen=True)
class CopyDay:
    day: str
    answers: list[tuple[str, str]]  # (question, answer) in the client's language


@dataclass(frozen=True)
class CopyPlanVersion:
    number: int
    when: str
    by: str  # a role word ("clinician"), never a name
    reason: str
    parts: list[tuple[str, list[str]]]  # (part, items) in the client's language


@dataclass(frozen=True)
class CopyAgreement:
    officer: str
    categories: list[str]  # what the officer receives, in the client's plain words
    status: str
    since: str
    ended: str | None


@dataclass(frozen=True)
class ClientCopy:
    """Everything in the copy, as plain values (the PDF is drawn from it in a worker)."""

    code: str
    language: str
    made_at: str
    enrolled: str | None
    checkins: list[CopyDay] = field(default_factory=list)
    journal: list[tuple[str, str]] = field(default_factory=list)  # (when, text)
    plan: list[tuple[str, list[str]]] = field(default_factory=list)  # (section, items)
    alerts: list[tuple[str, str, str | None]] = field(default_factory=list)  # when, level, ack
    ledger: list[tuple[str, str, str]] = field(default_factory=list)  # when, who, what
    plan_versions: list[CopyPlanVersion] = field(default_factory=list)  # newest first
    help_moments: list[tuple[str, str, str]] = field(default_factory=list)  # when, told, how
    suggestions: list[tuple[str, str, str, str]] = field(default_factory=list)  # when, part,
    # text, status
    sharing: list[CopyAgreement] = field(default_factory=list)

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), ensure_ascii=False, indent=2).encode()

    def t(self, message: str) -> str:
        return gettext_for(self.language, message)


def _font_dir() -> Path | None:
    """matplotlib ships DejaVu Sans; found without importing matplotlib itself."""
    spec = importlib.util.find_spec("matplotlib")
    if spec is None or spec.origin is None:
        return None
    folder = Path(spec.origin).parent / "mpl-data" / "fonts" / "ttf"
    return folder if (folder / "DejaVuSans.ttf").exists() else None


def copy_filename(copy: ClientCopy, extension: str) -> str:
    return f"steadfast-my-record-{copy.code}.{extension}"


def build_copy_pdf(copy: ClientCopy) -> bytes:
    """The copy as a plain PDF (fpdf2, DejaVu Sans where matplotlib ships it)."""
    from fpdf import FPDF

    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.set_auto_page_break(True, margin=15)
    pdf.set_title(copy.t(N_("My record")))
    pdf.set_creator("Steadfast")
    fonts = _font_dir()
    family = "Helvetica"
    if fonts is not None:
        pdf.add_font("DejaVu", "", str(fonts / "DejaVuSans.ttf"))
        pdf.add_font("DejaVu", "B", str(fonts / "DejaVuSans-Bold.ttf"))
        family = "DejaVu"

    def clean(text: str) -> str:
        return text if family == "DejaVu" else text.encode("latin-1", "replace").decode(
            "latin-1")

    def heading(text: str, size: int = 13) -> None:
        pdf.set_font(family, "B", size)
        pdf.multi_cell(0, 7, clean(text), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(family, "", 10)

    def line(text: str) -> None:
        pdf.multi_cell(0, 5, clean(text), new_x="LMARGIN", new_y="NEXT")

    pdf.add_page()
    heading(copy.t(N_("My record")) + f" · {copy.code}", 16)
    line(copy.t(N_("Made on {when}.")).format(when=copy.made_at))
    if copy.enrolled:
        line(copy.t(N_("In the program since {when}.")).format(when=copy.enrolled))
    heading(copy.t(N_("My plan")))
    for title, items in copy.plan:
        line(f"{title}: " + ("; ".join(items) if items else "—"))
    if copy.plan_versions:
        heading(copy.t(N_("My plan's versions")))
        for version in copy.plan_versions:
            pdf.set_font(family, "B", 10)
            line(copy.t(N_("Version {number} of {day}")).format(
                number=version.number, day=version.when) + f" · {version.by}"
                + (f" · {version.reason}" if version.reason else ""))
            pdf.set_font(family, "", 10)
            for title, items in version.parts:
                if items:
                    line(f"{title}: " + "; ".join(items))
    if copy.suggestions:
        heading(copy.t(N_("What I suggested for my plan")))
        for when, part, text, status in copy.suggestions:
            line(f"{when} · {part} · {status}: {text}")
    if copy.help_moments:
        heading(copy.t(N_("Help-now moments")))
        for when, told, outcome in copy.help_moments:
            line(f"{when} · {told}" + (f" · {outcome}" if outcome else ""))
    if copy.sharing:
        heading(copy.t(N_("What I share with my supervising officer")))
        for agreement in copy.sharing:
            pdf.set_font(family, "B", 10)
            line(f"{agreement.officer} · {agreement.status}")
            pdf.set_font(family, "", 10)
            line(copy.t(N_("Since {when}.")).format(when=agreement.since)
                 + (" " + copy.t(N_("Ended on {when}.")).format(when=agreement.ended)
                    if agreement.ended else ""))
            for words in agreement.categories:
                line("- " + words)
    heading(copy.t(N_("My check-ins")))
    for day in copy.checkins:
        pdf.set_font(family, "B", 10)
        line(day.day)
        pdf.set_font(family, "", 10)
        for question, answer in day.answers:
            line(f"{question} — {answer}")
    heading(copy.t(N_("My journal")))
    for when, text in copy.journal:
        pdf.set_font(family, "B", 10)
        line(when)
        pdf.set_font(family, "", 10)
        line(text)
    heading(copy.t(N_("Alerts raised about me")))
    for when, level, acknowledged in copy.alerts:
        line(copy.t(N_("{when}: level {level}; seen by staff {seen}.")).format(
            when=when, level=level, seen=acknowledged or "—"))
    heading(copy.t(N_("Who looked at or changed my record")))
    for when, who, what in copy.ledger:
        line(f"{when} · {who} · {what}")
    return bytes(pdf.output())


__all__ = ["ClientCopy", "CopyAgreement", "CopyDay", "CopyPlanVersion", "build_copy_pdf", "copy_filename"]
