"""The package a program installs: the wheel built from this checkout carries every file the
program reads at run time (templates, static files, catalogues, data files, Alembic's) and
no tests, and installed alone in a fresh venv with requirements.lock's pinned, hashed
dependencies, as `make install` does, it runs the demo and the workspace from an empty
folder, away from the checkout."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.mailbox import free_port
from tests.test_demo_web import _line_with

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


@dataclass(frozen=True)
class Installed:
    wheel: Path
    bin: Path


def _run(command: list[str], **kwargs: Any) -> str:
    done = subprocess.run(command, capture_output=True, text=True, **kwargs)
    assert done.returncode == 0, f"{command} failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
    return str(done.stdout)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """Built once for the module: the sdist, the wheel from it, a venv with the lock file's
    dependencies (pip's cache serves them after the first run) and the wheel alone."""
    dist = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "build", "--quiet", "--outdir", str(dist), str(ROOT)])
    (wheel,) = dist.glob("steadfast-*.whl")
    venv = tmp_path_factory.mktemp("venv") / "steadfast"
    # This venv's pip installs into that one (no pip of its own to set up), and leaves the
    # byte-compiling to the first import: a minute less, the same files.
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    pip = [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install",
           "--quiet", "--no-compile", "--disable-pip-version-check"]
    _run([*pip, "--require-hashes", "-r", str(ROOT / "requirements.lock")])
    _run([*pip, "--no-deps", str(wheel)])
    return Installed(wheel, venv / "bin")


def _environment() -> dict[str, str]:
    """A shell with none of this checkout's settings or paths."""
    return {k: v for k, v in os.environ.items()
            if not k.startswith("STEADFAST_") and k not in ("PYTHONPATH", "VIRTUAL_ENV")}


def test_the_lock_pins_every_runtime_dependency() -> None:
    locked = {canonicalize_name(m.group(1)) for m in re.finditer(
        r"^([A-Za-z0-9._-]+)==\S+ \\$", (ROOT / "requirements.lock").read_text(), re.M)}
    wanted = {canonicalize_name(Requirement(d).name) for d in PYPROJECT["project"]["dependencies"]}
    assert wanted - locked == set(), "run `make lock` after changing pyproject's dependencies"
    assert "pytest" not in locked and "mypy" not in locked  # the test tools stay out


@pytest.mark.slow
def test_the_wheel_carries_every_file_of_the_packages_and_no_tests(installed: Installed) -> None:
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    tops = {name.split("/")[0] for name in names if ".dist-info/" not in name}
    packages = {pattern.rstrip("*")
                for pattern in PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]}
    present = sorted(p for p in packages if (ROOT / p).is_dir())
    assert "tests" not in tops and tops == set(present)  # nor bench/ nor anything else
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: no list of the packages' files to compare with")
    tracked = set(_run(["git", "-C", str(ROOT), "ls-files", "--", *present]).split())
    assert sorted(tracked - names) == []
    data = {name for name in names if not name.endswith(".py") and ".dist-info/" not in name}
    for kind in ("templates/base.html", "static/workspace.css", "static/webapp.js",
                 "locales/es/LC_MESSAGES/steadfast.po", "checkin_default.toml",
                 "risk_rules.toml", "migrations/script.py.mako"):
        assert any(name.endswith(kind) for name in data), kind
    # Installed, the program imports from its venv, and there is no `tests` to import.
    python = str(installed.bin / "python")
    where = _run([python, "-c", "import journal; print(journal.__file__)"], cwd=installed.bin,
                 env=_environment())
    assert where.startswith(str(installed.bin.parent))
    missing = subprocess.run([python, "-c", "import tests"], cwd=installed.bin,
                             env=_environment(), capture_output=True, text=True)
    assert "No module named 'tests'" in missing.stderr


async def _stop(process: asyncio.subprocess.Process) -> tuple[str, str]:
    os.killpg(process.pid, signal.SIGINT)  # Ctrl-C, as a terminal sends it
    out, err = await asyncio.wait_for(process.communicate(), 60)
    return out.decode(), err.decode()


async def _start(command: list[str], cwd: Path, env: dict[str, str]
                 ) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *command, cwd=cwd, env=env, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        start_new_session=True)


async def _line(process: asyncio.subprocess.Process, stream: asyncio.StreamReader,
                pattern: re.Pattern[str], seen: list[str], timeout: float) -> re.Match[str]:
    """The first line matching, or a failure with what the program wrote to stderr."""
    try:
        return await _line_with(stream, pattern, seen, timeout)
    except AssertionError as ended:
        assert process.stderr is not None
        errors = "" if stream is process.stderr else (await process.stderr.read()).decode()
        raise AssertionError(f"{ended}\n{errors[-3000:]}") from None


async def _stylesheet(web: aiohttp.ClientSession, base: str, page: str) -> None:
    href = re.search(r'<link rel="stylesheet" href="([^"]+)"', page)
    assert href is not None, page[:2000]
    async with web.get(base + href.group(1)) as css:
        assert css.status == 200 and css.content_type == "text/css"
        assert "{" in await css.text()


@pytest.mark.slow
async def test_the_installed_program_runs_the_demo_and_the_workspace_from_an_empty_folder(
        installed: Installed, tmp_path: Path) -> None:
    folder, kept = tmp_path / "empty", tmp_path / "kept"
    folder.mkdir()
    steadfast = str(installed.bin / "steadfast")
    demo = await _start([steadfast, "demo", "--web", "--keep", str(kept)], folder,
                        _environment())
    seen: list[str] = []
    try:
        assert demo.stdout is not None
        link = await _line(demo, demo.stdout, re.compile(r"(http://\S+)/sign-in/\S+"), seen,
                           300)
        out = "".join(seen)
        assert "Critical alert for client" in out and "Session report for client" in out
        async with aiohttp.ClientSession() as web:
            async with web.get(link.group(0)) as shown:
                page = await shown.text()
                assert shown.status == 200 and 'name="token"' in page
            await _stylesheet(web, link.group(1), page)
        rest, errors = await _stop(demo)
    finally:
        if demo.returncode is None:
            demo.kill()
            await demo.wait()
    assert demo.returncode == 0, rest[-2000:] + errors[-2000:]
    assert "Stopping the demo" in rest and "Traceback" not in rest + errors

    # The workspace alone on the demo's database, in Spanish: its catalogue is installed too.
    port = free_port()
    env = _environment() | {
        "STEADFAST_DATABASE_URL": f"sqlite+aiosqlite:///{kept}/steadfast.db",
        "STEADFAST_MASTER_KEY_FILE": str(kept / "steadfast.key"),
        "STEADFAST_BOT_TOKEN": "123456:wheel-test-token-not-real",
        "STEADFAST_DEFAULT_LANGUAGE": "es"}
    workspace = await _start([steadfast, "web", "--host", "127.0.0.1", "--port", str(port)],
                             folder, env)
    seen = []
    try:
        assert workspace.stderr is not None
        await _line(workspace, workspace.stderr, re.compile(r"workspace listening on"), seen,
                    120)
        base = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession() as web:
            async with web.get(f"{base}/sign-in/no-such-link") as gone:
                page = await gone.text()
                assert gone.status == 403
            assert "Este enlace para entrar ya no es válido" in page
            await _stylesheet(web, base, page)
        rest, errors = await _stop(workspace)
    finally:
        if workspace.returncode is None:
            workspace.kill()
            await workspace.wait()
    assert workspace.returncode == 0, "".join(seen) + errors[-2000:]
    assert "Traceback" not in "".join(seen) + rest + errors
    assert sorted(p.name for p in folder.iterdir()) == []  # nothing written where it ran
