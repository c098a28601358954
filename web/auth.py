"""Signing in to the workspace and the checks every page makes.

    signed_in(request) -> Viewer      (async) the signed-in staff member, or a 401 page
    any_viewer(request) -> Viewer     (async) the same, a supervising officer included
    check_csrf(request, form) -> None (async) a 403 page unless the form's token fits

Two ways in, no passwords: the one-time link `/workspace` sends (GET shows a button, so a
link preview cannot use it up; POST uses it), and the Mini App, whose initData is checked
against the bot token. Either starts a server-side session (journal/web_access.py): the
cookie holds a random token, the database its hash. The CSRF token lives in a second
HttpOnly cookie, checked against the session's stored hash, and goes into every form.

Both sign-in POSTs come only from our own pages (Sec-Fetch-Site, else a real Origin), and
every refused sign-in is logged and counted by reason (never with the token or initData)
and charged to its source address: past the budget that address, or past the overall
budget everyone, gets 429 with Retry-After before any token is looked at."""

from __future__ import annotations

import logging
from ipaddress import ip_address
from typing import Any, Final

from aiohttp import web

from journal import telemetry
from journal.errors import NotFound
from journal.i18n import LANGUAGES
from journal.staff import StaffDefaults
from journal.times import shown_time
from journal.web_access import NewSession, Refusal, same_token
from storage.records import Clinician
from web.context import (
    ACCESS_KEY,
    CONFIG_KEY,
    CSRF_HASH,
    LANGUAGE,
    SERVICES_KEY,
    THROTTLE_KEY,
    VIEWER,
    Viewer,
)
from web.parsing import UNREADABLE_BODY
from web.parsing import form as posted
from web.render import browser_language, error_page, page

log = logging.getLogger(__name__)

SESSION_COOKIE: Final = "steadfast_session"
CSRF_COOKIE: Final = "steadfast_csrf"
# Over https the names carry this prefix: a browser then keeps the cookie only if it is
# Secure, for Path=/ and this host alone (no Domain), so no sibling subdomain or plain-http
# page can plant a session of its own choosing (login CSRF by cookie).
HOST_PREFIX: Final = "__Host-"


def cookie_names(request: web.Request) -> tuple[str, str]:
    """The session's and the CSRF token's cookie names for this workspace."""
    prefix = HOST_PREFIX if request.app[CONFIG_KEY].secure_cookies else ""
    return prefix + SESSION_COOKIE, prefix + CSRF_COOKIE


def landing(clinician: Clinician) -> str:
    """The first page after sign-in: an officer's own list, else the caseload."""
    return "/supervisees" if clinician.is_officer else "/caseload"


async def signed_in(request: web.Request) -> Viewer:
    """The clinician or supervisor viewing this request; 401 when not signed in or the
    session ended (idle, too old, signed out, no longer active staff). A supervising
    officer gets what an unknown page gets (404): their door is `any_viewer` and their own
    pages only."""
    viewer = await any_viewer(request)
    if viewer.clinician.is_officer:
        raise NotFound("not a page for officers")
    return viewer


async def any_viewer(request: web.Request) -> Viewer:
    """The viewer of this request (looked up once per request), an officer included; 401
    when not signed in or the session ended."""
    viewer: Viewer | None = request.get(VIEWER)
    if viewer is not None:
        return viewer
    session_name, csrf_name = cookie_names(request)
    token = request.cookies.get(session_name, "")
    csrf = request.cookies.get(csrf_name, "")
    if not token:
        if (language := browser_language(request)) is not None:
            request[LANGUAGE] = language
        raise web.HTTPUnauthorized()
    services = request.app[SERVICES_KEY]
    access = request.app[ACCESS_KEY]
    settings = services.settings
    staff = StaffDefaults(settings.default_language, settings.default_timezone)
    async with services.store.transaction() as uow:
        found = await access.session(uow, token)
        ended = await access.owner(uow, token) if found is None else None
    if found is None:
        # The signed-out page speaks the language of whoever's session just ended.
        request[LANGUAGE] = staff.of(ended).language if ended is not None else (
            browser_language(request) or settings.default_language)
        raise web.HTTPUnauthorized()
    locale = staff.of(found.clinician)
    viewer = Viewer(clinician=found.clinician, language=locale.language,
                    timezone=locale.timezone,
                    csrf_token=csrf if csrf and same_token(csrf, found.csrf_hash) else "",
                    session_id=found.id, session_ends=access.ends_at(found))
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
    await any_viewer(request)
    sent = form.get("csrf_token")
    if not (_same_origin(request) and isinstance(sent, str) and sent
            and same_token(sent, request[CSRF_HASH])):
        raise web.HTTPForbidden()


