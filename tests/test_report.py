"""The session report: charts that are real PNGs, and a PDF that reads back with the
client's entries, from the bot's service and from the command line."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from io import BytesIO
from pathlib import Path

import pytest
from PIL import Image
from pypdf import PdfReader

from journal.alerts.rules import RiskRules
from journal.alerts.rules_file import load_rules
from journal.checkin.questionnaire import Questionnaire
from journal.checkin.questionnaire_file import load_questionnaire
from journal.clock import FakeClock
from journal.review import charts
from journal.review.adherence import client_today
from journal.review.report import DISCLAIMER, build_report
from journal.review.service import ReviewService
from storage import audit
from storage.crypto import MasterKeyring
from storage.records import Client, Clinician
from storage.uow import Store
from tests.conftest import Database
from tests.helpers import make_clinician
from tests.reading import times_without_zone
from tests.review_seed import PLAN, Seeded, seed_history
from tests.stories import enrolled_client
from tests.test_audit_and_cli import cli

START, END = date(2026, 2, 1), date(2026, 3, 2)


@pytest.fixture(scope="module")
def q() -> Questionnaire:
    return load_questionnaire()


@pytest.fixture(scope="module")
def rules(q: Questionnaire) -> RiskRules:
    return load_rules(questionnaire=q)


ROLL_UPS = (charts.Series("roll_up", "sexual_violent", "Sexual/violent", 8,
                          charts.Thresholds(3, 5)),
            charts.Series("roll_up", "general", "General", 14, charts.Thresholds(6, 9)))
SCALES = tuple(charts.Series("scale", name, name.capitalize(), 10)
               for name in ("confidence", "coping", "coping_effect"))


def _points(days: int) -> list[charts.DayPoint]:
    return [charts.DayPoint(START + timedelta(days=n),
                            {"sexual_violent": n % 9, "general": n % 15},
                            {"confidence": n % 11, "coping": 10 - n % 11,
                             **({} if n % 4 else {"coping_effect": 6})},
                            {} if n % 5 == 4 else {"hostility": n % 3, "substance_abuse": 0})
            for n in range(days)]


def _pdf_text(pdf: bytes) -> tuple[PdfReader, str]:
    reader = PdfReader(BytesIO(pdf))
    return reader, "\n".join(page.extract_text() for page in reader.pages)


@pytest.mark.parametrize("days", [0, 14, 30, 366])
def test_every_chart_is_a_real_png_of_the_promised_size(days: int) -> None:
    points = _points(days)
    end = START + timedelta(days=max(days, 1) - 1)
    alerts = [charts.AlertMark(datetime(2026, 2, 3 + n, 21, tzinfo=UTC), level, n % 2 == 0)
              for n, level in enumerate(("elevated", "high", "critical"))] if days else []
    images = [
        charts.indicators_chart(points, ROLL_UPS, start=START, end=end),
        charts.indicators_chart(points, ROLL_UPS[1:], start=START, end=end),
        charts.confidence_coping_chart(points, SCALES, start=START, end=end),
        charts.domains_chart(points, {"hostility": "Hostility", "substance_abuse": "Substances",
                                      "access_to_victims": "Access"}, start=START, end=end),
        charts.adherence_calendar({p.day: "submitted" for p in points}, start=START, end=end),
        charts.alert_timeline(alerts, start=START, end=end),
        charts.summary_chart(points[-14:], ROLL_UPS, SCALES,
                             start=end - timedelta(days=13), end=end, language="es"),
        # A program's own check-in: one roll-up, and one scale or none.
        charts.summary_chart(points, ROLL_UPS[1:], SCALES[:1], start=START, end=end),
        charts.summary_chart(points, ROLL_UPS[1:], (), start=START, end=end),
        charts.confidence_coping_chart(points, SCALES[2:], start=START, end=end),
    ]
    for png in images:
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        assert charts.png_size(png) == (charts.WIDTH, charts.HEIGHT) == (1200, 600)
        with Image.open(BytesIO(png)) as image:
            image.verify()  # the whole file decodes, not just its header
        with Image.open(BytesIO(png)) as image:
            assert image.size == (1200, 600) and image.format == "PNG"
    with pytest.raises(ValueError):
        charts.png_size(b"GIF89a" + bytes(30))


def test_the_pixels_a_report_embeds_are_the_charts_own() -> None:
    """The PDF takes a chart's drawn pixels rather than its PNG: the very same picture."""
    points = _points(30)
    days = {p.day: ("submitted", "missed", "open", "none")[n % 4] for n, p in enumerate(points)}
    for figure, png in (
            (charts.domains_figure(points, {"hostility": "Hostility"}, start=START, end=END),
             charts.domains_chart(points, {"hostility": "Hostility"}, start=START, end=END)),
            (charts.adherence_figure(days, start=START, end=END),
             charts.adherence_calendar(days, start=START, end=END))):
        drawn = charts.pixels(figure)
        with Image.open(BytesIO(png)) as image:
            assert drawn.mode == "RGB" and drawn.size == image.size == (1200, 600)
            assert drawn.tobytes() == image.convert("RGB").tobytes()


