"""Texts and buttons of the clinician's review: caseload, client summary, history, plan."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from aiogram.types import InlineKeyboardMarkup

from bot.callbacks import DischargeCb, ReviewCb
from bot.views.chat import TEXT_LIMIT, cut_to, keyboard, utf16_length
from journal.alerts.levels import ALERT_ORDER, WORDS
from journal.i18n import N_, _, current_language, ngettext
from journal.phases.review import PhaseReview
from journal.review.adherence import Adherence
from journal.review.caseload import CaseloadEntry
from journal.review.history import HistoryItem, HistoryPage
from journal.review.plan import PLAN_EDIT_MINUTES, plan_as_text, plan_lines
from journal.review.report_data import DEFAULT_REPORT_DAYS
from journal.review.summary import ClientSummary
from journal.times import shown_time
from storage.records import Client, Plan

MESSAGE_LIMIT = TEXT_LIMIT - 196  # UTF-16 units, leaving room for the closing line
BUTTONS_PER_ROW = 3

STATUSES = {"invited": N_("invited, not enrolled yet"), "active": N_("active"),
            "paused": N_("paused"), "discharged": N_("discharged")}


def _level(level: str | None) -> str:
    return _(WORDS[level]) if level is not None and level in WORDS else _("none yet")


def _adherence(value: Adherence) -> str:
    if value.ratio is None:
        return _("nothing asked yet")
    return _("{done}/{expected} ({percent}%)").format(
        done=value.done, expected=value.expected, percent=round(value.ratio * 100))


def _ago(day: date | None, today: date) -> str:
    if day is None:
        return _("never")
    days = (today - day).days
    if days <= 0:
        return _("{day} (today)").format(day=f"{day:%Y-%m-%d}")
    if days == 1:
        return _("{day} (yesterday)").format(day=f"{day:%Y-%m-%d}")
    return ngettext("{day} ({n} day ago)", "{day} ({n} days ago)", days).format(
        day=f"{day:%Y-%m-%d}", n=days)


def _open_alerts(counts: Mapping[str, int]) -> str:
    # "Level: n" reads right in every language; "n level" needs agreement in Spanish.
    parts = [_("{level}: {n}").format(level=_(WORDS[level]), n=counts[level])
             for level in ALERT_ORDER if counts.get(level)]
    return ", ".join(parts) if parts else _("none")


def deleted_in(minutes: int) -> str:
    return ngettext("This message is deleted in {n} minute.",
                    "This message is deleted in {n} minutes.", minutes).format(n=minutes)


def _chunks(blocks: list[str], limit: int = MESSAGE_LIMIT) -> list[list[str]]:
    chunks: list[list[str]] = [[]]
    size = 0
    for block in blocks:
        length = utf16_length(block)
        if chunks[-1] and size + length + 2 > limit:
            chunks.append([])
            size = 0
        chunks[-1].append(block)
        size += length + 2
    return chunks


# --- caseload ---------------------------------------------------------------------------


def _phase_line(entry: CaseloadEntry) -> str:
    marks = []
    if entry.phase_state == "proposed":
        marks.append(_("awaiting approval"))
    elif entry.phase_state == "ready":
        marks.append(_("ready for review"))
    if entry.rating_overdue:
        marks.append(_("Rating overdue"))
    return _("Phase: {phase}").format(phase=entry.phase) + (
        f" ({', '.join(marks)})" if marks else "")


def caseload_messages(entries: list[CaseloadEntry], *, supervisor: bool
                      ) -> list[tuple[str, InlineKeyboardMarkup | None]]:
    """The caseload as one or more messages, each with buttons opening its clients."""
    if not entries:
        return [(_("No clients are in monitoring on your caseload."), None)]
    heading = (ngettext("Every caseload: {n} client, most in need first.",
                        "Every caseload: {n} clients, most in need first.", len(entries))
               if supervisor else
               ngettext("Your caseload: {n} client, most in need first.",
                        "Your caseload: {n} clients, most in need first.", len(entries))
               ).format(n=len(entries))
    blocks = []
    for entry in entries:
        client = entry.client
        marks = []
        if client.status == "paused":
            marks.append(_("paused"))
        if client.unreachable:
            marks.append(_("blocked the bot"))
        title = client.code + (f" ({', '.join(marks)})" if marks else "")
        blocks.append("\n".join([
            _("{client}. Open alerts: {alerts}").format(
                client=title, alerts=_open_alerts(entry.open_alerts)),
            "  " + _("Last check-in: {when}. Latest level: {level}").format(
                when=_ago(entry.last_checkin, entry.today), level=_level(entry.latest_level)),
            "  " + _("Adherence over 7 days: {week}; over 30 days: {month}").format(
                week=_adherence(entry.week), month=_adherence(entry.month)),
            *(["  " + _phase_line(entry)] if entry.phase else []),
        ]))
    messages: list[tuple[str, InlineKeyboardMarkup | None]] = []
    position = 0
    for number, chunk in enumerate(_chunks(blocks)):
        text = "\n\n".join(([heading] if number == 0 else []) + chunk)
        codes = [e.client.code for e in entries[position:position + len(chunk)]]
        position += len(chunk)
        rows = [[(code, ReviewCb(action="summary", code=code).pack())
                 for code in codes[i:i + BUTTONS_PER_ROW]]
                for i in range(0, len(codes), BUTTONS_PER_ROW)]
        messages.append((text, keyboard(rows)))
    messages[-1] = (messages[-1][0] + "\n\n" + _("Press a code to open the client."),
                    messages[-1][1])
    return messages


# --- summary ----------------------------------------------------------------------------


def summary_caption(summary: ClientSummary) -> str:
    days = (summary.today - summary.start).days + 1
    return ngettext("Client {code}: the last {days} day", "Client {code}: the last {days} days",
                    days).format(code=summary.client.code, days=days)


def _phase_summary(phase: PhaseReview) -> list[str]:
    lines = [ngettext("Phase: {name} ({number} of {count}), {days} day in it.",
                      "Phase: {name} ({number} of {count}), {days} days in it.",
                      phase.days_in_phase).format(
        name=phase.phase, number=phase.number, count=phase.count, days=phase.days_in_phase)]
    if phase.next is not None:
        met = sum(c.met for c in phase.criteria)
        lines.append(_("To step down to {name}: {met} of {all} criteria met.").format(
            name=phase.next, met=met, all=len(phase.criteria)))
    if phase.awaiting_approval:
        lines.append(_("A step down is awaiting a supervisor's approval."))
    if phase.timeline:
        last = phase.timeline[-1]
        lines.append(_("Last step: {start} to {end}, {day}.").format(
            start=last.start, end=last.end, day=f"{last.at:%Y-%m-%d}"))
    if phase.disagreements:
        lines.append(ngettext("Self-report and the clinician's rating differ in {n} area: "
                              "talk about it in session.",
                              "Self-report and the clinician's rating differ in {n} areas: "
                              "talk about them in session.", phase.disagreements).format(
                                  n=phase.disagreements))
    if phase.rating_overdue:
        lines.append(_("Rating overdue"))
    return lines


def summary_text(summary: ClientSummary, ttl_minutes: int, *,
                 zone: str | None = None) -> str:
    """Times in the summary's zone (the viewer's), unless `zone` says another. The alerts
    come from the review model: each reason once, and who acknowledged it how fast."""
    zone = zone or summary.timezone
    client = summary.client
    last = summary.last_checkin
    lines = [
        _("Client {code} ({status}), clinician {name}").format(
            code=client.code, status=_(STATUSES.get(client.status, client.status)),
            name=summary.clinician_name),
        _("Last check-in: {when}. Latest level: {level}").format(
            when=_ago(last.local_date if last else None, summary.today),
            level=_level(last.risk_level if last else None)),
        _("Adherence over 7 days: {week}; over 30 days: {month}").format(
            week=_adherence(summary.week), month=_adherence(summary.month)),
        _("Open alerts: {alerts}").format(alerts=_open_alerts(summary.open_alerts)),
    ]
    latest = next((p for p in reversed(summary.points) if p.domains), None)
    if latest is not None and summary.domain_labels:
        lines.append(_("Domains on {day}: {scores}").format(
            day=f"{latest.day:%Y-%m-%d}", scores=", ".join(
                f"{text} {latest.domains[d]}" for d, text in summary.domain_labels.items()
                if d in latest.domains)))
    if summary.alert_rows:
        lines += ["", _("Alerts in the last 14 days:")]
        for row in reversed(summary.alert_rows[-8:]):  # newest first, as the page and PDF
            state = _("open") if row.status == "open" else _("acknowledged")
            line = (f"• {shown_time(row.at, zone)} {row.level_label} ({state}): "
                    + "; ".join(row.reasons))
            if row.acknowledged_at is not None:
                line += "\n  " + _("Acknowledged by {name} at {time}, after {took}.").format(
                    name=row.acknowledged_by or "-",
                    time=shown_time(row.acknowledged_at, zone), took=row.response_text)
            lines.append(line)
    if summary.phase is not None:
        lines += ["", *_phase_summary(summary.phase)]
    lines += ["", plan_summary(summary.plan)]
    if summary.help_moments:
        told = sum(1 for m in summary.help_moments if m.told)
        lines.append(ngettext("Help now (/now): {n} time in these days, clinician told {told}.",
                              "Help now (/now): {n} times in these days, clinician told "
                              "{told}.", len(summary.help_moments)).format(
            n=len(summary.help_moments), told=told))
    if summary.open_suggestions:
        lines.append(ngettext("{n} suggestion from the client waits: /plan {code}.",
                              "{n} suggestions from the client wait: /plan {code}.",
                              summary.open_suggestions).format(
            n=summary.open_suggestions, code=summary.client.code))
    lines += ["", _("Indicators are from self-report, not an ACUTE-2007 assessment."),
              deleted_in(ttl_minutes)]
    return _fit("\n".join(lines))


def plan_summary(plan: Plan) -> str:
    if plan.is_empty:
        return _("RP plan: still empty. Fill it in with /plan CODE.")
    lines = [_("RP plan:")]
    if plan.updated_at is not None:
        lines[0] += " " + _("version {number} of {day}").format(
            number=plan.version, day=f"{plan.updated_at:%Y-%m-%d}")
    for title, items in plan_lines(plan, current_language.get()):
        if items:
            lines.append(f"{title}: " + "; ".join(items))
    return "\n".join(lines)


def summary_buttons(code: str) -> InlineKeyboardMarkup:
    return keyboard([[
        (_("History"), ReviewCb(action="history", code=code, page=0).pack()),
        (ngettext("Report ({n} day)", "Report ({n} days)", DEFAULT_REPORT_DAYS).format(
            n=DEFAULT_REPORT_DAYS),
         ReviewCb(action="report", code=code).pack()),
        (_("Plan"), ReviewCb(action="plan", code=code).pack()),
    ]])


# --- history ----------------------------------------------------------------------------


def _item_text(item: HistoryItem, zone: str) -> str:
    if item.kind == "journal":
        assert item.at is not None
        return _("Journal entry {time}").format(time=shown_time(item.at, zone)) + \
            "\n" + item.text
    if item.kind == "missed":
        return _("Check-in {day}: missed").format(day=f"{item.day:%Y-%m-%d}")
    head = _("Check-in {day}. Level: {level}").format(day=f"{item.day:%Y-%m-%d}",
                                                      level=_level(item.level))
    if item.roll_ups:
        head += "\n" + _("Indicators: {values}").format(
            values=", ".join(f"{name} {value}" for name, value in item.roll_ups))
    lines = [head]
    lines += [f"{question}: {answer}" for question, answer in item.answers]
    lines += [f"{question}: {answer}" for question, answer in item.texts]
    return "\n".join(lines)


def _shorten(text: str, limit: int) -> str:
    if utf16_length(text) <= limit:
        return text
    return cut_to(text, limit - 1).rstrip() + "…\n" + _("(shortened here; the session report has "
                                                   "the full text)")


def history_text(page: HistoryPage, ttl_minutes: int, *, zone: str = "UTC") -> str:
    """`zone`: where the staff member reads times (the program's zone)."""
    header = _("Client {code}: history, page {page} of {pages}, newest first").format(
        code=page.client.code, page=page.page + 1, pages=page.pages)
    footer = deleted_in(ttl_minutes)
    if not page.items:
        return header + "\n\n" + _("No check-ins or journal entries yet.")
    budget = ((MESSAGE_LIMIT - utf16_length(header) - utf16_length(footer) - 150)
              // len(page.items))
    blocks = [_shorten(_item_text(item, zone), budget) for item in page.items]
    return "\n\n".join([header, *blocks, footer])


def history_buttons(page: HistoryPage) -> InlineKeyboardMarkup | None:
    row = []
    code = page.client.code
    if page.page > 0:
        row.append((_("◀ Previous"), ReviewCb(action="page", code=code,
                                              page=page.page - 1).pack()))
    if page.page + 1 < page.pages:
        row.append((_("Next ▶"), ReviewCb(action="page", code=code,
                                          page=page.page + 1).pack()))
    return keyboard([row]) if row else None


# --- plan, discharge --------------------------------------------------------------------


def plan_view(client: Client, plan: Plan, language: str, ttl_minutes: int, *,
              editable: bool) -> str:
    changed = (_("version {number} of {day}").format(number=plan.version,
                                                     day=f"{plan.updated_at:%Y-%m-%d}")
               if plan.updated_at else _("never filled in"))
    lines = [_("RP plan of client {code} ({changed}):").format(code=client.code,
                                                                changed=changed),
             "", plan_as_text(plan, language), ""]
    if editable:
        lines.append(ngettext(
            "To change it, reply within {minutes} minute with the plan in the same format: "
            "each section title on its own line, then one item a line, its details after "
            "a bar. Sections you leave out stay as they are; a title with no lines under it "
            "empties that section. Each change is kept as a new version, the check-in offers "
            "the client's own items, and the client is told that their plan changed.",
            "To change it, reply within {minutes} minutes with the plan in the same format: "
            "each section title on its own line, then one item a line, its details after "
            "a bar. Sections you leave out stay as they are; a title with no lines under it "
            "empties that section. Each change is kept as a new version, the check-in offers "
            "the client's own items, and the client is told that their plan changed.", PLAN_EDIT_MINUTES).format(
                minutes=PLAN_EDIT_MINUTES))
    lines.append(deleted_in(ttl_minutes))
    return _fit("\n".join(lines))


def discharge_question(code: str, erase_after: date, days: int,
                       open_alerts: int = 0) -> tuple[str, InlineKeyboardMarkup]:
    text = ngettext(
        "Discharge client {code}? Daily check-ins stop at once and the client is told. "
        "Their records stay readable to you for {days} day; on {day} their data key is "
        "destroyed and every record becomes unreadable for good.",
        "Discharge client {code}? Daily check-ins stop at once and the client is told. "
        "Their records stay readable to you for {days} days; on {day} their data key is "
        "destroyed and every record becomes unreadable for good.", days).format(
        code=code, days=days, day=f"{erase_after:%Y-%m-%d}")
    if open_alerts:
        text += "\n\n" + ngettext(
            "{n} alert of this client is still open. Discharge does not close it: it keeps "
            "escalating until someone acknowledges it.",
            "{n} alerts of this client are still open. Discharge does not close them: they "
            "keep escalating until someone acknowledges them.", open_alerts).format(n=open_alerts)
    return text, keyboard([[
        (_("Discharge {code}").format(code=code),
         DischargeCb(action="confirm", code=code).pack()),
        (_("Cancel"), DischargeCb(action="cancel", code=code).pack())]])


def _fit(text: str) -> str:
    return text if utf16_length(text) <= TEXT_LIMIT else cut_to(text, TEXT_LIMIT - 6).rstrip() + "…"


__all__ = [
    "caseload_messages", "discharge_question", "history_buttons", "history_text",
    "plan_summary", "plan_view", "summary_buttons", "summary_caption", "summary_text",
]
