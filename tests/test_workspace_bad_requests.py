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

import pytest

from bot.composition import Services, build_services
from bot.settings import Settings
from bot.workspace.app import web_access, workspace
from bot.workspace.server import build_server, serve
from journal.clock import FakeClock
from storage.crypto import MasterKeyring
from storage.records import Client, Clinician
from storage.uow import Store
from tests.helpers import make_client, make_clinician

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
    errors: ErrorLines
    cookies: dict[str, str] = field(default_factory=dict)
    csrf_token: str = ""

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(60)

    def send(self, method: str, target: str, *, headers: list[tuple[str, bytes]] = (),  # type: ignore[assignment]
             body: bytes | None = None, host: bool = True) -> Answer:
        """One request on a fresh connection; header values are sent as given bytes."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            conn.putrequest(method, target, skip_host=not host, skip_accept_encoding=True)
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

    def signed_in_headers(self) -> list[tuple[str, bytes]]:
        cookie = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        return [("Cookie", cookie.encode())]


async def _open(root: Path, template: Path, port: int, stop: asyncio.Event,
                started: asyncio.Event) -> tuple[Services, Clinician, Client, asyncio.Task[None]]:
    shutil.copyfile(template, root / "steadfast.db")
    ring = MasterKeyring.generate()
    ring.create_file(root / "steadfast.key")
    url = f"sqlite+aiosqlite:///{root / 'steadfast.db'}"
    program = Settings(_env_file=None, bot_token="123456:TEST-TOKEN",  # type: ignore[call-arg]
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


def _routes(services: Services) -> list[tuple[str, frozenset[str]]]:
    app = build_server([workspace(services)])
    found: dict[str, set[str]] = {}
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        path = str(info.get("formatter") or info.get("path") or info.get("prefix"))
        found.setdefault(path, set()).add(route.method)
    return sorted((path, frozenset(methods)) for path, methods in found.items())


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
        world = Served(port, loop, services, lane, client, _routes(services), errors)
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
    access = web_access(world.services)

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
