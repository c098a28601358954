"""What a request can reach: the services (`request.app[SERVICES_KEY]`), the workspace's
sign-in rules (`request.app[ACCESS_KEY]`), and, once signed in, `request[VIEWER]`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from ipaddress import IPv4Network, IPv6Network
from typing import TYPE_CHECKING, Final

from aiohttp import web

from app.composition import Services
from journal.web_access import SignInThrottle, WebAccess

if TYPE_CHECKING:
    from storage.records import Clinician


@dataclass(frozen=True)
class WebConfig:
    """What the workspace needs beyond the services."""

    bot_token: str
    secure_cookies: bool  # https: the cookies carry Secure and the __Host- prefix
    trusted_proxies: tuple[IPv4Network | IPv6Network, ...] = ()


@dataclass(frozen=True, slots=True)
class Viewer:
    """The signed-in staff member, as the pages need them."""

    clinician: Clinician
    language: str
    timezone: str
    csrf_token: str
    session_id: str
    session_ends: datetime  # if left idle (or at the absolute limit, when sooner)

    @property
    def name(self) -> str:
        return self.clinician.name

    @property
    def role(self) -> str:
        return self.clinician.role

    @property
    def is_supervisor(self) -> bool:
        return self.clinician.is_supervisor


SERVICES_KEY: Final = web.AppKey("services", Services)
ACCESS_KEY: Final = web.AppKey("web_access", WebAccess)
CONFIG_KEY: Final = web.AppKey("web_config", WebConfig)
THROTTLE_KEY: Final = web.AppKey("sign_in_throttle", SignInThrottle)
VIEWER: Final = web.RequestKey("viewer", Viewer)
CSRF_HASH: Final = web.RequestKey("csrf_hash", str)
LANGUAGE: Final = web.RequestKey("language", str)  # before sign-in: the link owner's
