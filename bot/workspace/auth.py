"""Signing in to the workspace and the checks every page makes.

    signed_in(request) -> Viewer      (async) the signed-in staff member, or a 401 page
    check_csrf(request, form) -> None (async) a 403 page unless the form's token fits

Two ways in, no passwords: the one-time link `/workspace` sends (GET shows a button, so a
link preview cannot use it up; POST uses it), and the Mini App, whose initData is checked
against the bot token. Either starts a server-side session (journal/web_access.py): the
cookie holds a random token, the database its hash. The CSRF token lives in a second
HttpOnly cookie, checked against the session's stored hash, and goes into every form."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any, Final

from aiohttp import web

from bot.workspace.keys import (
    ACCESS_KEY,
    CONFIG_KEY,
    CSRF_HASH,
    LANGUAGE,
    SERVICES_KEY,
    VIEWER,
    Viewer,
)
from bot.workspace.parsing import UNREADABLE_BODY
from bot.workspace.parsing import form as posted
from bot.workspace.render import page
from journal.i18n import LANGUAGES
from journal.staff import StaffDefaults
from journal.web_access import NewSession, same_token

log = logging.getLogger(__name__)

SESSION_COOKIE: Final = "steadfast_session"
CSRF_COOKIE: Final = "steadfast_csrf"
INIT_DATA_MAX_AGE: Final = timedelta(minutes=5)


async def signed_in(request: web.Request) -> Viewer:
    """The viewer of this request (looked up once per request); 401 when not signed in or
    the session ended (idle, too old, signed out, no longer active staff)."""
    viewer: Viewer | None = request.get(VIEWER)
    if viewer is not None:
        return viewer
    token = request.cookies.get(SESSION_COOKIE, "")
    csrf = request.cookies.get(CSRF_COOKIE, "")
    if not token:
        raise web.HTTPUnauthorized()
    services = request.app[SERVICES_KEY]
    async with services.store.transaction() as uow:
        found = await request.app[ACCESS_KEY].session(uow, token)
    if found is None:
        raise web.HTTPUnauthorized()
    settings = services.settings
    locale = StaffDefaults(settings.default_language, settings.default_timezone).of(
        found.clinician)
    viewer = Viewer(clinician=found.clinician, language=locale.language,
                    timezone=locale.timezone,
                    csrf_token=csrf if csrf and same_token(csrf, found.csrf_hash) else "",
                    session_id=found.id)
    request[VIEWER] = viewer
    request[CSRF_HASH] = found.csrf_hash
    return viewer


def _same_origin(request: web.Request) -> bool:
    """A POST from another site is refused before anything else. Browsers say where a
    request comes from in Sec-Fetch-Site; with our no-referrer policy their Origin is
    "null", so Origin counts only when it names a site (the CSRF token decides anyway)."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None:
        return site in ("same-origin", "none")
    origin = (request.headers.get("Origin") or "null").rstrip("/")
    return origin in ("null", f"{request.scheme}://{request.host}",
                      request.app[SERVICES_KEY].settings.web_public_url)


async def check_csrf(request: web.Request, form: Any) -> None:
    """403 unless the form (request.post() or a dict) carries this session's CSRF token
    and comes from our own pages."""
    await signed_in(request)
    sent = form.get("csrf_token")
    if not (_same_origin(request) and isinstance(sent, str) and sent
            and same_token(sent, request[CSRF_HASH])):
        raise web.HTTPForbidden()


def _cookie(name: str, value: str, *, max_age: int, secure: bool, embedded: bool) -> str:
    """One Set-Cookie value, written out here: Python's cookie module knows no Partitioned
    before 3.14. The tokens are URL-safe, so nothing needs quoting."""
    attributes = [f"{name}={value}", "Path=/", f"Max-Age={max_age}", "HttpOnly"]
    if embedded:
        attributes += ["Secure", "SameSite=None", "Partitioned"]
    else:
        attributes += ["SameSite=Strict"] + (["Secure"] if secure else [])
    return "; ".join(attributes)


def _start(request: web.Request, session: NewSession, response: web.StreamResponse, *,
           mini_app: bool = False) -> None:
    """Give the browser the session's two cookies.

    A browser signed in by link holds them SameSite=Strict. The Mini App may run inside
    Telegram Web, in a frame of web.telegram.org: a browser keeps no Strict (or Lax)
    cookie a cross-site frame is given, and sends no unpartitioned one back to it. Over
    https its cookies are therefore SameSite=None and Partitioned (CHIPS): kept for this
    site framed by that top-level site only, so no other site's page ever carries them
    (the CSRF token and the same-origin check guard the forms as before). The phone apps
    open the Mini App as a page of its own, where such a cookie works the same."""
    config = request.app[CONFIG_KEY]
    limit = int(request.app[ACCESS_KEY].limit.total_seconds())
    embedded = mini_app and config.secure_cookies
    for name, value in ((SESSION_COOKIE, session.token), (CSRF_COOKIE, session.csrf_token)):
        if embedded:  # an older session's unpartitioned cookie of the same name goes
            response.headers.add("Set-Cookie", _cookie(name, "", max_age=0, secure=True,
                                                       embedded=False))
        response.headers.add("Set-Cookie", _cookie(
            name, value, max_age=limit, secure=config.secure_cookies, embedded=embedded))


