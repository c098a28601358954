"""The clinician's calendar feed: a page to make or revoke its secret URL, and the feed
itself (no sign-in: the URL is the secret; an unknown or revoked one is the unknown page)."""

from __future__ import annotations

from aiohttp import web

from journal.errors import NotFound
from web.auth import check_csrf, signed_in
from web.context import SERVICES_KEY
from web.parsing import form as posted
from web.render import page


async def settings_page(request: web.Request, *, token: str = "") -> web.Response:
    viewer = await signed_in(request)
    services = request.app[SERVICES_KEY]
    async with services.store.transaction() as uow:
        since = await services.calendars.since(uow, viewer.clinician)
    base = services.settings.web_public_url.rstrip("/") or str(request.url.origin())
    url = f"{base}/calendar/{token}.ics" if token else ""
    return page(request, "calendar.html", {"since": since, "feed_url": url})


async def change(request: web.Request) -> web.StreamResponse:
    viewer = await signed_in(request)
    form = await posted(request)
    await check_csrf(request, form)
    services = request.app[SERVICES_KEY]
    async with services.store.transaction() as uow:
        if form.get("action") == "revoke":
            await services.calendars.revoke(uow, viewer.clinician)
            token = ""
        else:
            token = await services.calendars.new_link(uow, viewer.clinician)
    if not token:
        raise web.HTTPSeeOther("/calendar")
    return await settings_page(request, token=token)  # shown once, never stored


async def feed(request: web.Request) -> web.StreamResponse:
    token = request.match_info["token"]
    services = request.app[SERVICES_KEY]
    try:
        async with services.store.transaction() as uow:
            entries = await services.calendars.entries(uow, token)
    except NotFound:
        raise web.HTTPNotFound() from None
    body = services.calendars.render(entries, services.calendars.title(
        services.settings.default_language))
    return web.Response(body=body, content_type="text/calendar", charset="utf-8",
                        headers={"Cache-Control": "no-store"})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/calendar", settings_page)
    app.router.add_post("/calendar", change)
    app.router.add_get("/calendar/{token}.ics", feed)


__all__ = ["add_routes"]
