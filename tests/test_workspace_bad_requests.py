"""Every bad request gets a 4xx: whatever a browser, a crawler or an attacker sends to the
workspace (odd digits in a query, a page number thousands of digits long, a body or a
cookie that is not UTF-8, a broken multipart form) is answered with a kind page in the
reader's language and a 4xx status, never a 500, and leaves no ERROR line in the log.

The workspace is served once for the module, from its own thread and event loop, through
the same `serve()` the bot uses; requests go out as plain HTTP (http.client), so any byte
can be sent. The property test walks the application's router, so a new route is covered
without changing this file."""

from __future__ import annotations

import asyncio
import http.client
import json
import logging
import re
import shutil
import socket
import threading
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote_from_bytes

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.composition import Services, build_services
from app.server import build_server, serve
from app.settings import Settings
from journal.clock import FakeClock
from storage.crypto import MasterKeyring
from storage.records import Client, Clinician
from storage.uow import Store
from tests.helpers import make_client, make_clinician
from web.routes import workspace

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ErrorLines(logging.Handler):
    """Every ERROR (or worse) record any logger writes while the module runs."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def take(self) -> list[str]:
        taken, self.records = self.records, []
        return [f"{r.name}: {r.getMessage()}" for r in taken]


@dataclass(frozen=True)
class Answer:
    status: int
    text: str
    headers: http.client.HTTPMessage


@dataclass
class Served:
    """The workspace on a loopback port, with a clinician (who reads Spanish), a client
    of theirs, and a session of theirs opened through a real one-time link."""

    port: int
    loop: asyncio.AbstractEventLoop
    services: Services
    lane: Clinician
    client: Client
    routes: list[tuple[str, frozenset[str]]]  # (canonical path, methods)
    prefixes: frozenset[str]  # static routes: anything below them
    errors: ErrorLines
    cookies: dict[str, str] = field(default_factory=dict)
    csrf_token: str = ""

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(60)

    def send(self, method: str, target: str, *, headers: list[tuple[str, bytes]] = (),  # type: ignore[assignment]
             body: bytes | None = None, host: bool = True) -> Answer:
        """One request on a fresh connection; header values are sent as given bytes. A POST
        says it comes from the workspace's own page, as a browser's does (the sign-in forms
        refuse any other), unless the test names the header itself."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            conn.putrequest(method, target, skip_host=not host, skip_accept_encoding=True)
            if method == "POST" and not any(n.lower() == "sec-fetch-site" for n, _ in headers):
                conn.putheader("Sec-Fetch-Site", "same-origin")
            for name, value in headers:
                conn.putheader(name, value)
            if body is not None:
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
            response = conn.getresponse()
            return Answer(response.status, response.read().decode("utf-8", "replace"),
                          response.headers)
        finally:
            conn.close()

    def settle(self) -> None:
        """Wait until the server holds no connection: aiohttp may still read (and log
        about) a request's body after its answer was sent."""
        async def idle() -> None:
            while any(getattr(t.get_coro(), "__qualname__", "") == "RequestHandler.start"
                      for t in asyncio.all_tasks()):
                await asyncio.sleep(0.005)

        self.run(asyncio.wait_for(idle(), 30))

    def error_lines(self) -> list[str]:
        self.settle()
        return self.errors.take()

    def is_prefix(self, path: str) -> bool:
        return path in self.prefixes

    def signed_in_headers(self) -> list[tuple[str, bytes]]:
        cookie = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        return [("Cookie", cookie.encode())]


