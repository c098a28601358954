"""A client's page: GET /clients/{code} and everything under /clients/{code}/.

This first version shows the summary the chat's /client shows (ReviewService.summary:
the access rule of journal/people.py, and its audit event) and the report download; the
full page (indicators, calendar, timeline, journal, plan) builds on it."""

from __future__ import annotations

from aiohttp import web

from bot.workspace.auth import signed_in
from bot.workspace.keys import SERVICES_KEY
from bot.workspace.render import page
from journal.alerts.levels import ALERT_ORDER, WORDS
from journal.review.report_data import DEFAULT_REPORT_DAYS, MAX_REPORT_DAYS


async def client(request: web.Request) -> web.Response:
    viewer = await signed_in(request)
    services = request.app[SERVICES_KEY]
    async with services.store.transaction() as uow:
        summary = await services.review.summary(uow, viewer.clinician,
                                                request.match_info["code"])
    return page(request, "client.html", {
        "summary": summary, "words": WORDS, "alert_order": ALERT_ORDER,
        "default_days": DEFAULT_REPORT_DAYS, "max_days": MAX_REPORT_DAYS})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/clients/{code}", client)
