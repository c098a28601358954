"""The clinician's workspace: server-rendered pages over the same services as the chat.

    routes.py       workspace(services) -> the route adder that mounts the workspace
    context.py      what a request reaches: the services, the viewer, the session (AppKeys)
    auth.py         sign-in (link, Mini App), sessions, `signed_in`, `check_csrf`
    render.py       `page()` with the shared template context, error pages, headers
    pages.py        caseload, alerts (acknowledge), report download
    client_page.py  /clients/{code} and everything under it; client_charts.py its SVG charts
    templates/, static/  Jinja2 templates, our own CSS and script

The HTTP server itself is app/server.py; `steadfast web` serves these pages alone
(process/web.py). Nothing here is imported by the admin commands, nor by the bot unless the
workspace is on (Jinja2 and aiohttp-jinja2 are imported only when the application is built)."""
