"""The shipped deployment files are what they claim: nginx accepts the site as shipped (TLS
included, with a throwaway certificate at the paths it names), the units start the commands
that exist, and the example environment names only settings Steadfast knows."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from bot.settings import unknown_names
from tests.e2e import ROOT
from tests.multi_instance import DEPLOY, LOCATIONS_PATH, Nginx, nginx_binary

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


def test_nginx_accepts_the_shipped_site_with_tls(tmp_path: Path) -> None:
    binary = nginx_binary()
    if binary is None:
        pytest.skip("nginx is not installed (.ci/run installs it)")
    chain, private = self_signed(tmp_path)
    site = (DEPLOY / "steadfast.conf").read_text()
    # Only paths move (a test cannot write to /etc); ports, TLS and locations stay.
    site = (site.replace("/etc/ssl/steadfast/fullchain.pem", str(chain))
            .replace("/etc/ssl/steadfast/privkey.pem", str(private))
            .replace(LOCATIONS_PATH, str(DEPLOY / "steadfast-locations.conf"))
            .replace("listen 80;", "listen 127.0.0.1:18080;")
            .replace("listen 443 ssl http2;", "listen 127.0.0.1:18443 ssl http2;")
            .replace("listen [::]:80;\n", "").replace("listen [::]:443 ssl http2;\n", ""))
    (tmp_path / "nginx").mkdir()
    nginx = Nginx(binary, tmp_path / "nginx", site)
    assert "syntax is ok" in nginx.check()
    locations = (DEPLOY / "steadfast-locations.conf").read_text()
    assert "proxy_next_upstream error timeout non_idempotent;" in locations


def test_the_units_run_commands_that_exist_and_the_example_names_known_settings(
        tmp_path: Path) -> None:
    from click.testing import CliRunner

    from bot.cli import main

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
