"""A client's page: GET /clients/{code} and everything under /clients/{code}/.

    GET  /clients/{code}?days=30            summary, indicators, calendar, alerts, situations,
                                            day by day, the newest journal page, the plan
    GET  /clients/{code}?since=YYYY-MM-DD   the same, opening on what changed since that day
                                            (default 7 days ago; a bad date: said kindly)
    GET  /clients/{code}/since.pdf?since=   what changed since that day, as a one-page PDF
    GET  /clients/{code}/journal?page=N&q=  the journal, paged, or searched by its text
    POST /clients/{code}/plan               the RP plan, edited as /plan edits it
    POST /clients/{code}/plan/part/{part}   one part from its form: add, reword, remove,
                                            reorder items (a new version, with a reason)
    GET  /clients/{code}/plan/history?from=N&to=M  the versions, and what changed between two
    POST /clients/{code}/plan/suggestions/{id}  accept (as written or edited) or decline

The data comes from journal/review/client_page.py (the access rule of journal/people.py
and the audit event of the chat's review); this module only turns it into charts and a
template's values. A plan that does not parse comes back in the form with the reason, and
is never logged."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from functools import lru_cache
from typing import Any, Final

from aiohttp import web
from markupsafe import Markup

from journal.alerts.levels import ALERT_ORDER, LABELS, WORDS
from journal.checkin.questionnaire import MAX_SCORE
from journal.errors import InvalidInput, NotFound
from journal.i18n import N_, gettext_for, ngettext_for
from journal.plan_together import SuggestionError
from journal.review.charts import DAY_LABELS, Series, Thresholds
from journal.review.client_page import (
    BAD_SINCE,
    BAD_SINCE_SESSION,
    DEFAULT_RANGE,
    RANGES,
    SEARCH_LIMIT,
    ClientPage,
    ClientPages,
    JournalPage,
)
from journal.review.plan import (
    FormRow,
    PlanFormatError,
    diff_plans,
    format_rules,
    plan_lines,
    section_titles,
    stage_title,
)
from journal.review.plan import parts as plan_parts
from journal.review.report import plan_change_text, since_basis_text, since_filename
from journal.sharing import AGREEMENT_WORDS, CATEGORY_WORDS, EVENT_WORDS
from storage.records import ENROLLED, Plan
from web.auth import check_csrf, signed_in
from web.client_charts import (
    FONT,
    NARROW_WIDTH,
    SMALL_WIDTH,
    SMOOTH_AFTER,
    Threshold,
    calendar_chart,
    line_chart,
)
from web.context import SERVICES_KEY, Viewer
from web.parsing import form as posted
from web.parsing import query_number
from web.render import page

PAGES_KEY: Final = web.AppKey("client_pages", ClientPages)
SHOWN_ALERTS: Final = 10  # the newest alerts shown at once; older ones fold away
MAX_RANGE: Final = 9999  # a longer `days` is no range at all: 400
MAX_JOURNAL_PAGE: Final = 999_999
PHONE_WEEKS: Final = 21  # the calendar's weeks a band at phone width  # a page past the last shows the last; a longer one: 400

HELP_OUTCOMES: Final = {"better": N_("Better"), "same": N_("About the same"),
                        "worse": N_("Worse")}
CHANGE_KINDS: Final = {"added": N_("Added"), "removed": N_("Removed"),
                       "reworded": N_("Reworded"), "changed": N_("Details changed"),
                       "moved": N_("Moved")}
STATE_LABELS: Final = {**DAY_LABELS, "paused": N_("Paused")}
WEEKDAYS: Final = (N_("Mon"), N_("Tue"), N_("Wed"), N_("Thu"), N_("Fri"), N_("Sat"),
                   N_("Sun"))


@lru_cache(maxsize=8)
def _month_names(language: str) -> tuple[str, ...]:
    from babel.dates import get_month_names  # only once a page is drawn

    names = get_month_names("abbreviated", context="stand-alone", locale=language)
    return tuple(str(names[m]).rstrip(".").capitalize() for m in range(1, 13))


def month_namer(language: str) -> Callable[[date], str]:
    names = _month_names(language)
    return lambda day: names[day.month - 1]


def _translator(language: str) -> Callable[..., str]:
    def t(message: str, **params: Any) -> str:
        text = gettext_for(language, message)
        return text.format(**params) if params else text

    return t


def _described(values: Sequence[int | None], thresholds: Sequence[Threshold], days: int,
               language: str) -> str:
    """What a chart shows, in words: for screen readers and anyone who cannot see it."""
    known = [v for v in values if v is not None]
    span = ngettext_for(language, "the last {days} day", "the last {days} days",
                        days).format(days=days)
    if not known:
        return gettext_for(language, "No check-ins in {span}.").format(span=span)
    latest = next(v for v in reversed(values) if v is not None)
    words = [ngettext_for(language,
                          "{n} check-in in {span}; latest {latest}, highest {top}, "
                          "average {mean}.",
                          "{n} check-ins in {span}; latest {latest}, highest {top}, "
                          "average {mean}.", len(known)).format(
        n=len(known), span=span, latest=latest, top=max(known),
        mean=f"{sum(known) / len(known):.1f}")]
    for threshold in thresholds:
        over = sum(1 for v in known if v >= threshold.value)
        words.append(ngettext_for(language, "{n} day at or above {label}.",
                                  "{n} days at or above {label}.", over).format(
            n=over, label=threshold.label.casefold()))
    return " ".join(words)


def _thresholds(value: Thresholds, t: Callable[..., str]) -> list[Threshold]:
    found = []
    if value.elevated is not None:
        found.append(Threshold(value.elevated, t(N_("Elevated from {n}"), n=value.elevated),
                               "elevated"))
    if value.high is not None:
        found.append(Threshold(value.high, t(N_("High from {n}"), n=value.high), "high"))
    return found


def charts(data: ClientPage, language: str) -> dict[str, Any]:
    """Every chart of the page as inline SVG, one series each, with its words."""
    t = _translator(language)
    months = month_namer(language)
    days = [p.day for p in data.points]

    def series(line: Series) -> list[int | None]:
        return [p.value(line) for p in data.points]

    roll_ups = []
    for line in data.roll_ups:
        name, title, top = line.id, line.label, line.top
        limits = _thresholds(line.thresholds, t)
        values = series(line)
        description = _described(values, limits, data.days, language)
        # Drawn twice, wide and narrow, and the stylesheet shows the one that fits: an SVG
        # scaled down to a phone would shrink its labels past reading.
        roll_ups.append({"id": f"chart-{name}", "title": title, "text": description,
                         "svg": line_chart(f"chart-{name}", title, description, days,
                                           values, top=top, thresholds=limits,
                                           month_name=months, font=FONT),
                         "narrow": line_chart(f"chart-{name}-n", title, description, days,
                                              values, top=top, thresholds=limits,
                                              month_name=months, width=NARROW_WIDTH,
                                              height=150, labels_inside=True)})
    domains = []
    for name, scores in data.domains.items():
        values = list(scores)
        title = data.domain_labels.get(name, name)
        description = _described(values, (), data.days, language)
        domains.append({"id": f"chart-{name}", "title": title, "text": description,
                        "svg": line_chart(f"chart-{name}", title, description, days, values,
                                          top=MAX_SCORE, month_name=months, width=SMALL_WIDTH,
                                          height=110)})
    wellbeing = []
    for line in data.scales:
        name, title = line.id, line.label
        values = series(line)
        description = _described(values, (), data.days, language)
        wellbeing.append({"id": f"chart-{name}", "title": title, "text": description,
                          "svg": line_chart(f"chart-{name}", title, description, days,
                                            values, top=line.top, month_name=months,
                                            width=SMALL_WIDTH, height=110)})
    cal = data.calendar
    paused = ngettext_for(language, "{n} day", "{n} days", cal.paused).format(n=cal.paused)
    cal_text = ngettext_for(
        language,
        "Asked {asked} day: checked in {done}, missed {missed}, started and not finished "
        "{open}; paused {paused}.",
        "Asked {asked} days: checked in {done}, missed {missed}, started and not finished "
        "{open}; paused {paused}.", cal.asked).format(
        asked=cal.asked, done=cal.submitted, missed=cal.missed, open=cal.open, paused=paused)
    weekdays = [t(w) for w in WEEKDAYS]
    cal_title = t(N_("Check-in adherence by day"))

    def state_name(state: str) -> str:
        return t(STATE_LABELS.get(state, state))

    svg = calendar_chart("calendar", cal_title, cal_text, cal.days, state_name, months,
                         weekdays)
    weeks = (cal.days[-1][0] - cal.days[0][0]).days // 7 + 2 if cal.days else 0
    if weeks > PHONE_WEEKS:  # too wide for a phone: there, the weeks wrap into bands
        narrow = calendar_chart("calendar-n", cal_title, cal_text, cal.days, state_name,
                                months, weekdays, weeks_per_row=PHONE_WEEKS)
        svg = Markup('<div class="wide-only">{}</div><div class="narrow-only">{}</div>'
                     ).format(svg, narrow)
    calendar = {"text": cal_text, "svg": svg}
    return {"roll_ups": roll_ups, "domains": domains, "wellbeing": wellbeing,
            "calendar": calendar, "smooth": len(days) > SMOOTH_AFTER}


def month_rows(data: ClientPage, language: str) -> list[dict[str, Any]]:
    """The calendar as a table, a row a month: the text alternative a screen reader reads."""
    months = month_namer(language)
    rows: dict[tuple[int, int], dict[str, Any]] = {}
    for day, state in data.calendar.days:
        row = rows.setdefault((day.year, day.month), {
            "month": f"{months(day)} {day.year}", "submitted": 0, "missed": 0, "open": 0,
            "paused": 0})
        if state in ("submitted", "missed", "open", "paused"):
            row[state] += 1
    return list(rows.values())


def table_rows(data: ClientPage) -> list[tuple[date, list[int | None]]]:
    """Every day's values, newest first, in the column order of the charts."""
    out = []
    for index, point in enumerate(data.points):
        values = [point.value(line) for line in data.roll_ups]
        values += [series[index] for series in data.domains.values()]
        values += [point.value(line) for line in data.scales]
        if any(v is not None for v in values):
            out.append((point.day, values))
    return list(reversed(out))


