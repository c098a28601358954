"""The shipped deployment files are what they claim: nginx accepts the site as shipped (TLS
included, with a throwaway certificate at the paths it names), the units start the commands
that exist, and the example environment names only settings Steadfast knows. And what they
keep private: behind the shipped site no sign-in token reaches a log, HSTS is sent once,
and /metrics answers this host only."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from app.server import MAX_LINE
from app.settings import unknown_names
from journal.clock import FakeClock
from storage.crypto import MasterKeyring
from storage.uow import Store
from tests.conftest import Database
from tests.e2e import ROOT, ChildBot, bot_settings, eventually
from tests.helpers import make_clinician
from tests.multi_instance import DEPLOY, LOCATIONS_PATH, Nginx, nginx_binary
from tests.test_workspace_access import free_port

DEPLOY_ROOT = ROOT / "deploy"


def self_signed(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "steadfast.example.org")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + dt.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    chain, private = folder / "fullchain.pem", folder / "privkey.pem"
    chain.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    private.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    return chain, private


def tls_site(folder: Path, *, ports: list[int] | None = None, listen: str = "127.0.0.1",
             http: int = 18080, https: int = 18443) -> str:
    """The shipped site, TLS server included, with what a test must move and nothing else:
    the certificate (a throwaway one), the locations file and nginx's logs into `folder`,
    the listening ports, and, given `ports`, the instances' ports in the upstreams (the
    first shipped server becomes the instance, the others go)."""
    chain, private = self_signed(folder)
    site = (DEPLOY / "steadfast.conf").read_text()
    if ports is not None:
        shipped = sorted(set(re.findall(r"server 127\.0\.0\.1:(\d+)", site)))
        for old in shipped[len(ports):]:
            site = re.sub(rf"\n *server 127\.0\.0\.1:{old} [^\n]*", "", site)
        for old, new in zip(shipped, ports, strict=False):
            site = site.replace(f"127.0.0.1:{old} ", f"127.0.0.1:{new} ")
    locations = folder / "steadfast-locations.conf"
    locations.write_text((DEPLOY / "steadfast-locations.conf").read_text().replace(
        "/var/log/nginx/", f"{folder}/"))
    return (site.replace("/etc/ssl/steadfast/fullchain.pem", str(chain))
            .replace("/etc/ssl/steadfast/privkey.pem", str(private))
            .replace(LOCATIONS_PATH, str(locations))
            .replace("/var/log/nginx/", f"{folder}/")
            .replace("listen 80;", f"listen {listen}:{http};")
            .replace("listen 443 ssl http2;", f"listen {listen}:{https} ssl http2;")
            .replace("listen [::]:80;\n", "").replace("listen [::]:443 ssl http2;\n", ""))


def test_nginx_accepts_the_shipped_site_with_tls(tmp_path: Path) -> None:
    binary = nginx_binary()
    if binary is None:
        pytest.skip("nginx is not installed (.ci/run installs it)")
    # Only paths move (a test cannot write to /etc); ports, TLS and locations stay.
    site = tls_site(tmp_path)
    (tmp_path / "nginx").mkdir()
    nginx = Nginx(binary, tmp_path / "nginx", site)
    assert "syntax is ok" in nginx.check()
    locations = (DEPLOY / "steadfast-locations.conf").read_text()
    assert "proxy_next_upstream error timeout non_idempotent;" in locations


def test_the_units_run_commands_that_exist_and_the_example_names_known_settings(
        tmp_path: Path) -> None:
    from click.testing import CliRunner

    from cli import main

    template = (DEPLOY_ROOT / "systemd" / "steadfast@.service").read_text()
    web = (DEPLOY_ROOT / "systemd" / "steadfast-web.service").read_text()
    assert "run --webhook" in template and "--port %i" in template
    # They start the program `make install` puts in its own venv, not a checkout's .venv.
    prefix = re.search(r"^PREFIX \?= (\S+)$", (ROOT / "Makefile").read_text(), re.M)
    assert prefix is not None
    for unit in (template, web):
        assert "EnvironmentFile=/etc/steadfast/steadfast.env" in unit
        assert f"\nExecStart={prefix.group(1)}/bin/steadfast " in unit
    runner = CliRunner()
    help_run = runner.invoke(main, ["run", "--help"])
    assert help_run.exit_code == 0
    for option in re.findall(r" (--[a-z-]+)", template.split("ExecStart=", 1)[1].split(
            "\nExecReload", 1)[0]):
        assert option in help_run.output, option
    example = (DEPLOY_ROOT / "steadfast.env.example").read_text()
    names = dict(line.split("=", 1) for line in example.splitlines()
                 if line and not line.startswith("#"))
    assert unknown_names({k: v for k, v in names.items()}, env_file=None) == []
    assert "WEBHOOK_PUBLIC_URL" in names  # read by the unit only, so no STEADFAST_ prefix
    for secret in ("STEADFAST_BOT_TOKEN", "STEADFAST_WEBHOOK_SECRET"):
        assert "replace" in names[secret]  # placeholders, never a real secret


SECRET = "deploy-webhook-secret_0123456789"


async def _listening(port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return False
    writer.close()
    await writer.wait_closed()
    return True


async def _raw(port: int, request: bytes) -> bytes:
    """What the server answers to `request`, bytes as sent (no client library tidies them)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        return await asyncio.wait_for(reader.readline(), 30)
    finally:
        writer.close()


