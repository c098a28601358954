"""Mail out through SMTP (aiosmtplib), and the loop that runs the staff e-mail fallback."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import aiosmtplib

from app.settings import Settings
from journal.alerts.fallback import EmailFallback
from journal.errors import safe_trace

log = logging.getLogger(__name__)


class SmtpMailer:
    """One connection per mail: fallbacks are rare, and a fresh connection never goes stale."""

    def __init__(self, *, host: str, port: int, sender: str, security: str,
                 username: str = "", password: str | None = None, timeout: float = 30.0
                 ) -> None:
        self._host, self._port, self._sender = host, port, sender
        self._security = security
        self._username, self._password = username or None, password or None
        self._timeout = timeout

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpMailer:
        password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
        return cls(host=settings.smtp_host, port=settings.smtp_port,
                   sender=settings.smtp_from or f"steadfast@{settings.smtp_host}",
                   security=settings.smtp_security, username=settings.smtp_username,
                   password=password)

    async def send(self, *, to: str, subject: str, body: str) -> None:
        message = EmailMessage()
        message["From"] = self._sender
        message["To"] = to
        message["Subject"] = subject
        message["Date"] = formatdate(usegmt=True)
        message["Message-ID"] = make_msgid(domain=self._sender.rpartition("@")[2] or None)
        message.set_content(body)
        await aiosmtplib.send(
            message, hostname=self._host, port=self._port, username=self._username,
            password=self._password, use_tls=self._security == "tls",
            start_tls=self._security == "starttls",
            timeout=self._timeout)


async def run_fallback(fallback: EmailFallback, stop: asyncio.Event,
                       interval: float = 15.0) -> None:
    """Look for staff messages overdue on Telegram every `interval` seconds until stopped."""
    while not stop.is_set():
        try:
            await fallback.run_once()
        except Exception as exc:  # the loop must outlive any one failure
            log.error("e-mail fallback pass failed: %s", safe_trace(exc))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)