def _common() -> dict[str, Any]:
    return {"levels": LABELS, "words": WORDS, "alert_order": ALERT_ORDER, "ranges": RANGES,
            "plan_lines": plan_lines, "plan_titles": section_titles,
            "plan_parts": plan_parts, "stage_title": stage_title,
            "help_outcomes": HELP_OUTCOMES, "change_kinds": CHANGE_KINDS,
            "state_labels": STATE_LABELS,
            "search_limit": SEARCH_LIMIT, "shown_alerts": SHOWN_ALERTS}


def _days(request: web.Request) -> int:
    """The range asked for; a number the page does not offer shows the default one."""
    days = query_number(request, "days", default=DEFAULT_RANGE, low=1, high=MAX_RANGE)
    return days if days in RANGES else DEFAULT_RANGE


ISO_DAY: Final = re.compile(r"\d{4}-\d{2}-\d{2}")


def since_asked(request: web.Request) -> tuple[date | None, str | None]:
    """The day the "since" view starts on, and the text given when it is not a date."""
    text = request.query.get("since", "").strip()
    if not text:
        return None, None
    if len(text) == 10 and text.isascii() and ISO_DAY.fullmatch(text):
        try:
            return date.fromisoformat(text), None
        except ValueError:
            pass
    return None, text[:40]