async def test_behind_the_shipped_site_a_sign_in_token_and_a_session_are_logged_nowhere(
        emulator: Any, sqlite_database: Database, ring: MasterKeyring, clock: FakeClock,
        tmp_path: Path) -> None:
    """A clinician opens their sign-in link through nginx as shipped, once while the
    instance runs and once while it is down: neither nginx's access log nor its error log
    nor the bot's log holds the token. Every answer carries one HSTS header; /metrics is
    served to this host. A request with a line or a cookie over 8 KiB sent to the instance
    leaves none of its bytes in the bot's (text) log."""
    binary = nginx_binary()
    if binary is None:
        pytest.skip("nginx is not installed (.ci/run installs it)")
    store = Store.open(sqlite_database.url, ring)
    await make_clinician(store, clock, telegram_id=7001)
    await store.close()
    emulator.person(7001, "Lane")
    port, https = free_port(), free_port()
    settings = bot_settings(emulator, sqlite_database.url, ring)
    child = ChildBot(settings, tmp_path, args=(
        "--webhook", "--host", "127.0.0.1", "--port", str(port), "--secret", SECRET,
        "--public-url", f"http://127.0.0.1:{port}/telegram/webhook"), extra_env={
        "STEADFAST_WEB_PUBLIC_URL": "https://steadfast.example.org",
        "STEADFAST_METRICS_ENABLED": "true", "STEADFAST_SCHEDULER_ENABLED": "false"}).start()
    folder = tmp_path / "nginx"
    folder.mkdir()
    nginx = Nginx(binary, folder, tls_site(folder, ports=[port], https=https,
                                           http=free_port())).start()
    base = f"https://127.0.0.1:{https}"
    cookie_canary, line_canary = "c" + uuid.uuid4().hex, "l" + uuid.uuid4().hex
    try:
        await child.wait_ready()
        await eventually(lambda: _listening(https), timeout=30)
        sent = await emulator.send_text(7001, "/workspace")
        reply = await emulator.wait_for_message(7001, contains="/sign-in/", after=sent.message_id)
        match = re.search(r"/sign-in/([A-Za-z0-9_-]{20,})", reply.text)
        assert match, reply.text
        token = match.group(1)
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}/sign-in/{token}?again={token}", ssl=False) as page:
                assert page.status == 200
                assert page.headers.getall("Strict-Transport-Security") == ["max-age=31536000"]
            async with http.get(f"{base}/metrics", ssl=False) as metrics:
                assert metrics.status == 200  # this host: served
                assert "steadfast_" in await metrics.text()
                assert metrics.headers.getall("Strict-Transport-Security") == [
                    "max-age=31536000"]

        # Straight to the instance: nginx would refuse either before passing it on. Past the
        # parser's own limit (app/server.py MAX_LINE), so aiohttp itself refuses them and logs.
        repeat = MAX_LINE // len(cookie_canary) + 10
        oversized_cookie = (b"GET /caseload HTTP/1.1\r\nHost: steadfast.example.org\r\n"
                            b"Cookie: steadfast_session=" + (cookie_canary * repeat).encode()
                            + b"\r\n\r\n")
        oversized_line = (b"GET /sign-in/" + (line_canary * repeat).encode()
                          + b" HTTP/1.1\r\nHost: steadfast.example.org\r\n\r\n")
        for request in (oversized_cookie, oversized_line):
            assert len(request) > MAX_LINE
            status = await _raw(port, request)
            assert re.match(rb"HTTP/1\.[01] 4\d\d ", status), status
        # The instance logged both refusals (so the check below looks at real lines).
        await eventually(lambda: child.log_text().count(
            "refused a request that is not valid HTTP") >= 2)
    finally:
        assert await child.terminate() == 0
    try:
        async with aiohttp.ClientSession() as http, http.get(f"{base}/sign-in/{token}",
                                                             ssl=False) as down:
            assert down.status == 502  # no instance: nginx's own error page
            assert down.headers.getall("Strict-Transport-Security") == ["max-age=31536000"]
    finally:
        nginx.stop()

    access = (folder / "steadfast.access.log").read_text()
    assert [line.split('"')[1] for line in access.splitlines() if "/sign-in/" in line] == [
        "GET /sign-in/-", "GET /sign-in/-"], access
    assert token not in access and "again" not in access
    assert token not in nginx.error_log.read_text()
    assert not nginx.access_log.exists() or token not in nginx.access_log.read_text()
    log = child.log_text()
    assert log.count("refused a request that is not valid HTTP") >= 2
    for secret in (token, cookie_canary, line_canary):
        assert secret not in log
    assert "Traceback" not in log