async def _open(root: Path, template: Path, port: int, stop: asyncio.Event,
                started: asyncio.Event) -> tuple[Services, Clinician, Client, asyncio.Task[None]]:
    shutil.copyfile(template, root / "steadfast.db")
    ring = MasterKeyring.generate()
    ring.create_file(root / "steadfast.key")
    url = f"sqlite+aiosqlite:///{root / 'steadfast.db'}"
    program = Settings(_env_file=None, bot_token="123456:TEST-TOKEN",
                       database_url=url, master_key_file=root / "steadfast.key",
                       default_timezone="Europe/Madrid", web_port=port)
    clock = FakeClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    store = Store.open(url, ring)
    lane = await make_clinician(store, clock, 501, name="Dr Lane")
    async with store.transaction() as uow:
        found = await uow.clinicians.set_locale(lane.id, language="es")
        assert found is not None
        lane = found
    client = await make_client(store, clock, lane, telegram_id=9001)
    services = build_services(program, store, clock)
    app = build_server([workspace(services)])
    task = asyncio.create_task(serve(app, "127.0.0.1", port, stop, started=started,
                                     what="workspace"))
    await asyncio.wait_for(started.wait(), 30)
    return services, lane, client, task


def _routes(services: Services) -> tuple[list[tuple[str, frozenset[str]]], frozenset[str]]:
    """Every route the workspace's router holds, read from the router itself."""
    app = build_server([workspace(services)])
    found: dict[str, set[str]] = {}
    prefixes = set()
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        path = str(info.get("formatter") or info.get("path") or info.get("prefix"))
        if "prefix" in info:
            prefixes.add(path)
        found.setdefault(path, set()).add(route.method)
    return sorted((path, frozenset(methods)) for path, methods in found.items()), frozenset(
        prefixes)


@pytest.fixture(scope="module")
def served(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    errors = ErrorLines()
    logging.getLogger().addHandler(errors)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="workspace", daemon=True)
    thread.start()
    stop: asyncio.Event | None = None
    task = None
    try:
        async def events() -> tuple[asyncio.Event, asyncio.Event]:
            return asyncio.Event(), asyncio.Event()

        stop, started = asyncio.run_coroutine_threadsafe(events(), loop).result(10)
        port = free_port()
        services, lane, client, task = asyncio.run_coroutine_threadsafe(
            _open(tmp_path_factory.mktemp("bad-requests"), sqlite_template, port, stop,
                  started), loop).result(60)
        world = Served(port, loop, services, lane, client, *_routes(services), errors)
        _sign_in(world)
        errors.take()
        yield world
    finally:
        if stop is not None and task is not None:
            loop.call_soon_threadsafe(stop.set)

            async def finish() -> None:
                await asyncio.wait_for(task, 30)
                await services.store.close()

            asyncio.run_coroutine_threadsafe(finish(), loop).result(60)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
        loop.close()
        logging.getLogger().removeHandler(errors)


def _sign_in(world: Served) -> None:
    """A session through the one-time link, as /workspace gives it; the cookies' names are
    read from the answer, not assumed."""
    access = world.services.web_access

    async def link() -> str:
        async with world.services.store.transaction() as uow:
            return await access.new_link(uow, world.lane)

    token = world.run(link())
    origin = f"http://127.0.0.1:{world.port}".encode()
    used = world.send("POST", "/sign-in", body=f"token={token}".encode(), headers=[
        ("Content-Type", b"application/x-www-form-urlencoded"), ("Origin", origin),
        ("Sec-Fetch-Site", b"same-origin")])
    assert used.status == 303, used
    for set_cookie in used.headers.get_all("Set-Cookie") or []:
        name, _, rest = set_cookie.partition("=")
        value = rest.split(";", 1)[0]
        if value:
            world.cookies[name] = value
    shown = world.send("GET", "/caseload", headers=world.signed_in_headers())
    assert shown.status == 200, shown.status
    found = re.search(r'name="csrf_token" value="([^"]+)"', shown.text)
    assert found, "the caseload has no form with a CSRF token"
    world.csrf_token = found.group(1)



# --- the requests the review found, one by one ------------------------------------------

FORM = ("Content-Type", b"application/x-www-form-urlencoded")