def _forget(request: web.Request, response: web.StreamResponse) -> None:
    """Expire both cookies, in whichever of the two forms _start gave them."""
    secure = request.app[CONFIG_KEY].secure_cookies
    for name in (SESSION_COOKIE, CSRF_COOKIE):
        for embedded in ((False, True) if secure else (False,)):
            response.headers.add("Set-Cookie", _cookie(name, "", max_age=0, secure=secure,
                                                       embedded=embedded))


# --- the one-time link ------------------------------------------------------------------


async def link_page(request: web.Request) -> web.Response:
    token = request.match_info["token"]
    services = request.app[SERVICES_KEY]
    async with services.store.unit_of_work() as uow:
        pending, language = await request.app[ACCESS_KEY].link_pending(uow, token)
    if language in LANGUAGES:
        request[LANGUAGE] = str(language)
    if not pending:
        return page(request, "link_gone.html", status=403)
    return page(request, "sign_in.html", {"token": token})


async def use_link(request: web.Request) -> web.StreamResponse:
    form = await posted(request)
    token = form.get("token")
    if not _same_origin(request) or not isinstance(token, str) or not token:
        raise web.HTTPForbidden()
    services = request.app[SERVICES_KEY]
    async with services.store.transaction() as uow:
        session = await request.app[ACCESS_KEY].use_link(uow, token)
    if session is None:
        return page(request, "link_gone.html", status=403)
    answer = web.HTTPSeeOther("/caseload")
    _start(request, session, answer)
    raise answer


# --- the Mini App -----------------------------------------------------------------------


async def webapp_page(request: web.Request) -> web.Response:
    return page(request, "webapp.html")


async def webapp_sign_in(request: web.Request) -> web.StreamResponse:
    """initData from the Mini App, checked with aiogram's own validation (imported here:
    the rest of the workspace does not need aiogram)."""
    from aiogram.utils.web_app import safe_parse_webapp_init_data

    if not _same_origin(request):
        raise web.HTTPForbidden()
    try:
        body = await request.json()
        init_data = body.get("init_data") if isinstance(body, dict) else None
    except UNREADABLE_BODY:  # JSONDecodeError is a ValueError
        init_data = None
    if not isinstance(init_data, str) or not init_data:
        raise web.HTTPForbidden()
    services = request.app[SERVICES_KEY]
    try:
        data = safe_parse_webapp_init_data(request.app[CONFIG_KEY].bot_token, init_data)
    except ValueError:
        log.info("workspace: Mini App sign-in refused (signature)")
        raise web.HTTPForbidden() from None
    now = services.clock.now()
    if data.user is None or not (now - INIT_DATA_MAX_AGE <= data.auth_date
                                 <= now + timedelta(minutes=1)):
        log.info("workspace: Mini App sign-in refused (no user, or too old)")
        raise web.HTTPForbidden()
    async with services.store.transaction() as uow:
        session = await request.app[ACCESS_KEY].use_telegram(uow, data.user.id)
    if session is None:
        raise web.HTTPForbidden()
    response = web.json_response({"next": "/caseload"})
    _start(request, session, response, mini_app=True)
    return response


async def webapp_signed_in(request: web.Request) -> web.Response:
    """204 when this request carried a live session: the Mini App asks before it moves on,
    so a browser that kept no cookie in Telegram Web's frame gets words, not a 401 page."""
    await signed_in(request)
    return web.Response(status=204)


# --- signing out ------------------------------------------------------------------------


async def sign_out(request: web.Request) -> web.Response:
    await check_csrf(request, await posted(request))
    services = request.app[SERVICES_KEY]
    async with services.store.transaction() as uow:
        await request.app[ACCESS_KEY].sign_out(uow, request.cookies.get(SESSION_COOKIE, ""))
    request.pop(VIEWER, None)
    response = page(request, "signed_out.html")
    _forget(request, response)
    return response


def add_routes(app: web.Application) -> None:
    app.router.add_get("/sign-in/{token}", link_page)
    app.router.add_post("/sign-in", use_link)
    app.router.add_get("/webapp", webapp_page)
    app.router.add_post("/webapp/sign-in", webapp_sign_in)
    app.router.add_get("/webapp/signed-in", webapp_signed_in)
    app.router.add_post("/sign-out", sign_out)