# Run inside a network namespace of its own (unshare --net): the loopback interface
# carries 192.0.2.10 (TEST-NET-1) besides 127.0.0.1, so a request can come from an address
# that is not loopback, as one from the internet does; nothing outside the namespace sees it.
INSIDE_NAMESPACE = r"""
import http.client, json, socket, ssl, subprocess, sys, time
binary, folder, conf, error_log, port = sys.argv[1:6]
try:
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    subprocess.run(["ip", "addr", "add", "192.0.2.10/32", "dev", "lo"], check=True)
except (OSError, subprocess.CalledProcessError):
    sys.exit(77)
nginx = subprocess.Popen([binary, "-p", folder, "-c", conf, "-e", error_log])
try:
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", int(port)), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline or nginx.poll() is not None:
                sys.exit(3)
            time.sleep(0.05)
    context = ssl._create_unverified_context()
    answers = {}
    for address, path in (("192.0.2.10", "/metrics"), ("192.0.2.10", "/metrics/"),
                          ("192.0.2.10", "/"), ("127.0.0.1", "/metrics")):
        connection = http.client.HTTPSConnection(address, int(port), context=context,
                                                 source_address=(address, 0), timeout=10)
        # Headers that claim loopback change nothing: nginx goes by the connection.
        connection.request("GET", path, headers={"X-Forwarded-For": "127.0.0.1",
                                                 "X-Real-IP": "127.0.0.1"})
        answers[f"{address} {path}"] = connection.getresponse().status
        connection.close()
    print(json.dumps(answers))
finally:
    nginx.terminate()
    nginx.wait(10)
"""