def source_address(request: web.Request) -> str:
    """The client's address. From a trusted proxy (WEB_TRUSTED_PROXIES, loopback unless
    set) it is the right-most address in X-Forwarded-For that is not itself a trusted
    proxy (nginx appends the peer it saw, so anything further left is what the client
    claimed), else X-Real-IP; from anyone else, the peer itself: a client cannot name
    itself another address to escape its budget."""
    trusted = request.app[CONFIG_KEY].trusted_proxies
    address = request.remote or ""

    def is_trusted(value: str) -> bool:
        try:
            found = ip_address(value)
        except ValueError:
            return False
        return any(found in network for network in trusted)

    if not is_trusted(address):
        return address
    forwarded = [hop.strip() for hop in
                 ",".join(request.headers.getall("X-Forwarded-For", [])).split(",")]
    hops = [hop for hop in forwarded if hop] or [request.headers.get("X-Real-IP", "").strip()]
    for hop in reversed(hops):
        try:
            ip_address(hop)
        except ValueError:
            break  # not an address: stop at the last proxy we trust
        address = hop
        if not is_trusted(hop):
            break
    return address


def _from_our_pages(request: web.Request) -> bool:
    """A sign-in POST must say it comes from our own page: Sec-Fetch-Site same-origin, or
    (a browser too old to send that) an Origin naming this site. "null", a foreign origin
    or neither is refused, so another site cannot sign a browser in as someone else (login
    CSRF). The sign-in pages lift the no-referrer policy to strict-origin so that even
    such a browser sends its real Origin."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None:
        return site == "same-origin"
    origin = request.headers.get("Origin", "").rstrip("/")
    return bool(origin) and origin in (f"{request.scheme}://{request.host}",
                                       request.app[SERVICES_KEY].settings.web_public_url)


def _refused(request: web.Request, reason: Refusal, how: str, address: str) -> None:
    """Log and count a refused sign-in, and charge it to its address's budget."""
    log.info("workspace sign-in refused: %s (%s, from %s)", reason, how, address)
    telemetry.count("sign_in_failures", reason=reason)
    request.app[THROTTLE_KEY].failed(address)


def _throttled(request: web.Request, how: str, address: str) -> web.Response | None:
    """429 with Retry-After, in the browser's language, when this address (or everyone)
    has used up its budget of failures; None when it may try."""
    wait = request.app[THROTTLE_KEY].check(address)
    if wait is None:
        return None
    telemetry.count("sign_in_failures", reason="throttled")
    if wait.first:  # one line per spell, however many requests the flood sends
        log.warning("workspace sign-in refused: throttled (%s, %s budget, from %s) for %ss",
                    how, wait.scope, address, wait.retry_after)
    language = browser_language(request)
    if language is not None:
        request[LANGUAGE] = language
    answer = error_page(request, 429)
    answer.headers["Retry-After"] = str(wait.retry_after)
    return answer


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
    for name, value in zip(cookie_names(request), (session.token, session.csrf_token),
                           strict=True):
        if embedded:  # an older session's unpartitioned cookie of the same name goes
            response.headers.add("Set-Cookie", _cookie(name, "", max_age=0, secure=True,
                                                       embedded=False))
        response.headers.add("Set-Cookie", _cookie(
            name, value, max_age=limit, secure=config.secure_cookies, embedded=embedded))
    telemetry.count("sign_ins", how="mini_app" if mini_app else "link")


def _forget(request: web.Request, response: web.StreamResponse) -> None:
    """Expire both cookies, in whichever of the two forms _start gave them."""
    secure = request.app[CONFIG_KEY].secure_cookies
    for name in cookie_names(request):
        for embedded in ((False, True) if secure else (False,)):
            response.headers.add("Set-Cookie", _cookie(name, "", max_age=0, secure=secure,
                                                       embedded=embedded))


# --- the one-time link ------------------------------------------------------------------


async def link_page(request: web.Request) -> web.Response:
    address = source_address(request)
    if (wait := _throttled(request, "link", address)) is not None:
        return wait
    token = request.match_info["token"]
    services = request.app[SERVICES_KEY]
    access = request.app[ACCESS_KEY]
    async with services.store.unit_of_work() as uow:
        pending, language = await access.link_pending(uow, token)
        refusal = None if pending else await access.link_refusal(uow, token)
    if language in LANGUAGES:
        request[LANGUAGE] = str(language)
    elif (asked := browser_language(request)) is not None:  # an unknown or spent link
        request[LANGUAGE] = asked
    if refusal is not None:
        _refused(request, refusal, "link", address)
        return page(request, "link_gone.html", status=403)
    return page(request, "sign_in.html", {"token": token})


