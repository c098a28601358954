"""Pages: the template context every page shares, the response headers every answer
carries, and kind error pages (in the viewer's language, never a trace).

Every template gets `t` (t(message, **params): the message in the viewer's language, with
str.format parameters), `ngettext`, `viewer` (None on the sign-in pages), `csrf_token` and
`shown_time` (a moment in the viewer's zone, naming the zone); signed in, `session_left`
and `session_warn` (seconds until the session's idle end, and how long before it the page
warns: web/static/session.js reads both) and `here` (this page, for "stay signed in")."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from journal.errors import InvalidInput, NotAllowed, NotFound, safe_trace
from journal.i18n import LANGUAGES, N_, gettext_for, ngettext_for
from journal.times import shown_time
from web.context import ACCESS_KEY, CONFIG_KEY, LANGUAGE, SERVICES_KEY, VIEWER

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
TEMPLATES: Final = HERE / "templates"
STATIC: Final = HERE / "static"

SECURITY_HEADERS: Final = {
    # Our own styles and scripts only; framed only by Telegram's web clients (the Mini App).
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
                               "frame-ancestors https://web.telegram.org https://*.telegram.org; "
                               "base-uri 'none'; form-action 'self'",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}

# The page warns this long before the session's idle end (half the idle time, if shorter).
WARN_BEFORE: Final = timedelta(minutes=5)

ERRORS: Final = {
    400: (N_("Bad request"),
          N_("This page could not read what your browser sent. Go back, reload the page and "
             "try again.")),
    401: (N_("You are signed out"),
          N_("Your session ended or you have not signed in. Send /workspace to the bot in "
             "Telegram for a new sign-in link.")),
    403: (N_("Not allowed"),
          N_("This request was refused. Go back, reload the page and try again.")),
    429: (N_("Too many tries"),
          N_("There were too many sign-in attempts. Wait a minute, then open your sign-in "
             "link again, or send /workspace to the bot for a new one.")),
    404: (N_("Not found"),
          N_("There is nothing here, or nothing you may see.")),
    405: (N_("Not allowed"),
          N_("This request was refused. Go back, reload the page and try again.")),
    413: (N_("Too much at once"),
          N_("What you sent is too large for one request. Send less, or send it in parts.")),
    414: (N_("Bad request"),
          N_("This address is too long. Go back and follow a link from the workspace.")),
    431: (N_("Bad request"),
          N_("Your browser sent more than this page can read. Clear this site's cookies and "
             "try again.")),
    500: (N_("Something went wrong"),
          N_("The page could not be shown. Try again in a moment; nothing you sent was lost "
             "without a message.")),
}


def setup(app: web.Application) -> None:
    """Jinja2 for this application: imported here, when the workspace is built."""
    import aiohttp_jinja2
    import jinja2

    aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(str(TEMPLATES)),
                         autoescape=jinja2.select_autoescape(("html",), default=True),
                         undefined=jinja2.StrictUndefined)
    app.middlewares.append(guard)
    app.router.add_static("/static/", STATIC, name="static", append_version=True)


def language_of(request: web.Request) -> str:
    viewer = request.get(VIEWER)
    if viewer is not None:
        return str(viewer.language)
    return request.get(LANGUAGE) or request.app[SERVICES_KEY].settings.default_language


def browser_language(request: web.Request) -> str | None:
    """The first of our languages the browser's Accept-Language asks for (by q), for a
    page shown before anyone is known; None when it names none of them."""
    asked: list[tuple[float, int, str]] = []
    for n, part in enumerate(request.headers.get("Accept-Language", "").split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                continue
        language = tag.strip().split("-")[0].lower()
        if language in LANGUAGES and weight > 0:
            asked.append((-weight, n, language))
    return min(asked)[2] if asked else None


def context(request: web.Request, values: Mapping[str, Any] | None = None) -> dict[str, Any]:
    viewer = request.get(VIEWER)
    language = language_of(request)
    zone = viewer.timezone if viewer is not None else (
        request.app[SERVICES_KEY].settings.default_timezone)

    def t(message: str, **params: Any) -> str:
        text = gettext_for(language, message)
        return text.format(**params) if params else text

    def plural(singular: str, many: str, n: int, **params: Any) -> str:
        return ngettext_for(language, singular, many, n).format(n=n, **params)

    def when(moment: datetime | None) -> str:
        return shown_time(moment, zone) if moment is not None else "—"

    session: dict[str, Any] = {}
    if viewer is not None:
        left = viewer.session_ends - request.app[SERVICES_KEY].clock.now()
        warn = min(WARN_BEFORE, request.app[ACCESS_KEY].idle / 2)
        session = {"session_left": max(0, int(left.total_seconds())),
                   "session_warn": int(warn.total_seconds()), "here": request.path_qs}
    return {"t": t, "ngettext": plural, "viewer": viewer, "language": language, "nav": "",
            "csrf_token": viewer.csrf_token if viewer is not None else "",
            "shown_time": when, **session, **(values or {})}


def page(request: web.Request, template: str, values: Mapping[str, Any] | None = None, *,
         status: int = 200) -> web.Response:
    import aiohttp_jinja2

    return aiohttp_jinja2.render_template(template, request, context(request, values),
                                          status=status)


def error_page(request: web.Request, status: int) -> web.Response:
    title, text = ERRORS.get(status, ERRORS[500] if status >= 500 else ERRORS[403])
    try:
        return page(request, "error.html", {"title": title, "text": text}, status=status)
    except Exception as exc:  # the error page itself failed: plain words, still no trace
        log.error("error page failed: %s", safe_trace(exc))
        return web.Response(status=status, text=gettext_for(language_of(request), title))


async def _refusal(request: web.Request, status: int) -> web.Response:
    """The error page, in the viewer's language even where the handler never asked who
    they are (an unknown address)."""
    if status != 401 and request.get(VIEWER) is None:
        from web.auth import any_viewer

        with contextlib.suppress(Exception):
            await any_viewer(request)
    return error_page(request, status)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# What aiohttp raises for a request it cannot read once a handler reads it (a broken body,
# a bad chunk or compression): the sender's fault, so a 400, not a failure.
BAD_REQUESTS: Final = (HttpProcessingError, web.RequestPayloadError)
MAX_TARGET: Final = 8 * 1024  # bytes of path and query
MAX_HEADERS: Final = 16 * 1024  # bytes of every header's name and value together


def _check_size(request: web.Request) -> None:
    """414 for an address, 431 for headers, longer than any page of ours makes (the
    parser, app/server.py, lets somewhat longer ones through to be told so)."""
    if len(request.raw_path) > MAX_TARGET:
        raise web.HTTPRequestURITooLong()
    if sum(len(name) + len(value) for name, value in request.raw_headers) > MAX_HEADERS:
        raise web.HTTPRequestHeaderFieldsTooLarge()


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Security headers on every answer; refusals and failures as kind pages."""
    try:
        _check_size(request)
        response = await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:  # redirects pass as they are
            exc.headers.update(SECURITY_HEADERS)
            raise
        response = await _refusal(request, exc.status)
    except NotFound:  # another clinician's client, a forged code, a missing one: alike
        response = await _refusal(request, 404)
    except (NotAllowed, InvalidInput):
        response = await _refusal(request, 403)
    except BAD_REQUESTS as exc:  # aiohttp's own, raised where a handler reads the request
        code = getattr(exc, "code", 400)
        response = await _refusal(request, code if 400 <= code < 500 else 400)
    except ConnectionResetError:
        # The browser went away while sending its request: nothing failed here and no
        # one is left to read an answer (aiohttp drops it on the closed connection).
        log.info("workspace page %s: the client went away mid-request", request.method)
        response = web.Response(status=400)
    except Exception as exc:
        # Only the error's type and where: a message could quote decrypted text.
        log.error("workspace page %s failed: %s", request.method, safe_trace(exc))
        response = await _refusal(request, 500)
    response.headers.update(SECURITY_HEADERS)
    config = request.app.get(CONFIG_KEY)
    if config is not None and config.secure_cookies:  # served over https: stay there
        response.headers["Strict-Transport-Security"] = "max-age=31536000"
    return response
