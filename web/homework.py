"""A client's homework in the workspace: each task with where it stands (done, late,
missing), the answer read (audited, through the chat's HomeworkService and its access rule)
and marked discussed."""

from __future__ import annotations

from aiohttp import web

from web.auth import check_csrf, signed_in
from web.context import SERVICES_KEY
from web.parsing import form as posted
from web.render import page


async def client_homework(request: web.Request) -> web.Response:
    viewer = await signed_in(request)
    services = request.app[SERVICES_KEY]
    async with services.store.transaction() as uow:
        client, lines = await services.homework.for_staff(uow, viewer.clinician,
                                                          request.match_info["code"])
    return page(request, "client_homework.html", {"code": client.code, "lines": lines})


async def one(request: web.Request) -> web.Response:
    viewer = await signed_in(request)
    services = request.app[SERVICES_KEY]
    async with services.store.transaction() as uow:  # the audit event commits with it
        client, homework, line, prompt = await services.homework.read(
            uow, viewer.clinician, request.match_info["homework_id"])
    return page(request, "homework.html", {"code": client.code, "homework": homework,
                                           "line": line, "prompt": prompt})


async def discussed(request: web.Request) -> web.StreamResponse:
    viewer = await signed_in(request)
    form = await posted(request)
    await check_csrf(request, form)
    services = request.app[SERVICES_KEY]
    homework_id = request.match_info["homework_id"]
    async with services.store.transaction() as uow:
        await services.homework.mark_discussed(uow, viewer.clinician, homework_id)
    raise web.HTTPSeeOther(f"/homework/{homework_id}")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/clients/{code}/homework", client_homework)
    app.router.add_get("/homework/{homework_id}", one)
    app.router.add_post("/homework/{homework_id}/discussed", discussed)


__all__ = ["add_routes"]