def refused_kindly(world: Served, answer: Answer, status: int, words: str) -> None:
    """The status, the kind page with its words, no trace, and nothing logged as an error."""
    assert answer.status == status, (answer.status, answer.text[:300])
    assert "<h1>" in answer.text and words in answer.text, answer.text[:600]
    assert "Traceback" not in answer.text and "Error" not in answer.text
    assert world.error_lines() == []


@pytest.mark.parametrize("target", [
    "/reports/{code}?days=%C2%B2",  # "²": str.isdigit() says yes, int() says no
    "/clients/{code}?days=%C2%B2",
    "/clients/{code}/journal?page=%E2%91%A0",  # "①"
    "/clients/{code}/journal?page=" + "9" * 5000,  # past int()'s 4300 digits
    "/clients/{code}/journal?page=99999999999999999999",  # past SQLite's integers
    "/reports/{code}?days=%D9%A3",  # "٣", which int() would read as 3
], ids=["superscript-days", "superscript-range", "circled-page", "5000-digit-page",
        "20-digit-page", "arabic-indic-days"])
def test_a_number_in_the_query_that_is_not_plain_digits_is_a_400_in_the_viewers_language(
        served: Served, target: str) -> None:
    answer = served.send("GET", target.format(code=served.client.code),
                         headers=served.signed_in_headers())
    refused_kindly(served, answer, 400, "Solicitud no válida")  # Dr Lane reads Spanish


@pytest.mark.parametrize(("content_type", "body"), [
    (b"application/x-www-form-urlencoded", b"token=\xff\xfe"),
    (b"application/x-www-form-urlencoded; charset=no-such-charset", b"token=abc"),
    (b"multipart/form-data", b"token=abc"),  # no boundary
    (b"multipart/form-data; boundary=b0", b"garbage\r\n--b0\r\nno headers end"),
    (b"multipart/form-data; boundary=b0",
     b'--b0\r\nContent-Disposition: form-data; name="token"\r\n\r\n\xff\xfe\r\n--b0--\r\n'),
], ids=["not-utf8", "unknown-charset", "multipart-no-boundary", "multipart-broken",
        "multipart-not-utf8"])
def test_a_sign_in_form_that_cannot_be_read_is_a_400_before_anyone_signs_in(
        served: Served, content_type: bytes, body: bytes) -> None:
    answer = served.send("POST", "/sign-in", body=body,
                         headers=[("Content-Type", content_type)])
    refused_kindly(served, answer, 400, "Bad request")


def test_a_compressed_body_that_does_not_decompress_is_a_400_and_no_error(
        served: Served) -> None:
    """aiohttp's own ContentEncodingError, raised as the handler reads the form."""
    answer = served.send("POST", "/sign-in", body=b"token=abc", headers=[
        FORM, ("Content-Encoding", b"gzip")])
    refused_kindly(served, answer, 400, "Bad request")


def test_a_signed_in_form_that_is_not_utf8_is_a_400_in_spanish(served: Served) -> None:
    csrf = served.csrf_token.encode()
    for target in (f"/clients/{served.client.code}/plan", "/alerts/1/acknowledge",
                   "/sign-out"):
        answer = served.send("POST", target, body=b"csrf_token=" + csrf + b"&note=\xe9t\xe9",
                             headers=[FORM, *served.signed_in_headers()])
        refused_kindly(served, answer, 400, "Solicitud no válida")
    still = served.send("GET", "/caseload", headers=served.signed_in_headers())
    assert still.status == 200  # nothing was read, so nothing signed out


@pytest.mark.parametrize("cookie", [
    b"steadfast_session=\xff\xfe; steadfast_csrf=\xc3",
    b"steadfast_session=\xed\xa0\x80",  # a UTF-8 surrogate
])
def test_a_session_cookie_that_is_not_utf8_is_signed_out_not_a_failure(
        served: Served, cookie: bytes) -> None:
    for name in served.cookies:  # whatever the session cookies are called
        cookie = cookie.replace(b"steadfast_session", name.encode(), 1) if "csrf" not in name \
            else cookie.replace(b"steadfast_csrf", name.encode(), 1)
    answer = served.send("GET", "/caseload", headers=[("Cookie", cookie)])
    refused_kindly(served, answer, 401, "Send /workspace")
    shown = served.send("GET", "/webapp", headers=[("Cookie", cookie)])
    assert shown.status == 200 and served.error_lines() == []