async def _seeded(store: Store, clock: FakeClock, q: Questionnaire, rules: RiskRules,
                  days: int = 45) -> tuple[ReviewService, Clinician, Client, Seeded]:
    lane = await make_clinician(store, clock, telegram_id=7201, name="Dr Lane")
    client = await enrolled_client(store, clock, lane, 8201, timezone="Europe/Madrid")
    clock.advance(days=days)
    seeded = await seed_history(store, q, rules, client, end=client_today(client, clock.now()),
                                days=days)
    return ReviewService(clock=clock, questionnaire=q, rules=rules), lane, client, seeded


async def test_the_report_holds_the_charts_and_every_entry_of_the_period(
        store: Store, clock: FakeClock, q: Questionnaire, rules: RiskRules) -> None:
    review, lane, client, seeded = await _seeded(store, clock, q, rules)
    async with store.transaction() as uow:
        moment = await uow.plans.add_moment(client.id, now=clock.now())
        opened = await uow.plans.moment(moment)
        assert opened is not None
        await uow.plans.update_moment(opened, told=True, outcome="better")
    async with store.transaction() as uow:
        data = await review.report(uow, lane, client.code, 30)
    pdf = await review.render_report(data)
    reader, text = _pdf_text(pdf)
    flat = " ".join(text.split())

    # Header.
    end = client_today(client, clock.now())
    start = end - timedelta(days=29)
    assert f"Session report: client {client.code}" in flat
    assert f"Period: {start:%Y-%m-%d} – {end:%Y-%m-%d} (30 days)" in flat
    assert "Clinician: Dr Lane" in flat and f"Generated: {clock.now():%Y-%m-%d %H:%M}" in flat
    assert DISCLAIMER in flat and "ACUTE score" not in flat

    # Charts: five images of the charts' own size.
    images = [image for page in reader.pages for image in page.images]
    assert len(images) == 5
    assert all(image.image is not None and image.image.size == (1200, 600) for image in images)

    # Entries of the period, and none from before it.
    in_period = {d: s for d, s in seeded.situations.items() if d >= start}
    assert in_period
    for day in in_period:
        assert f"Situation on {day:%d %b}" in flat
    assert "Call my sponsor" in flat and "Worked:" in flat
    journal = [(at, t) for at, t in seeded.journal if at.date() >= start + timedelta(days=1)]
    for _at, entry in journal:
        assert entry.split(":")[0] in flat  # "Journal of 12 Feb"
    assert "Ünïcode ✓ stays readable" in flat
    for day, note in seeded.notes.items():
        assert (note.split(":")[0] in flat) == (day >= start)
    for day in seeded.situations:
        if day < start:
            assert f"Situation on {day:%d %b}" not in flat
    # The current plan, its version, its history, and the help-now moments.
    for item in (*PLAN.warning_signs, *PLAN.coping_steps, *PLAN.support_people,
                 *PLAN.texts("situations"), *PLAN.texts("at_risk")):
        assert item in flat
    assert "Build-up: Staying up late online; Feeling lonely" in flat  # signs by stage
    assert "Plan history" in flat and "Version 1 of" in flat
    assert "Help-now moments" in flat and "clinician told · Better" in flat
    async with store.unit_of_work() as uow:
        actions = [(e.actor, e.action) for e in
                   await audit.events(uow.session, uow.vault, client_id=client.id)]
    assert (f"clinician:{lane.id}", "client.report") in actions


async def test_a_report_with_no_entries_and_unusual_characters_still_builds(
        store: Store, clock: FakeClock, q: Questionnaire, rules: RiskRules) -> None:
    lane = await make_clinician(store, clock, telegram_id=7202, name="Dra. Núñez 🙂")
    client = await enrolled_client(store, clock, lane, 8202, timezone="America/Bogota")
    review = ReviewService(clock=clock, questionnaire=q, rules=rules)
    async with store.transaction() as uow:
        empty = await review.report(uow, lane, client.code, 1)
    _reader, text = _pdf_text(build_report(empty))
    assert "No journal entries in this period." in text and "The plan is empty." in text

    async with store.transaction() as uow:
        await uow.journal.write(client_id=client.id, now=clock.now(),
                                text="José dijo: «ñandú» — 汉字 \U0001F642\tend\r\nline two")
    async with store.transaction() as uow:
        data = await review.report(uow, lane, client.code, 7)
    _reader, text = _pdf_text(build_report(data))
    assert "José dijo: «ñandú» —" in text and "line two" in text
    assert "Dra. Núñez" in text


