"""The program's figures page (supervisors only): charts, the table and its CSV; and the
research export as a download (supervisors only, the same export and audit event as
`steadfast export research`)."""

from __future__ import annotations

import asyncio
import csv
import io
import shutil
import tempfile
import zipfile
from datetime import date
from pathlib import Path

from aiohttp import web

from journal.alerts.levels import ALERT_ORDER, LABELS
from journal.errors import NotFound
from journal.export.figures import ProgramFigures
from journal.i18n import N_, gettext_for
from web.auth import check_csrf, signed_in
from web.context import SERVICES_KEY
from web.parsing import form as posted
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


BAD_DAYS = N_("Give the first and last day as dates, the last not before the first.")
NO_REASON = N_("Free text is exported only with a reason, which the audit trail keeps.")


async def export_page(request: web.Request, *, problem: str | None = None,
                      status: int = 200) -> web.Response:
    viewer = await signed_in(request)
    if not viewer.is_supervisor:
        raise NotFound("the research export is for supervisors")
    return page(request, "export.html", {"problem": problem}, status=status)


def _day(value: object) -> date | None:
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


async def export_download(request: web.Request) -> web.StreamResponse:
    """The research export of the days asked for, as one zip file. Built in a private
    temporary directory, sent, removed."""
    from journal.export.research import ResearchExport

    viewer = await signed_in(request)
    form = await posted(request)
    await check_csrf(request, form)
    if not viewer.is_supervisor:
        raise NotFound("the research export is for supervisors")
    since, until = _day(form.get("from")), _day(form.get("to"))
    if since is None or until is None or until < since:
        return await export_page(request, problem=BAD_DAYS, status=400)
    free_text = form.get("free_text") == "yes"
    reason = form.get("reason")
    reason = reason.strip() if isinstance(reason, str) else ""
    if free_text and not reason:
        return await export_page(request, problem=NO_REASON, status=400)
    services = request.app[SERVICES_KEY]
    settings = services.settings
    folder = Path(tempfile.mkdtemp(prefix="steadfast-export-"))
    try:
        exporter = ResearchExport(store=services.store, clock=services.clock,
                                  questionnaire=services.questionnaire, rules=services.rules,
                                  date_mode=settings.export_dates,
                                  min_cell=settings.export_min_cell,
                                  language=viewer.language)
        receipt = await exporter.run(viewer.clinician.telegram_id, folder / "export",
                                     since=since, until=until, free_text=free_text,
                                     reason=reason or None)
        archive = await asyncio.to_thread(_zip, receipt.path, folder / "export.zip")
        name = f"steadfast-research-{since.isoformat()}-{until.isoformat()}.zip"
        response = web.StreamResponse(headers={
            "Content-Type": "application/zip",
            "Content-Disposition": f'attachment; filename="{name}"'})
        await response.prepare(request)
        handle = await asyncio.to_thread(archive.open, "rb")
        try:
            while chunk := await asyncio.to_thread(handle.read, 1 << 16):
                await response.write(chunk)
        finally:
            handle.close()
        await response.write_eof()
        return response
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _zip(directory: Path, archive: Path) -> Path:
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as packed:
        for path in sorted(directory.iterdir()):
            packed.write(path, path.name)
    return archive


async def _export_form(request: web.Request) -> web.Response:
    return await export_page(request)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/program/figures", figures_page)
    app.router.add_get("/program/figures.csv", figures_csv)
    app.router.add_get("/program/export", _export_form)
    app.router.add_post("/program/export", export_download)


__all__ = ["add_routes"]