def test_a_mini_app_sign_in_in_an_unknown_charset_is_refused(served: Served) -> None:
    answer = served.send("POST", "/webapp/sign-in", body=b'{"init_data": "x"}', headers=[
        ("Content-Type", b"application/json; charset=no-such-charset"),
        ("Sec-Fetch-Site", b"same-origin")])
    refused_kindly(served, answer, 403, "Not allowed")


def test_too_large_too_long_and_malformed_requests_get_their_own_codes(served: Served) -> None:
    signed_in = served.signed_in_headers()
    answer = served.send("POST", "/sign-in", body=b"token=" + b"a" * 70_000, headers=[FORM])
    refused_kindly(served, answer, 413, "too large")
    answer = served.send("GET", "/caseload?q=" + "a" * 9000, headers=signed_in)
    refused_kindly(served, answer, 414, "demasiado larga")
    answer = served.send("GET", "/caseload", headers=[*signed_in, ("X-Padding", b"a" * 20_000)])
    refused_kindly(served, answer, 431, "cookies")
    # What the HTTP parser itself refuses (a control character in a header, a line past
    # its limit) is aiohttp's plain 400, logged as one INFO line, never an ERROR.
    for headers in ([("X-Thing", b"a\x01b")], [("X-Padding", b"a" * 40_000)]):
        answer = served.send("GET", "/caseload", headers=headers)
        assert answer.status == 400 and "Traceback" not in answer.text
        assert served.error_lines() == []


# --- anything at all, at every route --------------------------------------------------------

# Values a query, a form, a cookie or a header may carry: mostly the digits that fooled
# str.isdigit() and numbers at and past every bound, else any text or bytes, UTF-8 or not.
AWKWARD = ["²", "①", "٣", "０", "9" * 5000, "99999999999999999999", "-1", "0", "1", "14",
           "366", "367", "+3", " 7", "", "%zz", "\x00", "\ud800", "\xe9"]


def often(likely: st.SearchStrategy[T], rest: st.SearchStrategy[T]) -> st.SearchStrategy[T]:
    """`likely` about three times in four; `rest` is what a failure shrinks towards."""
    return st.integers(0, 3).flatmap(lambda n: likely if n else rest)


# Numbers in any script: Unicode's decimal digits ("٣", "０"), which int() reads, and its
# other numbers ("²", "①"), which str.isdigit() accepts and int() refuses; ASCII at bounds.
NUMBERS = st.sampled_from(AWKWARD) | st.text(st.characters(categories=("Nd", "No")),
                                             min_size=1, max_size=4)
VALUES = often(NUMBERS.map(lambda text: text.encode("utf-8", "surrogatepass")),
               st.text(max_size=30).map(lambda t: t.encode("utf-8", "surrogatepass"))
               | st.binary(max_size=30))
# The names the pages read from a query or from a form: each query or form holds one to
# three of them, and perhaps other names too.
QUERY_FIELDS = ["days", "page", "q", "done", "plan"]
FORM_FIELDS = ["token", "csrf_token", "note", "plan", "init_data"]
FIELDS = QUERY_FIELDS + FORM_FIELDS[:-1]


def pairs(names: list[str]) -> st.SearchStrategy[list[tuple[bytes, bytes]]]:
    known = st.lists(st.sampled_from(names), min_size=1, max_size=3, unique=True).flatmap(
        lambda chosen: st.tuples(*(st.tuples(st.just(n.encode()), VALUES) for n in chosen)))
    other = st.lists(st.tuples(st.binary(min_size=1, max_size=8), VALUES), max_size=2)
    return st.builds(lambda a, b: [*a, *b], known, other)


