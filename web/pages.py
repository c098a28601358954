"""The workspace's own pages: the caseload, open alerts (acknowledged with a note through
the same AlertService as the chat, so every Telegram copy is edited to "handled") and the
week's acknowledged ones with their notes (a later note is added, never replaces), the
session report's PDF, and the program at a glance (supervisors only). Each page reads through the services, which apply journal/people.py's
one access rule and write the audit events the chat writes."""

from __future__ import annotations

from aiohttp import web

from journal.alerts.levels import ALERT_ORDER, WORDS
from journal.alerts.service import copy_states, note_authors
from journal.review.caseload import AGE_BANDS
from journal.review.indicators import Indicators
from journal.review.model import AlertNoteRow
from journal.review.report import report_filename
from journal.review.report_data import DEFAULT_REPORT_DAYS, MAX_REPORT_DAYS
from journal.times import ago_text
from storage.records import Alert, Client
from web.auth import any_viewer, check_csrf, landing, signed_in
from web.context import SERVICES_KEY
from web.parsing import form as posted
from web.parsing import query_choice, query_number
from web.render import language_of, page
from web.trends import ARROWS, roll_up_names, trends
from web.trends import WORDS as TREND_WORDS

LEVELS = [(level, WORDS[level]) for level in ALERT_ORDER]
HANDLED_DAYS = 7  # the alerts page lists what was acknowledged this long ago, with notes
STATES = ("open", "acknowledged")  # /alerts?state=: one section only; none given: both


async def home(request: web.Request) -> web.StreamResponse:
    raise web.HTTPSeeOther(landing((await any_viewer(request)).clinician))


async def caseload(request: web.Request) -> web.Response:
    viewer = await signed_in(request)
    services = request.app[SERVICES_KEY]
    dead, names = None, {}
    indicators = Indicators(services.questionnaire, services.rules)
    async with services.store.transaction() as uow:
        entries = await services.caseload.caseload(uow, viewer.clinician)
        moved = await trends(uow, indicators, entries, viewer.clinician, services.clock.now())
        overdue = await uow.homework.overdue_counts([e.client.id for e in entries],
                                                    services.clock.now())
        if viewer.is_supervisor:  # every caseload: say whose client each is
            dead = await services.delivery_report.summary(uow)
            names = {c.id: c.name for c in await uow.clinicians.everyone()}
    return page(request, "caseload.html", {"entries": entries, "levels": LEVELS,
                                           "words": WORDS, "deliveries": dead,
                                           "clinicians": names, "trends": moved,
                                           "overdue": overdue,
                                           "roll_ups": roll_up_names(services.questionnaire,
                                                                     viewer.language),
                                           "trend_words": TREND_WORDS,
                                           "arrows": ARROWS})


async def alerts(request: web.Request) -> web.Response:
    """Open alerts with their reasons (read as the chat's Details button reads them, and
    audited the same), their age and where each copy stands, then the week's acknowledged
    ones with their notes. ?level= and ?state= narrow the page; anything else is a 400."""
    viewer = await signed_in(request)
    level = query_choice(request, "level", ALERT_ORDER)
    state = query_choice(request, "state", STATES)
    services = request.app[SERVICES_KEY]
    rows: list[tuple[Alert, Client]] = []
    handled: list[tuple[Alert, Client]] = []
    async with services.store.transaction() as uow:
        if state in (None, "open"):
            rows = [(a, c) for a, c in await services.alerts.open_alerts(uow, viewer.clinician)
                    if level is None or a.level == level]
            await services.alerts.reasons_shown(uow, viewer.clinician, rows)
        if state in (None, "acknowledged"):
            handled = await services.alerts.recently_acknowledged(
                uow, viewer.clinician, days=HANDLED_DAYS, level=level)
        copies = await copy_states(uow, [a for a, _client in rows + handled])
        authors = await note_authors(uow, [a for a, _client in handled])
        now = services.clock.now()
    language = language_of(request)
    done = request.query.get("done", "")
    noted = request.query.get("noted", "")
    return page(request, "alerts.html", {
        "rows": [(alert, client, services.alerts.reason_texts(alert, language),
                  ago_text(alert.created_at, now, language), copies.get(alert.id, ()))
                 for alert, client in rows],
        "words": WORDS, "levels": LEVELS, "level": level or "", "state": state or "",
        "done": done if done.isalnum() else "",
        "noted": noted if noted.isalnum() else "", "handled_days": HANDLED_DAYS,
        "handled": [(alert, client, [AlertNoteRow(author=authors.get(n.author_id or 0, "-"),
                                                  at=n.at, text=n.text or "-")
                                     for n in alert.notes], copies.get(alert.id, ()))
                    for alert, client in handled]})


async def acknowledge(request: web.Request) -> web.StreamResponse:
    """Acknowledge with an optional note, as the chat's Acknowledge button and reply do."""
    viewer = await signed_in(request)
    form = await posted(request)
    await check_csrf(request, form)
    alert_id = request.match_info["alert_id"]
    note = form.get("note")
    services = request.app[SERVICES_KEY]
    async with services.store.transaction() as uow:
        alert, _changed = await services.alerts.acknowledge(uow, viewer.clinician, alert_id)
        if isinstance(note, str) and note.strip():
            await services.alerts.add_note(uow, viewer.clinician, alert.id, note)
    raise web.HTTPSeeOther(f"/alerts?done={alert.id}")


async def add_note(request: web.Request) -> web.StreamResponse:
    """A later note on an acknowledged alert: added beside the notes already there."""
    viewer = await signed_in(request)
    form = await posted(request)
    await check_csrf(request, form)
    alert_id = request.match_info["alert_id"]
    note = form.get("note")
    if not isinstance(note, str) or not note.strip():
        raise web.HTTPSeeOther("/alerts")
    services = request.app[SERVICES_KEY]
    async with services.store.transaction() as uow:
        client = await services.alerts.add_note(uow, viewer.clinician, alert_id, note)
    if form.get("back") == "client":
        raise web.HTTPSeeOther(f"/clients/{client.code}#alerts-title")
    raise web.HTTPSeeOther(f"/alerts?noted={alert_id}")


async def report(request: web.Request) -> web.StreamResponse:
    """The session PDF for the last `days` days, as /report sends it in the chat."""
    viewer = await signed_in(request)
    days = query_number(request, "days", default=DEFAULT_REPORT_DAYS, low=1,
                        high=MAX_REPORT_DAYS)
    services = request.app[SERVICES_KEY]
    async with services.store.transaction() as uow:  # the audit event commits with it
        data = await services.review.report(uow, viewer.clinician, request.match_info["code"],
                                            days)
    pdf = await services.review.render_report(data)
    name = report_filename(data.client_code, data.start, data.end,
                           data.generated_at.date())
    return web.Response(body=pdf, content_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="{name}"'})


async def program(request: web.Request) -> web.Response:
    """Every caseload at a glance, for supervisors; anyone else gets the unknown page's 404."""
    viewer = await signed_in(request)
    services = request.app[SERVICES_KEY]
    async with services.store.transaction() as uow:  # the audit event commits with it
        glance = await services.caseload.program(uow, viewer.clinician)
    return page(request, "program.html", {"glance": glance, "levels": LEVELS,
                                          "bands": AGE_BANDS})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/", home)
    app.router.add_get("/caseload", caseload)
    app.router.add_get("/alerts", alerts)
    app.router.add_post("/alerts/{alert_id}/acknowledge", acknowledge)
    app.router.add_post("/alerts/{alert_id}/notes", add_note)
    app.router.add_get("/reports/{code}", report)
    app.router.add_get("/program", program)


__all__ = ["add_routes"]