async def use_link(request: web.Request) -> web.StreamResponse:
    address = source_address(request)
    if (wait := _throttled(request, "link", address)) is not None:
        return wait
    if not _from_our_pages(request):
        _refused(request, "cross_site", "link", address)
        raise web.HTTPForbidden()
    form = await posted(request)
    token = form.get("token")
    if not isinstance(token, str) or not token:
        raise web.HTTPForbidden()
    services = request.app[SERVICES_KEY]
    async with services.store.transaction() as uow:
        session = await request.app[ACCESS_KEY].use_link(uow, token)
    if isinstance(session, str):
        _refused(request, session, "link", address)
        return page(request, "link_gone.html", status=403)
    answer = web.HTTPSeeOther(landing(session.clinician))
    _start(request, session, answer)
    raise answer


# --- the Mini App -----------------------------------------------------------------------


async def webapp_page(request: web.Request) -> web.Response:
    """The Mini App's sign-in page, in the language of the browser Telegram opened it in
    (no one is known yet)."""
    if (language := browser_language(request)) is not None:
        request[LANGUAGE] = language
    return page(request, "webapp.html")


async def webapp_sign_in(request: web.Request) -> web.StreamResponse:
    """initData from the Mini App, checked with aiogram's own validation (imported here:
    the rest of the workspace does not need aiogram), then used once."""
    from aiogram.utils.web_app import safe_parse_webapp_init_data

    address = source_address(request)
    if (wait := _throttled(request, "mini_app", address)) is not None:
        return wait
    if not _from_our_pages(request):
        _refused(request, "cross_site", "mini_app", address)
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
        data = None
    if data is None or data.user is None:
        _refused(request, "bad_init_data", "mini_app", address)
        raise web.HTTPForbidden()
    async with services.store.transaction() as uow:
        session = await request.app[ACCESS_KEY].use_init_data(
            uow, telegram_id=data.user.id, signature=data.hash, signed_at=data.auth_date)
    if isinstance(session, str):
        _refused(request, session, "mini_app", address)
        raise web.HTTPForbidden()
    response = web.json_response({"next": landing(session.clinician)})
    _start(request, session, response, mini_app=True)
    return response


async def webapp_signed_in(request: web.Request) -> web.Response:
    """204 when this request carried a live session: the Mini App asks before it moves on,
    so a browser that kept no cookie in Telegram Web's frame gets words, not a 401 page."""
    await any_viewer(request)
    return web.Response(status=204)


# --- signing out ------------------------------------------------------------------------


async def sign_out(request: web.Request) -> web.Response:
    await check_csrf(request, await posted(request))
    services = request.app[SERVICES_KEY]
    async with services.store.transaction() as uow:
        await request.app[ACCESS_KEY].sign_out(
            uow, request.cookies.get(cookie_names(request)[0], ""))
    request[LANGUAGE] = request.pop(VIEWER).language  # signed out, in their language
    response = page(request, "signed_out.html")
    _forget(request, response)
    return response


async def stay_signed_in(request: web.Request) -> web.StreamResponse:
    """"Stay signed in": any signed-in request moves the idle end on, so this one only
    asks the form's CSRF token. The warning's script gets the new end as JSON; without
    script the form leads back to the page it was on."""
    form = await posted(request)
    await check_csrf(request, form)
    viewer = request[VIEWER]
    if "application/json" in request.headers.get("Accept", ""):
        services = request.app[SERVICES_KEY]
        left = (viewer.session_ends - services.clock.now()).total_seconds()
        return web.json_response({"left": max(0, int(left)),
                                  "ends": shown_time(viewer.session_ends, viewer.timezone)})
    back = form.get("back")
    if not (isinstance(back, str) and back.startswith("/") and back.isascii()
            and back.isprintable() and not back.startswith(("//", "/\\"))):
        back = landing(viewer.clinician)  # never off this site
    raise web.HTTPSeeOther(back)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/sign-in/{token}", link_page)
    app.router.add_post("/sign-in", use_link)
    app.router.add_get("/webapp", webapp_page)
    app.router.add_post("/webapp/sign-in", webapp_sign_in)
    app.router.add_get("/webapp/signed-in", webapp_signed_in)
    app.router.add_post("/sign-out", sign_out)
    app.router.add_post("/session/stay", stay_signed_in)