CSRF = b"\x00csrf"  # stands for the session's real CSRF token where the form is built
HEADERS = ["Origin", "Sec-Fetch-Site", "Referer", "Accept-Language", "Accept",
           "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "Forwarded", "Host",
           "Content-Encoding", "Range", "If-Modified-Since", "If-None-Match", "Authorization",
           "User-Agent"]
CONTROLS = bytes(range(32)) + b"\x7f"  # the HTTP parser refuses them in a header (one
# example in a few hundred keeps that path tried; more would stop every request there)
HEADER_VALUES = st.sampled_from([b"gzip", b"deflate", b"br", b"bytes=0-1", b"bytes=5-1,-",
                                 b"same-origin", b"cross-site", b"null", b"https://evil.example",
                                 b"\xff\xfe", b"a\x01b"]) | VALUES.map(
    lambda v: v.translate(None, CONTROLS))
CONTENT_TYPES = st.sampled_from([
    b"application/x-www-form-urlencoded", b"application/x-www-form-urlencoded; charset=latin-1",
    b"application/x-www-form-urlencoded; charset=no-such", b"multipart/form-data",
    b"application/json", b"application/json; charset=utf-16", b"text/plain", b"",
    b"multipart/form-data; boundary=", b"\xff/\xfe"])


@st.composite
def bodies(draw: st.DrawFn) -> tuple[bytes | None, bytes | None]:
    """(Content-Type, body): a form well or badly encoded, multipart well or badly made,
    JSON or not, or any bytes under any type."""
    fields = draw(pairs(FORM_FIELDS))
    if draw(st.booleans()):
        fields.append((b"csrf_token", CSRF))
    kind = draw(st.sampled_from(["none", "urlencoded", "raw-form", "multipart", "json", "bytes"]))
    if kind == "none":
        return None, None
    if kind == "urlencoded":
        return (b"application/x-www-form-urlencoded",
                b"&".join(quote_from_bytes(k).encode() + b"=" + quote_from_bytes(v).encode()
                          for k, v in fields))
    if kind == "raw-form":
        return draw(CONTENT_TYPES), b"&".join(k + b"=" + v for k, v in fields)
    if kind == "multipart":
        boundary = draw(st.sampled_from([b"b0", b"", b"\xff", b"x" * 80]))
        parts = []
        for name, value in fields:
            head = draw(st.sampled_from([
                b'Content-Disposition: form-data; name="' + name + b'"',
                b'Content-Disposition: form-data; name="' + name + b'"; filename="f.txt"',
                b'Content-Disposition: form-data; name="' + name + b'"\r\n'
                b"Content-Type: text/plain; charset=no-such",
                b'Content-Disposition: form-data; name="' + name + b'"\r\n'
                b"Content-Transfer-Encoding: base64", b"Content-Disposition: inline",
                b""]))
            parts.append(b"--" + boundary + b"\r\n" + head + b"\r\n\r\n" + value + b"\r\n")
        body = b"".join(parts) + b"--" + boundary + b"--\r\n"
        body = body[:draw(st.integers(0, len(body)))] if draw(st.booleans()) else body
        return b"multipart/form-data; boundary=" + boundary, body
    if kind == "json":
        document = draw(st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=20),
            lambda inner: st.lists(inner, max_size=3)
            | st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=5), inner, max_size=3),
            max_leaves=6))
        return draw(st.sampled_from([b"application/json", b"application/json; charset=latin-1"])
                    ), json.dumps(document).encode()
    return draw(CONTENT_TYPES), draw(st.binary(max_size=200))


@dataclass(frozen=True)
class Probe:
    signed_in: bool
    path: str
    query: list[tuple[bytes, bytes]]
    headers: list[tuple[str, bytes]]
    cookies: list[tuple[bytes, bytes]]
    content_type: bytes | None
    body: bytes | None


