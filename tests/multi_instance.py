"""The pieces of the multi-instance story (tests/test_multi_instance.py): Debian's nginx run
in the foreground from the shipped site files, a short check-in for 200 people, and the
people answering it through the emulator."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.e2e import ROOT

DEPLOY = ROOT / "deploy" / "nginx"
LOCATIONS_PATH = "/etc/nginx/snippets/steadfast-locations.conf"

QUESTIONNAIRE = """
id = "multi-story"
version = 1
languages = ["en", "es"]
title = { en = "Short check-in", es = "Registro corto" }

[phrases]
yes = { en = "Yes", es = "Sí" }
no = { en = "No", es = "No" }
skipped = { en = "Skipped", es = "Omitida" }
none_selected = { en = "None", es = "Ninguna" }
removed_step = { en = "Removed", es = "Quitado" }

[domains]
collapse_of_social_supports = { en = "Social supports", es = "Apoyos sociales" }

[[items]]
id = "lapse"
kind = "yesno"
domain = "collapse_of_social_supports"
text = { en = "Did you lapse today?", es = "¿Tuviste una recaída hoy?" }
short = { en = "Lapse", es = "Recaída" }
"""

RULES = """
id = "multi-story-rules"
version = 1
questionnaire = "multi-story"

[reasons]
LAPSE = "Reported a lapse"

[[daily]]
id = "lapse"
level = "high"
reason = "LAPSE"
item = "lapse"
equals = true
"""


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx",) if os.access(p, os.X_OK)), None)


def site_for_test(ports: list[int], listen: int, folder: Path) -> str:
    """The shipped site with what a test must change, and nothing else: the instances'
    ports in its upstreams (fewer instances than shipped servers drop the others), the path of the locations file, and a plain-HTTP server on a
    loopback port in place of the TLS server (whose certificate a test has not got)."""
    site = (DEPLOY / "steadfast.conf").read_text()
    upstreams = site[:site.index("server {")]
    shipped = sorted(set(re.findall(r"server 127\.0\.0\.1:(\d+)", upstreams)))
    assert 1 <= len(ports) <= len(shipped), "at most one instance per shipped server"
    for old, new in zip(shipped, ports, strict=False):
        upstreams = upstreams.replace(f"127.0.0.1:{old} ", f"127.0.0.1:{new} ")
    for old in shipped[len(ports):]:  # fewer instances (the bench): their lines go
        upstreams = re.sub(rf"\n *server 127\.0\.0\.1:{old} [^\n]*", "", upstreams)
    tls = site[site.index("listen 443"):]
    assert "ssl_certificate " in tls and f"include {LOCATIONS_PATH};" in tls
    locations = folder / "steadfast-locations.conf"
    # nginx's own logs, which the shipped files name, go to the test's folder.
    locations.write_text((DEPLOY / "steadfast-locations.conf").read_text().replace(
        "/var/log/nginx/", f"{folder}/"))
    return upstreams + f"server {{\n    listen 127.0.0.1:{listen};\n    include {locations};\n}}\n"


class Nginx:
    """Debian's nginx as a foreground process of the test: its own prefix, temp folders,
    pid and logs under `folder`; the access log names the upstream(s) each request went to
    (a request retried on the next instance shows two)."""

    def __init__(self, binary: str, folder: Path, site: str) -> None:
        self.folder = folder
        self.access_log = folder / "access.log"
        self.error_log = folder / "error.log"
        for sub in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        user = "user root;\n" if os.geteuid() == 0 else ""  # else the workers are nobody
        conf = f"""{user}worker_processes 1;
