"""A real SMTP server on loopback (aiosmtpd) that keeps every mail it was handed."""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


@dataclass(frozen=True)
class Received:
    rcpt_tos: tuple[str, ...]
    mail_from: str
    message: EmailMessage

    @property
    def subject(self) -> str:
        """As a mail client shows it: a subject longer than a line is folded before its
        first word ("Subject:\r\n Hillside RP: ..."), which Python's parser keeps as a
        leading space and mail clients drop."""
        return str(self.message["Subject"]).lstrip()

    @property
    def body(self) -> str:
        part = self.message.get_body(("plain",))
        assert part is not None
        return str(part.get_content())


class _Collector:
    def __init__(self, box: Mailbox) -> None:
        self._box = box

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if self._box.refusing:
            return "451 4.3.0 try again later"
        parsed = message_from_bytes(envelope.original_content or envelope.content,
                                    policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        with self._box.lock:
            self._box.received.append(Received(tuple(envelope.rcpt_tos), envelope.mail_from,
                                               parsed))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Mailbox:
    """Start, read what arrived, stop. `refusing` makes the server answer 451 to DATA."""

    def __init__(self) -> None:
        self.port = free_port()
        self.received: list[Received] = []
        self.lock = threading.Lock()
        self.refusing = False
        self._controller = Controller(_Collector(self), hostname="127.0.0.1", port=self.port)

    def start(self) -> Mailbox:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def to(self, address: str) -> list[Received]:
        with self.lock:
            return [m for m in self.received if address in m.rcpt_tos]

    def all(self) -> list[Received]:
        with self.lock:
            return list(self.received)