async def client(request: web.Request) -> web.Response:
    viewer = await signed_in(request)
    return await _client_page(request, viewer, _days(request))


async def _client_page(request: web.Request, viewer: Viewer, days: int, *,
                       plan_text: str | None = None, plan_error: str | None = None,
                       status: int = 200) -> web.Response:
    services = request.app[SERVICES_KEY]
    since, bad = since_asked(request)
    pages = request.app[PAGES_KEY]
    code = request.match_info["code"]
    try:
        async with services.store.transaction() as uow:  # the audit event commits with it
            data = await pages.page(uow, viewer.clinician, code, days=days,
                                    language=viewer.language, timezone=viewer.timezone,
                                    since=since)
            team = await services.sharing.team_view(uow, data.client)
    except InvalidInput as error:
        if error.key != "report.since" or since is None:
            raise
        bad = request.query.get("since", "")[:40]
        async with services.store.transaction() as uow:
            data = await pages.page(uow, viewer.clinician, code, days=days,
                                    language=viewer.language, timezone=viewer.timezone)
            team = await services.sharing.team_view(uow, data.client)
    since_error = None
    if bad is not None:
        status = 400
        shown = data.since
        since_error = _translator(viewer.language)(
            BAD_SINCE if shown.session is None else BAD_SINCE_SESSION, text=bad,
            example=shown.since.isoformat(), day=shown.since.isoformat())
    saved = request.query.get("plan") == "saved"
    return page(request, "client.html", {
        **_common(), "data": data,
        "charts": charts(data, viewer.language), "month_rows": month_rows(data, viewer.language),
        "table": table_rows(data), "journal": data.journal, "since": data.since,
        "since_error": since_error, "since_chosen": since is not None and bad is None,
        "since_basis": since_basis_text(data.since, viewer.language),
        "plan_change": plan_change_text(data.since, viewer.language, viewer.timezone),
        "plan_text": data.plan_text if plan_text is None else plan_text,
        "plan_error": plan_error, "plan_saved": saved and plan_error is None,
        "team": team, "team_proposed": request.query.get("team") == "proposed",
        "event_words": EVENT_WORDS, "agreement_words": AGREEMENT_WORDS,
        "category_words": CATEGORY_WORDS, "enrolled": data.client.status in ENROLLED},
        status=status)


