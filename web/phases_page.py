"""Treatment phases in the workspace:

    GET  /approvals                 step-down proposals awaiting a supervisor (404 to others)
    POST /clients/{code}/approve    a supervisor approves the client's proposed step down
    POST /clients/{code}/rating     the clinician's rating of each domain, with a short note

Each acts through journal.phases.service, as the chat's /approve and /rate do: the same
access rule (another clinician's client answers as an unknown one), the same audit."""

from __future__ import annotations

from aiohttp import web

from web.auth import check_csrf, signed_in
from web.context import SERVICES_KEY
from web.parsing import form as posted
from web.render import page


async def approvals(request: web.Request) -> web.Response:
    viewer = await signed_in(request)
    services = request.app[SERVICES_KEY]
    async with services.store.unit_of_work() as uow:
        pending = await services.phases.awaiting(uow, viewer.clinician)
    names = {p.id: p.name.get(viewer.language) for p in services.phases.phases.phases}
    return page(request, "approvals.html", {"pending": pending, "names": names,
                                            "viewer_id": viewer.clinician.id})


async def approve(request: web.Request) -> web.StreamResponse:
    viewer = await signed_in(request)
    form = await posted(request)
    await check_csrf(request, form)
    services = request.app[SERVICES_KEY]
    async with services.store.transaction() as uow:
        await services.phases.approve(uow, viewer.clinician, request.match_info["code"])
    raise web.HTTPSeeOther("/approvals")


async def rate(request: web.Request) -> web.StreamResponse:
    viewer = await signed_in(request)
    form = await posted(request)
    await check_csrf(request, form)
    services = request.app[SERVICES_KEY]
    ratings: dict[str, int] = {}
    for domain in services.phases.domains:
        value = form.get(domain)
        ratings[domain] = int(value) if isinstance(value, str) and value in ("0", "1", "2") \
            else -1  # refused by the service, like a forged form
    note = form.get("note")
    code = request.match_info["code"]
    async with services.store.transaction() as uow:
        await services.phases.rate(uow, viewer.clinician, code, ratings,
                                   note if isinstance(note, str) else "")
    raise web.HTTPSeeOther(f"/clients/{code.upper()}?rating=saved#phase")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/approvals", approvals)
    app.router.add_post("/clients/{code}/approve", approve)
    app.router.add_post("/clients/{code}/rating", rate)


__all__ = ["add_routes"]
