"""Sign-in that notices being guessed, against the real bot over HTTP: a guesser is told to
wait (429) after ten wrong links while a colleague elsewhere still signs in, every refusal
is logged and counted by reason without the token, Mini App initData signs in once, a
sign-in POST from another site (or from nowhere, Origin "null") is refused, and over https
the cookies carry the __Host- prefix. One bot serves the module, as behind a TLS proxy:
its public address is https, it speaks http on loopback, and each story comes from its own
client address (X-Forwarded-For, which the loopback proxy is trusted to set)."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from ipaddress import ip_network
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from sqlalchemy import func, select

from app import observability
from journal.clock import FakeClock
from journal.web_access import SignInThrottle
from storage.models import WebInitDataRow, WebSessionRow, WebSignInRow
from tests.browser import START, init_data, serving, telegram_stack
from tests.helpers import make_clinician
from tests.mailbox import free_port
from web.auth import source_address
from web.context import CONFIG_KEY, WebConfig

pytestmark = pytest.mark.asyncio(loop_scope="module")

LANE = 7301


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory,
                sqlite_template: Path) -> AsyncIterator[dict[str, Any]]:
    registry = observability.enable()  # the counters this process reports
    async with telegram_stack(tmp_path_factory.mktemp("guard"), sqlite_template) as s:
        await make_clinician(s.store, s.clock, telegram_id=LANE, name="Dr Lane")
        s.emu.person(LANE, "Lane")
        await s.emu.send_text(LANE, "/start")
        port = free_port()
        public = f"https://localhost:{port}"
        async with serving(s, port, web_public_url=public), aiohttp.ClientSession(
                cookie_jar=aiohttp.DummyCookieJar()) as http:
            yield {"emu": s.emu, "store": s.store, "clock": s.clock, "http": http,
                   "base": f"http://127.0.0.1:{port}", "public": public,
                   "registry": registry, "token": s.emu.token}


def failures(world: dict[str, Any], reason: str) -> float:
    return world["registry"].get_sample_value("steadfast_sign_in_failures_total",
                                              {"reason": reason}) or 0.0


async def link_token(world: dict[str, Any]) -> str:
    emu = world["emu"]
    sent = await emu.send_text(LANE, "/workspace")
    message = await emu.wait_for_message(LANE, contains="/sign-in/", after=sent.message_id)
    found = re.search(r"/sign-in/(\S+)", message.text)
    assert found, message.text
    return found.group(1)


async def post_link(world: dict[str, Any], token: str, *, source: str,
                    **headers: str) -> tuple[int, dict[str, str], str]:
    sent = {"X-Forwarded-For": source, "Sec-Fetch-Site": "same-origin", **headers}
    sent = {k: v for k, v in sent.items() if v}
    async with world["http"].post(f"{world['base']}/sign-in", data={"token": token},
                                  headers=sent, allow_redirects=False) as response:
        cookies = response.headers.getall("Set-Cookie", [])
        return response.status, {**response.headers, "cookies": "\n".join(cookies)}, (
            await response.text())


async def post_init_data(world: dict[str, Any], data: str, *, source: str,
                         **headers: str) -> tuple[int, str]:
    sent = {"X-Forwarded-For": source, "Sec-Fetch-Site": "same-origin",
            "Content-Type": "application/json", **headers}
    sent = {k: v for k, v in sent.items() if v}
    async with world["http"].post(f"{world['base']}/webapp/sign-in",
                                  data=json.dumps({"init_data": data}),
                                  headers=sent) as response:
        return response.status, "\n".join(response.headers.getall("Set-Cookie", []))


async def sessions(world: dict[str, Any]) -> int:
    async with world["store"].unit_of_work() as uow:
        return int((await uow.session.execute(
            select(func.count()).select_from(WebSessionRow))).scalar_one())


async def test_a_guesser_is_told_to_wait_while_a_colleague_elsewhere_signs_in(
        world: dict[str, Any], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="web.auth")
    unknown, throttled = failures(world, "unknown_token"), failures(world, "throttled")
    guesses = [f"guess-{n:03d}-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" for n in range(30)]
    answers = [await post_link(world, guess, source="198.51.100.7",
                               **{"Accept-Language": "es-ES,es;q=0.9,en;q=0.5"})
               for guess in guesses]
    assert [status for status, _, _ in answers] == [403] * 10 + [429] * 20
    status, headers, text = answers[10]
    assert 1 <= int(headers["Retry-After"]) <= 60
    assert "Demasiados intentos" in text and "Traceback" not in text  # the browser's language
    assert headers["Cache-Control"] == "no-store"
    # Logged by reason, one line for the throttled spell, never a token; counted by reason.
    lines = [r.getMessage() for r in caplog.records if r.name == "web.auth"]
    assert sum("refused: unknown_token (link, from 198.51.100.7)" in line
               for line in lines) == 10
    assert sum("throttled" in line for line in lines) == 1
    assert not [line for line in lines if any(guess in line for guess in guesses)]
    assert failures(world, "unknown_token") - unknown == 10
    assert failures(world, "throttled") - throttled == 20
    # The guesser's own good link waits too: the budget is checked before any token.
    token = await link_token(world)
    assert (await post_link(world, token, source="198.51.100.7"))[0] == 429
    # A colleague at another address is not held up by the guesser's failures.
    status, headers, _ = await post_link(world, token, source="203.0.113.20")
    assert status == 303 and headers["Location"] == "/caseload"
    # A minute on, the guesser may try again.
    world["clock"].advance(timedelta(seconds=61))
    assert (await post_link(world, "another-guess", source="198.51.100.7"))[0] == 403


async def test_mini_app_init_data_signs_in_once(world: dict[str, Any],
                                                caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="web.auth")
    replays = failures(world, "replayed_init_data")
    before = await sessions(world)
    data = init_data(world["token"], LANE, world["clock"].now())
    answers = [await post_init_data(world, data, source="192.0.2.31") for _ in range(3)]
    assert [status for status, _ in answers] == [200, 403, 403]
    assert await sessions(world) == before + 1
    assert failures(world, "replayed_init_data") - replays == 2
    lines = [r.getMessage() for r in caplog.records if r.name == "web.auth"]
    assert sum("refused: replayed_init_data (mini_app" in line for line in lines) == 2
    assert not [line for line in lines if data[:40] in line or "hash=" in line]
    # Its signature is kept as a digest until it expires, then the row goes.
    async with world["store"].unit_of_work() as uow:
        kept = (await uow.session.execute(select(WebInitDataRow.hash_digest))).scalars().all()
    signature = dict(p.split("=", 1) for p in data.split("&"))["hash"]
    assert len(kept) == 1 and signature not in kept[0]
    world["clock"].advance(timedelta(minutes=5, seconds=1))
    assert (await post_init_data(world, data, source="192.0.2.31"))[0] == 403  # too old
    fresh = init_data(world["token"], LANE, world["clock"].now())
    assert (await post_init_data(world, fresh, source="192.0.2.31"))[0] == 200
    async with world["store"].unit_of_work() as uow:
        left = (await uow.session.execute(select(WebInitDataRow.hash_digest))).scalars().all()
    assert len(left) == 1 and left != kept  # the expired one went


async def test_a_sign_in_post_from_another_site_or_nowhere_is_refused(
        world: dict[str, Any]) -> None:
    token = await link_token(world)
    refused = {
        "Origin null, no Sec-Fetch-Site": {"Sec-Fetch-Site": "", "Origin": "null"},
        "another site's Origin": {"Sec-Fetch-Site": "", "Origin": "https://evil.example"},
        "neither header": {"Sec-Fetch-Site": ""},
        "cross-site": {"Sec-Fetch-Site": "cross-site", "Origin": world["public"]},
    }
    for why, headers in refused.items():
        status, _, text = await post_link(world, token, source="192.0.2.40", **headers)
        assert status == 403, why
        assert "Not allowed" in text, why
    async with world["store"].unit_of_work() as uow:  # the link was never looked at
        assert (await uow.session.execute(select(WebSignInRow.used_at).where(
            WebSignInRow.used_at.is_(None)))).first() is not None
    data = init_data(world["token"], LANE, world["clock"].now())
    assert (await post_init_data(world, data, source="192.0.2.40", **{
        "Sec-Fetch-Site": "", "Origin": "null"}))[0] == 403
    # An older browser that sends our own Origin and no Sec-Fetch-Site still signs in.
    status, _, _ = await post_link(world, token, source="192.0.2.40",
                                   **{"Sec-Fetch-Site": "", "Origin": world["public"]})
    assert status == 303


async def test_over_https_the_cookies_are_host_only_and_named_so(world: dict[str, Any]) -> None:
    status, headers, _ = await post_link(world, await link_token(world), source="192.0.2.50")
    assert status == 303
    cookies = [c for c in headers["cookies"].splitlines() if "Max-Age=0" not in c]
    assert {c.split("=", 1)[0] for c in cookies} == {"__Host-steadfast_session",
                                                     "__Host-steadfast_csrf"}
    for cookie in cookies:
        assert "; Secure" in cookie and "; Path=/" in cookie and "Domain" not in cookie
    session = cookies[0].split(";", 1)[0]
    async with world["http"].get(f"{world['base']}/caseload",
                                 headers={"Cookie": session}) as response:
        assert response.status == 200
    unprefixed = session.replace("__Host-", "", 1)
    async with world["http"].get(f"{world['base']}/caseload",
                                 headers={"Cookie": unprefixed}) as response:
        assert response.status == 401
    # The Mini App's too, partitioned as before (a new initData: a second later).
    world["clock"].advance(timedelta(seconds=1))
    data = init_data(world["token"], LANE, world["clock"].now())
    status, set_cookies = await post_init_data(world, data, source="192.0.2.50")
    assert status == 200
    given = [c for c in set_cookies.splitlines() if "Max-Age=0" not in c]
    assert {c.split("=", 1)[0] for c in given} == {"__Host-steadfast_session",
                                                   "__Host-steadfast_csrf"}
    assert all("SameSite=None; Partitioned" in c and "Domain" not in c for c in given)


async def test_the_overall_budget_holds_everyone_and_then_lets_go() -> None:
    clock = FakeClock(START)
    throttle = SignInThrottle(clock=clock, per_address=10, overall=25)
    for n in range(24):
        throttle.failed(f"192.0.2.{n}")
    assert throttle.check("198.51.100.1") is None  # below the overall budget: free
    clock.advance(timedelta(seconds=30))
    throttle.failed("192.0.2.99")
    wait = throttle.check("198.51.100.1")
    assert wait is not None and wait.scope == "overall" and wait.first
    assert wait.retry_after == 30  # when the oldest failures leave the minute
    again = throttle.check("198.51.100.2")
    assert again is not None and not again.first  # one log line per spell
    clock.advance(timedelta(seconds=31))
    assert throttle.check("198.51.100.1") is None


async def test_an_ipv6_guesser_cannot_hop_addresses_within_its_network() -> None:
    throttle = SignInThrottle(clock=FakeClock(START), per_address=10, overall=100)
    for n in range(10):
        throttle.failed(f"2001:db8:1:2::{n:x}")
    wait = throttle.check("2001:db8:1:2:ffff::1")
    assert wait is not None and wait.scope == "address"
    assert throttle.check("2001:db8:1:3::1") is None  # the next network is someone else


def _request(peer: str, trusted: str, **headers: str) -> web.Request:
    app = web.Application()
    app[CONFIG_KEY] = WebConfig(bot_token="1:A", secure_cookies=True, trusted_proxies=tuple(
        ip_network(n) for n in trusted.split(",") if n))

    class Transport:
        def get_extra_info(self, name: str, default: Any = None) -> Any:
            return (peer, 50000) if name == "peername" else default

        def is_closing(self) -> bool:
            return False

    return make_mocked_request("POST", "/sign-in", headers=headers, app=app,
                               transport=Transport())


async def test_the_source_address_comes_from_a_trusted_proxy_only() -> None:
    spoof = {"X-Forwarded-For": "10.9.9.9", "X-Real-IP": "10.9.9.8"}
    # A client that talks to the workspace directly cannot name another address.
    assert source_address(_request("203.0.113.5", "127.0.0.1", **spoof)) == "203.0.113.5"
    # Behind nginx ($proxy_add_x_forwarded_for): what the client claimed is on the left.
    assert source_address(_request("127.0.0.1", "127.0.0.1", **{
        "X-Forwarded-For": "10.9.9.9, 198.51.100.7"})) == "198.51.100.7"
    assert source_address(_request("127.0.0.1", "127.0.0.1",
                                   **{"X-Real-IP": "198.51.100.8"})) == "198.51.100.8"
    assert source_address(_request("127.0.0.1", "127.0.0.1", **{
        "X-Forwarded-For": "not an address"})) == "127.0.0.1"
    # No proxy trusted: the headers count for nothing.
    assert source_address(_request("127.0.0.1", "", **spoof)) == "127.0.0.1"