async def journal(request: web.Request) -> web.Response:
    viewer = await signed_in(request)
    number = query_number(request, "page", default=1, low=1, high=MAX_JOURNAL_PAGE)
    query = request.query.get("q", "")
    services = request.app[SERVICES_KEY]
    async with services.store.transaction() as uow:
        shown: JournalPage = await request.app[PAGES_KEY].journal(
            uow, viewer.clinician, request.match_info["code"],
            page=number, query=query)
    return page(request, "client_journal.html", {
        **_common(), "journal": shown})


async def edit_plan(request: web.Request) -> web.Response:
    """The plan from the form, with /plan's rules: the same format, the same limits, the
    client told in their language. A plan that does not parse is shown again, unsaved."""
    viewer = await signed_in(request)
    form = await posted(request)
    await check_csrf(request, form)
    text = form.get("plan")
    text = text if isinstance(text, str) else ""
    code = request.match_info["code"]
    services = request.app[SERVICES_KEY]
    try:
        async with services.store.transaction() as uow:
            client, _plan = await services.review.edit_plan(uow, viewer.clinician, code, text)
    except PlanFormatError:
        t = _translator(viewer.language)
        return await _client_page(request, viewer, DEFAULT_RANGE, plan_text=text, status=400,
                                  plan_error=t(N_("The plan was not saved. {rules}"),
                                               rules=format_rules(viewer.language)))
    raise web.HTTPSeeOther(f"/clients/{client.code}?plan=saved#plan")