def path_values(world: Served, name: str) -> st.SearchStrategy[str]:
    known = {"code": world.client.code}
    odd = st.sampled_from(["%FF", "..", "%2F..%2F", "x" * 300, "%00", "1", "0",
                           "99999999999999999999"])
    random = st.binary(min_size=1, max_size=12).map(lambda b: quote_from_bytes(b, safe=""))
    return often(st.just(known[name]), odd | random) if name in known else odd | random


def probes(world: Served, path: str, method: str) -> st.SearchStrategy[Probe]:
    """Requests at one route of the router: its {placeholders} filled with the real client
    code or anything; a static prefix followed by anything."""

    cookie_names = often(st.sampled_from(sorted(world.cookies)).map(str.encode),
                         st.binary(min_size=1, max_size=8))

    @st.composite
    def build(draw: st.DrawFn) -> Probe:
        filled = path
        for name in re.findall(r"\{(\w+)\}", path):
            filled = filled.replace("{" + name + "}", draw(path_values(world, name)), 1)
        if "{" not in path and not path.endswith("/") and world.is_prefix(path):
            filled = path.rstrip("/") + "/" + draw(
                st.sampled_from(["workspace.css", "..%2F..%2Fetc%2Fpasswd", "%FF", ""]))
        content_type, body = draw(bodies()) if method == "POST" else (None, None)
        return Probe(signed_in=draw(st.integers(0, 3)) > 0, path=filled,
                     query=draw(pairs(QUERY_FIELDS)),
                     headers=draw(st.lists(st.tuples(st.sampled_from(HEADERS), HEADER_VALUES),
                                           max_size=3)),
                     cookies=draw(st.lists(st.tuples(cookie_names, VALUES), max_size=2)),
                     content_type=content_type, body=body)

    return build()


def send_probe(world: Served, method: str, probe: Probe, *, csrf: bool) -> Answer:
    target = probe.path
    if probe.query:
        target += "?" + "&".join(quote_from_bytes(k) + "=" + quote_from_bytes(v)
                                 for k, v in probe.query)
    cookies = [(k.encode(), v.encode()) for k, v in world.cookies.items()] \
        if probe.signed_in else []
    cookies += [(k.translate(None, CONTROLS + b" ;="), v.translate(None, CONTROLS + b";"))
                for k, v in probe.cookies]
    headers = list(probe.headers)
    if cookies:
        headers.append(("Cookie", b"; ".join(k + b"=" + v for k, v in cookies)))
    if probe.content_type is not None:
        headers.append(("Content-Type", probe.content_type))
    body = probe.body
    if body is not None:
        body = body.replace(CSRF, world.csrf_token.encode() if csrf else b"")
    return world.send(method, target, headers=headers, body=body,
                      host=not any(name == "Host" for name, _ in headers))


EXAMPLES = 60  # requests a route: the module takes under a minute on a busy machine
# Where the session's own CSRF token is never sent: signing out would end the session the
# other examples are signed in with.
ENDS_THE_SESSION = frozenset({"/sign-out"})


def check_route(world: Served, path: str, method: str) -> None:
    """EXAMPLES random requests at one route; hypothesis shrinks a failure to its least."""

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(probe=probes(world, path, method))
    def no_failure(probe: Probe) -> None:
        answer = send_probe(world, method, probe, csrf=path not in ENDS_THE_SESSION)
        assert answer.status < 500, (method, path, answer.status)
        assert "Traceback" not in answer.text
        assert world.error_lines() == [], (method, path)

    no_failure()


def test_no_request_at_any_route_is_a_failure(served: Served) -> None:
    """Random queries, forms, cookies and headers at every route of the router, signed out
    and signed in (with the real CSRF token in some forms): every answer is below 500, no
    trace is shown and nothing is logged as an error."""
    assert len(served.routes) >= 10, served.routes
    for path, methods in served.routes:
        for method in sorted(methods - {"HEAD"}) or sorted(methods):
            check_route(served, path, method)
    # The signed-in examples were signed in throughout.
    assert served.send("GET", "/caseload", headers=served.signed_in_headers()).status == 200

