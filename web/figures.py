"""The program's figures page (supervisors only): charts, the table and its CSV."""

from __future__ import annotations

import csv
import io

from aiohttp import web

from journal.alerts.levels import ALERT_ORDER, LABELS
from journal.export.figures import ProgramFigures
from journal.i18n import gettext_for
from web.auth import signed_in
from web.context import SERVICES_KEY
from web.parsing import query_number
from web.render import language_of, page


async def _figures(request: web.Request) -> ProgramFigures:
    viewer = await signed_in(request)
    weeks = query_number(request, "weeks", default=12, low=1, high=104)
    months = query_number(request, "months", default=12, low=1, high=60)
    services = request.app[SERVICES_KEY]
    async with services.store.transaction() as uow:  # the audit event commits with it
        return await services.figures.figures(uow, viewer.clinician, weeks=weeks,
                                              months=months)


async def figures_page(request: web.Request) -> web.Response:
    from web.figures_charts import adherence_chart, alerts_chart

    figures = await _figures(request)
    language = language_of(request)

    def t(message: str) -> str:
        return gettext_for(language, message)

    names: dict[str, str] = {level: t(LABELS[level]) for level in ALERT_ORDER}
    return page(request, "figures.html", {
        "figures": figures, "levels": [(lvl, names[lvl]) for lvl in ALERT_ORDER],
        "names": names,
        "adherence_chart": adherence_chart(figures.weeks, t),
        "alerts_chart": alerts_chart(figures.months, t, names),
        "query": request.query_string})


async def figures_csv(request: web.Request) -> web.Response:
    figures = await _figures(request)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["figure", "group", "measure", "value"])
    writer.writerows(figures.rows())
    name = f"steadfast-figures-{figures.until.isoformat()}.csv"
    return web.Response(text=out.getvalue(), content_type="text/csv", charset="utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/program/figures", figures_page)
    app.router.add_get("/program/figures.csv", figures_csv)


__all__ = ["add_routes"]