async def since_pdf(request: web.Request) -> web.Response:
    """What changed since a day, on one page, to hand over or keep in the session's file."""
    viewer = await signed_in(request)
    since, bad = since_asked(request)
    if bad is not None:
        raise web.HTTPBadRequest()
    services = request.app[SERVICES_KEY]
    try:
        async with services.store.transaction() as uow:  # the audit event commits with it
            view = await request.app[PAGES_KEY].since(
                uow, viewer.clinician, request.match_info["code"], since=since,
                language=viewer.language, timezone=viewer.timezone)
    except InvalidInput as error:
        if error.key != "report.since":
            raise
        raise web.HTTPBadRequest() from None
    pdf = await services.review.render_since(view, viewer.language, viewer.timezone)
    name = since_filename(view.code, view.since, view.today, view.generated_at.date())
    return web.Response(body=pdf, content_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="{name}"'})


def _rows(form: Mapping[str, Any], part: str) -> list[FormRow]:
    """The rows of a part's form: text_N, pos_N, remove_N, f_FIELD_N, and the new row."""
    fields = plan_parts().fields(part)
    keys = sorted({k.removeprefix("text_") for k in form if k.startswith("text_")})
    rows = []
    for n, key in enumerate(keys):
        text = form.get(f"text_{key}")
        position = form.get(f"pos_{key}")
        try:
            where = float(position) if isinstance(position, str) and position.strip() else n + 1
        except ValueError:
            where = n + 1
        if key == "new":
            where = where if isinstance(position, str) and position.strip() else 10_000
        values = tuple((f, str(form.get(f"f_{f}_{key}") or "")) for f in fields)
        rows.append(FormRow(where, text if isinstance(text, str) else "", values,
                            remove=form.get(f"remove_{key}") is not None))
    return rows


async def edit_part(request: web.Request) -> web.Response:
    """One part of the plan from its form; a part that does not fit the limits is shown
    again with the reason, unsaved."""
    viewer = await signed_in(request)
    form = await posted(request)
    await check_csrf(request, form)
    code, part = request.match_info["code"], request.match_info["part"]
    reason = form.get("reason")
    services = request.app[SERVICES_KEY]
    t = _translator(viewer.language)
    try:
        async with services.store.transaction() as uow:
            client, _plan = await services.review.edit_part(
                uow, viewer.clinician, code, part, _rows(form, part),
                reason if isinstance(reason, str) and reason.strip()
                else t(N_("Changed in the workspace")))
    except PlanFormatError:
        return await _client_page(request, viewer, DEFAULT_RANGE, status=400,
                                  plan_error=t(N_("The plan was not saved. {rules}"),
                                               rules=format_rules(viewer.language)))
    raise web.HTTPSeeOther(f"/clients/{client.code}?plan=saved#plan-{part}")


async def decide_suggestion(request: web.Request) -> web.Response:
    viewer = await signed_in(request)
    form = await posted(request)
    await check_csrf(request, form)
    services = request.app[SERVICES_KEY]
    action, text = form.get("action"), form.get("text")
    suggestion = request.match_info["id"]
    try:
        async with services.store.transaction() as uow:
            # The code in the address must be the suggestion's client (and visible).
            client, _open = await services.together.open_suggestions(
                uow, viewer.clinician, request.match_info["code"])
            if suggestion not in {s.id for s in _open}:
                raise NotFound("no such suggestion", key="client.not_found")
            if action == "decline":
                await services.together.decline(uow, viewer.clinician, suggestion)
            else:
                await services.together.accept(
                    uow, viewer.clinician, suggestion,
                    text=text if isinstance(text, str) and text.strip() else None)
    except SuggestionError:
        t = _translator(viewer.language)
        return await _client_page(request, viewer, DEFAULT_RANGE, status=400,
                                  plan_error=t(N_("The suggestion was not added: it is "
                                                  "empty, too long, or its part is full.")))
    raise web.HTTPSeeOther(f"/clients/{client.code}?plan=saved#plan")


async def plan_history(request: web.Request) -> web.Response:
    viewer = await signed_in(request)
    services = request.app[SERVICES_KEY]
    async with services.store.transaction() as uow:
        client, versions = await services.review.plan_history(
            uow, viewer.clinician, request.match_info["code"])
    numbers = [v.number for v in versions]
    newest = numbers[0] if numbers else 0
    to = query_number(request, "to", default=newest, low=0, high=MAX_RANGE)
    since = query_number(request, "from", default=max(newest - 1, 0), low=0, high=MAX_RANGE)
    by_number = {v.number: v for v in versions}
    left, right = by_number.get(since), by_number.get(to)
    changes = (diff_plans(left.plan if left else Plan(client.id), right.plan)
               if right is not None else [])
    names = {}
    for version in versions:
        if version.by is not None and version.by not in names:
            async with services.store.unit_of_work() as uow:
                who = await uow.clinicians.get(version.by)
            names[version.by] = who.name if who else "-"
    return page(request, "plan_history.html", {
        **_common(), "client": client, "versions": versions, "names": names,
        "from_number": since, "to_number": to, "changes": changes,
        "part_titles": plan_parts().titles})
async def propose_team(request: web.Request) -> web.Response:
    """A sharing proposal from the client page, as /team makes it: the program's set, to
    the officer chosen; the client answers in the chat."""
    viewer = await signed_in(request)
    form = await posted(request)
    await check_csrf(request, form)
    officer = form.get("officer")
    if not (isinstance(officer, str) and officer.isascii() and officer.isdigit()
            and len(officer) <= 20):
        raise InvalidInput("no officer chosen")
    services = request.app[SERVICES_KEY]
    async with services.store.transaction() as uow:
        _agreement, client, _officer = await services.sharing.propose(
            uow, code=request.match_info["code"], officer_telegram_id=int(officer),
            by=viewer.clinician)
    raise web.HTTPSeeOther(f"/clients/{client.code}?team=proposed#team")


def add_routes(app: web.Application) -> None:
    services = app[SERVICES_KEY]
    app[PAGES_KEY] = services.client_pages
    app.router.add_get("/clients/{code}", client)
    app.router.add_get("/clients/{code}/since.pdf", since_pdf)
    app.router.add_get("/clients/{code}/journal", journal)
    app.router.add_post("/clients/{code}/plan", edit_plan)
    app.router.add_post("/clients/{code}/plan/part/{part}", edit_part)
    app.router.add_get("/clients/{code}/plan/history", plan_history)
    app.router.add_post("/clients/{code}/plan/suggestions/{id}", decide_suggestion)
    app.router.add_post("/clients/{code}/team", propose_team)


__all__ = ["PAGES_KEY", "add_routes", "charts"]
