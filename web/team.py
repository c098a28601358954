"""The supervising officer's workspace page, /supervisees: the clients who agreed to share
with them, most in need first, with counts, levels, statuses and times only (each client
shown is an audited view, journal/sharing.py)."""

from __future__ import annotations

from aiohttp import web

from journal.alerts.levels import ALERT_ORDER, WORDS
from journal.errors import NotFound
from journal.progress import LEAVES_OUT
from journal.sharing import ADHERENCE, ALERTS, REPORT, STATUS, STATUS_WORDS, report_word
from web.auth import any_viewer, check_csrf
from web.context import SERVICES_KEY, VIEWER, Viewer
from web.parsing import form as posted
from web.render import page


async def supervisees(request: web.Request) -> web.Response:
    viewer = await _officer(request)  # a clinician's list is the caseload
    services = request.app[SERVICES_KEY]
    async with services.store.transaction() as uow:  # the views' audit commits with it
        found = await services.sharing.supervisees(uow, viewer.clinician)
    return page(request, "supervisees.html", {
        "nav": "supervisees", "supervisees": found, "levels": ALERT_ORDER, "words": WORDS,
        "status_words": STATUS_WORDS, "ADHERENCE": ADHERENCE, "ALERTS": ALERTS,
        "STATUS": STATUS, "REPORT": REPORT,
        "report_of": lambda s: report_word(viewer.language, s.report, s.report_month)})


async def _officer(request: web.Request) -> Viewer:
    viewer = await any_viewer(request)
    if not viewer.clinician.is_officer:
        raise NotFound("an officer's page")
    return viewer


async def progress_report(request: web.Request) -> web.Response:
    """A monthly progress report its officer received: the numbers, the note, what it
    leaves out, and the acknowledgement."""
    viewer = await _officer(request)
    services = request.app[SERVICES_KEY]
    async with services.store.transaction() as uow:  # the view's audit commits with it
        report, content, author = await services.progress.officer_view(
            uow, viewer.clinician, request.match_info["report_id"])
    return page(request, "progress.html", {
        "nav": "supervisees", "report": report, "author": author,
        "title": services.progress.summary_text(content, viewer.language).splitlines()[0]
        .rstrip(":"),
        "lines": services.progress.lines(content, viewer.language), "leaves_out": LEAVES_OUT,
        "acknowledged": request.query.get("acknowledged") == "1"})


async def acknowledge_report(request: web.Request) -> web.StreamResponse:
    await _officer(request)
    form = await posted(request)
    await check_csrf(request, form)
    viewer = request[VIEWER]
    services = request.app[SERVICES_KEY]
    report_id = request.match_info["report_id"]
    async with services.store.transaction() as uow:
        await services.progress.acknowledge(uow, viewer.clinician, report_id)
    raise web.HTTPSeeOther(f"/progress/{report_id}?acknowledged=1")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/supervisees", supervisees)
    app.router.add_get("/progress/{report_id}", progress_report)
    app.router.add_post("/progress/{report_id}/acknowledge", acknowledge_report)


__all__ = ["add_routes"]
