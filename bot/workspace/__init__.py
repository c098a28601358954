"""The clinician's workspace: server-rendered pages over the same services as the chat.

    server.py       build_server(adders) -> web.Application; serve(app, host, port, stop)
    app.py          workspace(services) -> the route adder that mounts the workspace
    auth.py         sign-in (link, Mini App), sessions, `signed_in`, `check_csrf`
    render.py       `page()` with the shared template context, error pages, headers
    pages.py        caseload, alerts (acknowledge), report download
    client_page.py  /clients/{code} and everything under it

Nothing here is imported by the admin commands, nor by the bot unless the workspace is on
(Jinja2 and aiohttp-jinja2 are imported only when the application is built)."""
