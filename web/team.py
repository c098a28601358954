"""The supervising officer's workspace page, /supervisees: the clients who agreed to share
with them, most in need first, with counts, levels, statuses and times only (each client
shown is an audited view, journal/sharing.py)."""

from __future__ import annotations

from aiohttp import web

from journal.alerts.levels import ALERT_ORDER, WORDS
from journal.errors import NotFound
from journal.sharing import ADHERENCE, ALERTS, REPORT, STATUS, STATUS_WORDS, report_word
from web.auth import any_viewer
from web.context import SERVICES_KEY
from web.render import page


async def supervisees(request: web.Request) -> web.Response:
    viewer = await any_viewer(request)
    if not viewer.clinician.is_officer:  # the caseload is theirs: this page is not
        raise NotFound("an officer's page")
    services = request.app[SERVICES_KEY]
    async with services.store.transaction() as uow:  # the views' audit commits with it
        found = await services.sharing.supervisees(uow, viewer.clinician)
    return page(request, "supervisees.html", {
        "nav": "supervisees", "supervisees": found, "levels": ALERT_ORDER, "words": WORDS,
        "status_words": STATUS_WORDS, "ADHERENCE": ADHERENCE, "ALERTS": ALERTS,
        "STATUS": STATUS, "REPORT": REPORT,
        "report_of": lambda s: report_word(viewer.language, s.report, s.report_month)})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/supervisees", supervisees)


__all__ = ["add_routes"]