daemon off;
pid {folder}/nginx.pid;
error_log {self.error_log} warn;
events {{ worker_connections 512; }}
http {{
    log_format steadfast '$request_uri $status upstreams=$upstream_addr statuses=$upstream_status';
    access_log {self.access_log} steadfast;
    client_body_temp_path {folder}/client_body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
{site}
}}
"""
        self.conf = folder / "nginx.conf"
        self.conf.write_text(conf)
        self.binary = binary
        self.process: subprocess.Popen[bytes] | None = None

    def check(self) -> str:
        done = subprocess.run([self.binary, "-t", "-p", str(self.folder), "-c", str(self.conf),
                               "-e", str(self.error_log)], capture_output=True, timeout=30)
        assert done.returncode == 0, done.stderr.decode(errors="replace")
        return done.stderr.decode(errors="replace")

    def start(self) -> Nginx:
        self.check()
        self.process = subprocess.Popen(
            [self.binary, "-p", str(self.folder), "-c", str(self.conf), "-e",
             str(self.error_log)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)  # graceful: finish what is in flight
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def retried(self, path: str) -> list[str]:
        """Access log lines of `path` that went to more than one instance."""
        if not self.access_log.exists():
            return []
        return [line for line in self.access_log.read_text().splitlines()
                if line.startswith(path + " ") and "," in line.split("upstreams=", 1)[1]]


@dataclass
class Person:
    """One client answering their check-in as a person would: Start, then each question."""

    user_id: int
    lapse: bool
    prompts: list[int] = field(default_factory=list)
    done: bool = False


# What a check-in message says once a newer one carries the check-in on.
MOVED = "The check-in continues below"


def _buttons(message: Any) -> list[str]:
    return [b.text for row in message.buttons for b in row]


async def answer_checkin(emu: Any, person: Person, timeout: float, *, reading: float,
                         patience: float = 10.0) -> None:
    """Wait for the prompt, then, `reading` seconds after each screen appeared, press what
    it asks for: Start, the person's answer to the lapse question, Submit; done when the
    check-in has no buttons left. A press that changes nothing within `patience` seconds is
    pressed again, as a person would (an instance killed after its commit and before its
    reply loses the reply)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout

    def message(message_id: int | None = None) -> Any:
        for m in emu.chat(person.user_id):
            if m.from_bot and (m.message_id == message_id if message_id is not None
                               else "Start check-in" in _buttons(m)):
                return m
        return None

    async def until(check: Any, seconds: float) -> Any:
        found: list[Any] = []

        def probe() -> bool:
            value = check()
            if value:
                found.append(value)
            return bool(value)

        left = deadline - loop.time()
        if left <= 0:
            raise AssertionError(f"client {person.user_id} stuck:\n"
                                 + "\n".join(emu.transcript(person.user_id)[-6:]))
        # The emulator wakes its waiters at every change: no polling of 200 chats.
        return found[-1] if await emu._wait_for(probe, min(seconds, left)) else None

    async def reopen() -> Any:
        """/checkin, and the message it answers with (None when none came in time)."""
        sent = await emu.send_command(person.user_id, "/checkin")
        return await until(lambda after=sent.message_id: next(
            (m for m in reversed(emu.chat(person.user_id))
             if m.from_bot and m.message_id > after), None), patience)

    prompt = None
    while prompt is None:
        prompt = await until(message, timeout)
    person.prompts.append(prompt.message_id)
    current, shown = prompt.message_id, prompt
    while True:
        labels = _buttons(shown)
        if "Start check-in" in labels:
            press = "Start check-in"
        elif "Submit" in labels:
            press = "Submit"
        elif "Yes" in labels:
            press = "Yes" if person.lapse else "No"
        elif MOVED in shown.text:  # retired: the check-in goes on in a newer message
            newer = await until(lambda after=current: next(
                (m for m in reversed(emu.chat(person.user_id))
                 if m.from_bot and m.message_id > after and _buttons(m)), None), patience)
            if newer is not None:
                current, shown = newer.message_id, newer
                continue
            fresh = await reopen()
            if fresh is not None:
                current, shown = fresh.message_id, fresh
            continue
        else:  # no buttons, or the summary after submitting: nothing left to answer
            person.done = True
            return
        await asyncio.sleep(reading)
        now = message(current)
        if now is None or (now.text, _buttons(now)) != (shown.text, labels):
            shown = now or shown  # it changed meanwhile (a press before was answered late)
            continue
        await emu.press_button(person.user_id, current, text=press)

        def changed(before: tuple[str, list[str]] = (shown.text, labels),
                    where: int = current) -> Any:
            m = message(where)
            return m if m is not None and (m.text, _buttons(m)) != before else None

        moved = await until(changed, patience)
        if moved is not None:
            shown = moved
            continue
        # Nothing changed: the reply to an earlier press was lost (its instance was killed
        # after the commit), and this press only said "Already saved". /checkin shows
        # where the check-in stands, in a message of its own.
        fresh = await reopen()
        if fresh is not None:
            current, shown = fresh.message_id, fresh