def test_metrics_through_the_shipped_site_are_refused_to_any_other_address(
        tmp_path: Path) -> None:
    binary, unshare = nginx_binary(), shutil.which("unshare")
    if binary is None or unshare is None:
        pytest.skip("nginx or unshare is not installed")
    folder = tmp_path / "nginx"
    folder.mkdir()
    # In a namespace of its own nothing else listens: shipped ports will do. No instance
    # runs there, so a request nginx passes on is answered 502 by nginx.
    nginx = Nginx(binary, folder, tls_site(folder, listen="0.0.0.0"))
    nginx.check()
    conf = nginx.conf.read_text()
    if not conf.startswith("user root;"):  # root inside a user namespace: workers stay so
        nginx.conf.write_text("user root;\n" + conf)
    done = subprocess.run(
        [unshare, "--net", *([] if os.geteuid() == 0 else ["--map-root-user"]), sys.executable,
         "-c", INSIDE_NAMESPACE, binary, str(folder), str(nginx.conf), str(nginx.error_log),
         "18443"], capture_output=True, text=True, timeout=120)
    if done.returncode == 77 or "unshare failed" in done.stderr:
        pytest.skip(f"no network namespace on this machine: {done.stderr.strip()[:200]}")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "192.0.2.10 /metrics": 403, "192.0.2.10 /metrics/": 403,
        "192.0.2.10 /": 502,  # the rest of the site is open to it: passed on
        "127.0.0.1 /metrics": 502,  # this host: passed on to the instance
    }


def _start(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """A start whose database folder does not exist: whatever passes the metrics check
    stops at the next one, naming STEADFAST_DATABASE_URL."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("STEADFAST_")}
    return subprocess.run(
        [sys.executable, "-m", "cli", *args], cwd=cwd, capture_output=True, text=True,
        timeout=120, env={**base, "PYTHONPATH": str(ROOT), "STEADFAST_BOT_TOKEN": "123456:T",
                          "STEADFAST_DATABASE_URL": f"sqlite+aiosqlite:///{cwd}/none/s.db",
                          "STEADFAST_METRICS_ENABLED": "true", **env})


@pytest.mark.parametrize(("args", "env", "where"), [
    (["run", "--webhook", "--host", "0.0.0.0", "--secret", SECRET], {}, "0.0.0.0"),
    (["run"], {"STEADFAST_METRICS_HOST": "192.0.2.10", "STEADFAST_METRICS_PORT": "9100"},
     "192.0.2.10"),
    (["run"], {"STEADFAST_WEB_HOST": "::", "STEADFAST_WEB_PORT": "8090"}, "::"),
    (["web", "--host", "0.0.0.0"], {}, "0.0.0.0"),
])
def test_metrics_without_a_user_on_an_address_others_reach_stop_the_start(
        args: list[str], env: dict[str, str], where: str, tmp_path: Path) -> None:
    refused = _start(args, env, tmp_path)
    assert refused.returncode == 2, refused.stderr
    assert refused.stderr.splitlines() == [
        "steadfast: STEADFAST_METRICS_USER is not set, and metrics are on "
        f"(STEADFAST_METRICS_ENABLED) at {where}, which other machines reach: set "
        "STEADFAST_METRICS_USER and STEADFAST_METRICS_PASSWORD, or serve on 127.0.0.1"]
    # With a user and password, or on this host only, the start goes on to the next check.
    for allowed in ({"STEADFAST_METRICS_USER": "prometheus",
                     "STEADFAST_METRICS_PASSWORD": "a-long-scrape-password"},
                    {"STEADFAST_METRICS_HOST": "127.0.0.1", "STEADFAST_WEB_HOST": "::1"}):
        later = _start([a.replace("0.0.0.0", "127.0.0.2") for a in args]
                       if "STEADFAST_METRICS_HOST" in allowed else args,
                       {**env, **allowed}, tmp_path)
        assert later.returncode == 2
        assert later.stderr.startswith("steadfast: STEADFAST_DATABASE_URL"), later.stderr
