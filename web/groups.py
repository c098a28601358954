"""Groups in the workspace: the facilitator's groups, one group (members, facilitators, the
next session), a session's attendance for the whole group on one screen, and the
preparation sheet. Everything goes through GroupService, whose one rule is that a
facilitator sees a member who is not their own client only here."""

from __future__ import annotations

from datetime import date

from aiohttp import web

from journal.alerts.levels import WORDS
from journal.appointments import ATTENDANCE_NAMES
from journal.errors import InvalidInput
from journal.groups import render_sheet_pdf, session_from_key, session_key, sheet_pdf_data
from journal.homework import HomeworkRequest
from web.auth import check_csrf, signed_in
from web.context import SERVICES_KEY
from web.parsing import form as posted
from web.render import page

DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _text(form: object, name: str) -> str:
    value = form.get(name) if hasattr(form, "get") else None
    return value.strip() if isinstance(value, str) else ""


async def groups(request: web.Request) -> web.Response:
    viewer = await signed_in(request)
    services = request.app[SERVICES_KEY]
    async with services.store.transaction() as uow:
        found = await services.groups.mine(uow, viewer.clinician)
    return page(request, "groups.html", {"groups": found, "days": DAYS})


async def create(request: web.Request) -> web.StreamResponse:
    viewer = await signed_in(request)
    form = await posted(request)
    await check_csrf(request, form)
    services = request.app[SERVICES_KEY]
    try:
        weekday = int(_text(form, "weekday"))
    except ValueError:
        raise web.HTTPBadRequest() from None
    try:
        async with services.store.transaction() as uow:
            group = await services.groups.create(uow, viewer.clinician, _text(form, "name"),
                                                 weekday, _text(form, "time"))
    except InvalidInput:
        raise web.HTTPBadRequest() from None
    raise web.HTTPSeeOther(f"/groups/{group.id}")


async def one(request: web.Request) -> web.Response:
    viewer = await signed_in(request)
    services = request.app[SERVICES_KEY]
    async with services.store.transaction() as uow:
        group = await services.groups.facilitated(uow, viewer.clinician,
                                                  request.match_info["group_id"])
        members = await services.groups.members(uow, group)
        names = {c.id: c.name for c in await uow.clinicians.everyone()}
        sessions = await uow.appointments.group_sessions(group.id)
    return page(request, "group.html", {
        "group": group, "members": members, "days": DAYS,
        "facilitators": [names.get(i, "—") for i in group.facilitators],
        "own": viewer.clinician.id, "supervisor": viewer.is_supervisor,
        "sessions": [(s, session_key(s)) for s in sessions],
        "next": services.groups.next_session(group, services.clock.now()),
        "tasks": [(code, services.homework.library.title(code, viewer.language))
                  for code in services.homework.library.titles]})


async def change(request: web.Request) -> web.StreamResponse:
    """Add a member (a client code), a facilitator (a Telegram id), the next session, or
    homework for every member."""
    viewer = await signed_in(request)
    form = await posted(request)
    await check_csrf(request, form)
    services = request.app[SERVICES_KEY]
    group_id, what = request.match_info["group_id"], request.match_info["what"]
    async with services.store.transaction() as uow:
        if what == "members":
            await services.groups.add_member(uow, viewer.clinician, group_id,
                                             _text(form, "code"))
        elif what == "facilitators":
            try:
                telegram_id = int(_text(form, "telegram_id"))
            except ValueError:
                raise web.HTTPBadRequest() from None
            await services.groups.add_facilitator(uow, viewer.clinician, group_id,
                                                  telegram_id)
        elif what == "homework":
            try:
                due = date.fromisoformat(_text(form, "due"))
            except ValueError:
                raise web.HTTPBadRequest() from None
            try:
                await services.groups.give_homework(uow, viewer.clinician, group_id,
                                                    HomeworkRequest((), _text(form, "task"), due,
                                                                    _text(form, "text")))
            except InvalidInput:
                raise web.HTTPBadRequest() from None
        elif what == "sessions":
            await services.groups.schedule_next(uow, viewer.clinician, group_id,
                                                place=_text(form, "place")[:200],
                                                online=_text(form, "online") == "1")
        else:
            raise web.HTTPNotFound()
    raise web.HTTPSeeOther(f"/groups/{group_id}")


async def session(request: web.Request) -> web.StreamResponse:
    """The whole group's attendance for one session, on one screen."""
    viewer = await signed_in(request)
    starts_at = session_from_key(request.match_info["key"])
    if starts_at is None:
        raise web.HTTPNotFound()
    services = request.app[SERVICES_KEY]
    group_id = request.match_info["group_id"]
    if request.method == "POST":
        form = await posted(request)
        await check_csrf(request, form)
        marks = {}
        for name in form:
            if name.startswith("mark-"):
                mark = _text(form, name)
                if mark and mark not in ATTENDANCE_NAMES:
                    raise web.HTTPBadRequest()
                marks[name[5:]] = mark
        async with services.store.transaction() as uow:
            await services.groups.record_attendance(uow, viewer.clinician, group_id,
                                                    starts_at, marks)
        raise web.HTTPSeeOther(f"/groups/{group_id}/sessions/{request.match_info['key']}")
    async with services.store.transaction() as uow:
        group, pairs = await services.groups.session(uow, viewer.clinician, group_id,
                                                     starts_at)
    return page(request, "group_session.html", {
        "group": group, "starts_at": starts_at, "pairs": pairs,
        "marks": list(ATTENDANCE_NAMES.items()), "key": request.match_info["key"],
        "begun": starts_at <= services.clock.now()})


async def sheet(request: web.Request) -> web.Response:
    viewer = await signed_in(request)
    services = request.app[SERVICES_KEY]
    async with services.store.transaction() as uow:  # the audit events commit with it
        shown = await services.groups.sheet(uow, viewer.clinician,
                                            request.match_info["group_id"], viewer.language)
    return page(request, "group_sheet.html", {"sheet": shown, "words": WORDS,
                                              "attendance_names": ATTENDANCE_NAMES})


async def sheet_pdf(request: web.Request) -> web.StreamResponse:
    """The preparation sheet as a PDF, drawn in the renderer's worker."""
    viewer = await signed_in(request)
    services = request.app[SERVICES_KEY]
    async with services.store.transaction() as uow:  # the audit events commit with it
        shown = await services.groups.sheet(uow, viewer.clinician,
                                            request.match_info["group_id"], viewer.language)
    zone = viewer.clinician.timezone or services.settings.default_timezone
    pdf = await render_sheet_pdf(sheet_pdf_data(shown, viewer.language, zone))
    return web.Response(body=pdf, content_type="application/pdf", headers={
        "Content-Disposition": 'attachment; filename="preparation-sheet.pdf"'})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/groups", groups)
    app.router.add_post("/groups", create)
    app.router.add_get("/groups/{group_id}", one)
    app.router.add_get("/groups/{group_id}/sheet", sheet)
    app.router.add_get("/groups/{group_id}/sheet.pdf", sheet_pdf)
    app.router.add_post("/groups/{group_id}/{what}", change)
    app.router.add_get("/groups/{group_id}/sessions/{key}", session)
    app.router.add_post("/groups/{group_id}/sessions/{key}", session)


__all__ = ["add_routes"]
