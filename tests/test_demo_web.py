"""`steadfast demo --web` as a person runs it: the story, then a sign-in link that opens the
workspace over HTTP, a client page with a year of history, and Ctrl-C ending it cleanly."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from pathlib import Path

import aiohttp
import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


async def _line_with(stream: asyncio.StreamReader, pattern: re.Pattern[str], seen: list[str],
                     timeout: float) -> re.Match[str]:
    async def read() -> re.Match[str]:
        while True:
            raw = await stream.readline()
            if not raw:
                raise AssertionError("the demo ended early:\n" + "".join(seen[-40:]))
            line = raw.decode()
            seen.append(line)
            found = pattern.search(line)
            if found:
                return found

    return await asyncio.wait_for(read(), timeout)


async def test_the_web_demo_serves_the_workspace_until_ctrl_c(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STEADFAST_")}
    env["PYTHONPATH"] = str(ROOT)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cli", "demo", "--web", cwd=tmp_path, env=env,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True)  # its own process group, as a terminal's foreground job
    seen: list[str] = []
    try:
        assert process.stdout is not None and process.stderr is not None
        year = await _line_with(process.stdout, re.compile(
            r"Client (\w{3}-\w{2}) has a year of history: (http://\S+)"), seen, 240)
        link = await _line_with(process.stdout, re.compile(r"(http://\S+/sign-in/\S+)"),
                                seen, 60)
        out = "".join(seen)
        assert "Critical alert for client" in out and "Session report for client" in out
        code, page_url = year.group(1), year.group(2)
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as web:
            async with web.get(link.group(1)) as shown:
                assert shown.status == 200
                token = re.search(r'name="token" value="([^"]+)"', await shown.text())
            assert token is not None
            base = link.group(1).split("/sign-in/")[0]
            async with web.post(base + "/sign-in", data={"token": token.group(1)},
                                headers={"Origin": base}) as signed:
                assert signed.status == 200 and signed.url.path == "/caseload"
                assert code in await signed.text()  # the seeded client is on the caseload
            async with web.get(page_url) as answer:
                page = await answer.text()
                assert answer.status == 200
        assert f"Client {code}" in page and 'aria-current="page">365 days' in page
        assert page.count("<svg") >= 10 and "Acknowledged by Dr Rivera" in page
        # A year of months on the axes: at least six different month names.
        months = set(re.findall(r">(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
                                r"(?: \d{4})?</text>", page))
        assert len(months) >= 6, months
        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C reaches the whole group
        rest, errors = await asyncio.wait_for(process.communicate(), 60)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    tail = rest.decode()
    assert process.returncode == 0, tail[-2000:] + errors.decode()[-2000:]
    assert "Stopping the demo" in tail and "Demo stopped." in tail
    assert "Traceback" not in tail + errors.decode()
