"""E-mail addresses as Steadfast accepts them: for staff and for the sender setting."""

from __future__ import annotations

import re

_ADDRESS = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}"
                      r"[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$")


def is_email_address(value: str) -> bool:
    """A plain addr-spec (no display name), short enough for SMTP."""
    return len(value) <= 254 and _ADDRESS.match(value) is not None
