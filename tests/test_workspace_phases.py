"""Phases and ratings in the workspace over real HTTP: the clinician rates each domain, the
client page and the PDF show the rating beside the month's self-report and flag a
disagreement; the caseload shows the phase and an overdue rating; another clinician's
client answers as a missing one; supervisors see proposals awaiting approval."""

from __future__ import annotations

import io
import re

from pypdf import PdfReader

from tests.test_workspace_client import (  # noqa: F401 (the fixture, by name)
    World,
    csrf_of,
    get,
    signed_in,
    visible_text,
    world,
)
from web.context import SERVICES_KEY


def rating_rows(page: str) -> list[tuple[str, str, str, bool]]:
    """(area, self-report, rating, flagged) for each row of the ratings table."""
    table = page.split('<table class="ratings">', 1)[1].split("</table>", 1)[0]
    rows = []
    for row in re.findall(r"<tr( class=\"disagree\")?><th scope=\"row\">(.*?)</th><td>(.*?)</td>"
                          r"<td>(.*?)</td><td>(.*?)</td></tr>", table, flags=re.S):
        flagged, area, own, rated, flag = row
        assert bool(flagged) == ("Talk about in session" in flag)
        rows.append((area, own, rated, bool(flagged)))
    return rows


async def test_a_rating_of_2_against_a_low_self_report_is_flagged_on_the_page_and_in_the_pdf(
        world: World) -> None:  # noqa: F811 (the client page's world, by name)
    session = await signed_in(world, world.lane)
    code = world.client.code
    try:
        _status, caseload, _h = await get(session, world.url("/caseload"))
        assert "Rating overdue" in visible_text(caseload)  # enrolled 400 days, never rated
        assert "Intensive" in visible_text(caseload)
        status, page, _h = await get(session, world.url(f"/clients/{code}"))
        assert status == 200
        before = rating_rows(page)
        assert before and all(rated == "Not rated yet" and not flagged
                              for _a, _o, rated, flagged in before)
        assert "Not a scored assessment" in visible_text(page)
        domains = world.server.app[SERVICES_KEY].phases.domains
        form = {"csrf_token": csrf_of(page), "note": "Discussed with the officer",
                **{d: "2" for d in domains}}
        async with session.post(world.url(f"/clients/{code}/rating"), data=form) as saved:
            assert saved.status == 200 and saved.url.query.get("rating") == "saved"
            page = await saved.text()
        after = rating_rows(page)
        assert [rated for _a, _o, rated, _f in after] == ["2"] * len(domains)
        for _area, own, _rated, flagged in after:
            assert flagged == (own == "0"), (own, flagged)
        assert any(flagged for *_rest, flagged in after), "the seed has a calm domain"
        assert "Discussed with the officer" in visible_text(page)
        _status, caseload, _h = await get(session, world.url("/caseload"))
        assert "Rating overdue" not in visible_text(caseload)

        async with session.get(world.url(f"/reports/{code}?days=30")) as pdf:
            assert pdf.status == 200
            text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(
                await pdf.read())).pages)
        assert "Self-report beside the clinician's rating" in text
        assert "Talk about in session" in text and "Not a scored assessment" in " ".join(
            text.split())
    finally:
        await session.close()


async def test_another_clinicians_client_cannot_be_rated_and_approvals_are_for_supervisors(
        world: World) -> None:  # noqa: F811 (the client page's world, by name)
    session = await signed_in(world, world.ortiz)
    try:
        _status, page, _h = await get(session, world.url("/caseload"))
        domains = world.server.app[SERVICES_KEY].phases.domains
        form = {"csrf_token": csrf_of(page), "note": "", **{d: "1" for d in domains}}
        async with session.post(world.url(f"/clients/{world.client.code}/rating"),
                                data=form) as refused:
            assert refused.status == 404
        async with session.post(world.url("/clients/ZZZZZ/rating"), data=form) as unknown:
            assert unknown.status == 404
        async with session.post(world.url(f"/clients/{world.other.code}/rating"),
                                data={**form, domains[0]: "7"}) as forged:
            assert forged.status == 403
        async with session.post(world.url(f"/clients/{world.other.code}/rating"),
                                data={k: v for k, v in form.items() if k != "csrf_token"}
                                ) as no_token:
            assert no_token.status == 403
        async with session.post(world.url(f"/clients/{world.other.code}/approve"),
                                data={"csrf_token": form["csrf_token"]}) as approve:
            assert approve.status == 404  # a clinician approves nothing
        status, _page, _h = await get(session, world.url("/approvals"))
        assert status == 404
    finally:
        await session.close()
    async with world.store.unit_of_work() as uow:
        assert await uow.phases.ratings(world.client.id) == []
        assert await uow.phases.ratings(world.other.id) == []