async def test_the_command_line_writes_the_same_report_privately_and_audits_it(
        database: Database, ring: MasterKeyring, store: Store, clock: FakeClock,
        q: Questionnaire, rules: RiskRules, tmp_path: Path) -> None:
    lane = await make_clinician(store, clock, telegram_id=7203, name="Dr Lane")
    # The command line runs on the real clock: seed up to today.
    client = await enrolled_client(store, FakeClock(datetime.now(UTC) - timedelta(days=20)),
                                   lane, 8203, timezone="UTC")
    seeded = await seed_history(store, q, rules, client, end=datetime.now(UTC).date(), days=20)
    key_file = tmp_path / "steadfast.key"
    ring.create_file(key_file)
    env = {"STEADFAST_DATABASE_URL": database.url, "STEADFAST_MASTER_KEY_FILE": str(key_file)}
    target = tmp_path / "report.pdf"
    made = cli(["report", client.code.lower(), "--days", "30", "-o", str(target)], env, tmp_path)
    assert made.returncode == 0, made.stderr
    assert f"30-day report of client {client.code}" in made.stdout
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    reader, text = _pdf_text(target.read_bytes())
    assert client.code in text and "Dr Lane" in text
    assert sum(len(page.images) for page in reader.pages) == 5
    assert seeded.journal[0][1].split(":")[0] in text
    wrong = cli(["report", client.code, "--days", "0"], env, tmp_path)
    assert wrong.returncode == 2
    missing = cli(["report", "ZZZ-ZZ"], env, tmp_path)
    assert missing.returncode == 1 and "no client with code ZZZ-ZZ" in missing.stderr
    async with store.unit_of_work() as uow:
        events = await audit.events(uow.session, uow.vault, client_id=client.id)
    assert [(e.actor, e.action) for e in events] == [("admin:cli", "client.report")]


def test_report_and_reassign_commands_do_not_import_aiogram_or_matplotlib_on_start(
        tmp_path: Path) -> None:
    probe = ("import sys; from cli import main\n"
             "for args in (['report', '--help'], ['client', 'reassign', '--help']):\n"
             "    try:\n        main(args)\n    except SystemExit:\n        pass\n"
             "print(sorted(m for m in ('aiogram', 'matplotlib', 'fpdf') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         cwd=tmp_path, timeout=60,
                         env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])})
    assert out.stdout.strip().endswith("[]"), out.stdout + out.stderr
    assert "--days" in out.stdout and "--to" in out.stdout


@pytest.mark.parametrize("language", ["en", "es"])
async def test_every_time_in_the_report_names_the_zone_staff_read_it_in(
        store: Store, clock: FakeClock, q: Questionnaire, rules: RiskRules,
        language: str) -> None:
    _review, lane, client, _seeded_history = await _seeded(store, clock, q, rules)
    review = ReviewService(clock=clock, questionnaire=q, rules=rules, staff_language=language,
                           display_timezone="America/New_York")
    async with store.transaction() as uow:
        data = await review.report(uow, lane, client.code, 30)
    _reader, text = _pdf_text(await review.render_report(data))
    assert data.alert_rows and data.journal  # the report does list times
    assert times_without_zone(text) == []
    assert " EST" in text or " EDT" in text  # the program's zone, not the client's (Madrid)


def test_the_worker_freezes_what_a_render_imported_once(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A render that imported matplotlib or fpdf2 leaves them frozen out of the garbage
    collector's full passes; a render that imports nothing new freezes nothing more."""
    from journal.review import renderer

    calls: list[str] = []
    monkeypatch.setattr(renderer.gc, "collect", lambda: calls.append("collect"))
    monkeypatch.setattr(renderer.gc, "freeze", lambda: calls.append("freeze"))
    monkeypatch.setattr(renderer, "_modules_frozen", 0)  # as in a fresh worker
    assert renderer._call(sum, [1, 2]) == 3
    assert calls == ["collect", "freeze"]
    assert renderer._call(sum, [3], start=1) == 4
    assert calls == ["collect", "freeze"]
