"""A client's appointments in the workspace: the next and the latest ones with the client's
answers (the reason included) and the attendance, a form to record one, and the attendance
recorded, through the same AppointmentService as the chat (its access rule, its audit)."""

from __future__ import annotations

from datetime import date, time

from aiohttp import web

from journal.appointments import ATTENDANCE_NAMES, NOT_SAVED, AppointmentRequest
from journal.errors import InvalidInput
from journal.i18n import gettext_for
from web.auth import check_csrf, signed_in
from web.context import SERVICES_KEY
from web.parsing import form as posted
from web.render import page


async def appointments(request: web.Request, *, error: str = "", status: int = 200
                       ) -> web.Response:
    viewer = await signed_in(request)
    services = request.app[SERVICES_KEY]
    async with services.store.transaction() as uow:  # the audit event commits with it
        client, ahead, past = await services.appointments.for_staff(
            uow, viewer.clinician, request.match_info["code"])
    return page(request, "client_appointments.html", {
        "code": client.code, "timezone": client.timezone, "ahead": ahead, "past": past,
        "kinds": services.appointments.kind_choices(viewer.language),
        "marks": list(ATTENDANCE_NAMES.items()), "error": error,
        "saved": request.query.get("saved") == "1"}, status=status)


async def add(request: web.Request) -> web.StreamResponse:
    viewer = await signed_in(request)
    form = await posted(request)
    await check_csrf(request, form)
    services = request.app[SERVICES_KEY]

    def field(name: str) -> str:
        value = form.get(name)
        return value.strip() if isinstance(value, str) else ""

    try:
        hours, _, minutes = field("time").partition(":")
        request_ = AppointmentRequest(request.match_info["code"].upper(), field("kind"),
                                      date.fromisoformat(field("date")),
                                      time(int(hours), int(minutes)),
                                      field("online") == "1", field("place"))
        async with services.store.transaction() as uow:
            client, _made = await services.appointments.add(uow, viewer.clinician, request_)
    except (ValueError, InvalidInput):
        return await appointments(request, error=gettext_for(viewer.language, NOT_SAVED),
                                  status=400)
    raise web.HTTPSeeOther(f"/clients/{client.code}/appointments?saved=1")


async def attendance(request: web.Request) -> web.StreamResponse:
    viewer = await signed_in(request)
    form = await posted(request)
    await check_csrf(request, form)
    mark = form.get("mark")
    if not isinstance(mark, str) or mark not in ATTENDANCE_NAMES:
        raise web.HTTPBadRequest()
    services = request.app[SERVICES_KEY]
    async with services.store.transaction() as uow:
        client, _recorded = await services.appointments.record_attendance(
            uow, viewer.clinician, request.match_info["appointment_id"], mark)
    raise web.HTTPSeeOther(f"/clients/{client.code}/appointments")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/clients/{code}/appointments", appointments)
    app.router.add_post("/clients/{code}/appointments", add)
    app.router.add_post("/appointments/{appointment_id}/attendance", attendance)


__all__ = ["add_routes"]
