"""The workspace as a route adder for app/server.py: `workspace(services)`.

The bot (inside `steadfast run`) and `steadfast web` both build it from the same Services,
so a page and a chat command act through the same code."""

from __future__ import annotations

from aiohttp import web

from app.composition import Services
from app.server import RouteAdder


def workspace(services: Services) -> RouteAdder:
    """The route adder mounting every workspace page on an application."""

    def add(app: web.Application) -> None:
        from journal.web_access import SignInThrottle
        from web import (
            appointments,
            auth,
            calendar,
            client_page,
            figures,
            groups,
            homework,
            pages,
            phases_page,
            render,
            team,
        )
        from web.context import (
            ACCESS_KEY,
            CONFIG_KEY,
            SERVICES_KEY,
            THROTTLE_KEY,
            WebConfig,
        )

        settings = services.settings
        app[SERVICES_KEY] = services
        app[ACCESS_KEY] = services.web_access
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
        figures.add_routes(app)
        team.add_routes(app)
        phases_page.add_routes(app)
        appointments.add_routes(app)
        homework.add_routes(app)
        groups.add_routes(app)
        calendar.add_routes(app)

    return add
