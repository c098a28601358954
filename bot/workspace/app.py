"""The workspace as a route adder for bot/workspace/server.py: `workspace(services)`.

The bot (inside `steadfast run`) and `steadfast web` both build it from the same Services,
so a page and a chat command act through the same code."""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web

from bot.composition import Services
from bot.workspace.server import RouteAdder
from journal.web_access import WebAccess


def web_access(services: Services) -> WebAccess:
    settings = services.settings
    return WebAccess(clock=services.clock,
                     idle=timedelta(minutes=settings.web_session_idle_minutes),
                     limit=timedelta(hours=settings.web_session_max_hours))


def workspace(services: Services) -> RouteAdder:
    """The route adder mounting every workspace page on an application."""

    def add(app: web.Application) -> None:
        from bot.workspace import auth, client_page, pages, render
        from bot.workspace.keys import (
            ACCESS_KEY,
            CONFIG_KEY,
            SERVICES_KEY,
            THROTTLE_KEY,
            WebConfig,
        )
        from journal.web_access import SignInThrottle

        settings = services.settings
        app[SERVICES_KEY] = services
        app[ACCESS_KEY] = web_access(services)
        app[CONFIG_KEY] = WebConfig(bot_token=settings.require_token(),
                                    secure_cookies=settings.web_public_url.startswith("https://"),
                                    trusted_proxies=settings.trusted_proxies)
        app[THROTTLE_KEY] = SignInThrottle(
            clock=services.clock, per_address=settings.web_sign_in_failures_per_address,
            overall=settings.web_sign_in_failures_overall)
        render.setup(app)
        auth.add_routes(app)
        pages.add_routes(app)
        client_page.add_routes(app)

    return add
