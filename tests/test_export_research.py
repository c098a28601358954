"""`steadfast export research`, run as a real process on a seeded program: de-identified
on every cell, a codebook naming every column, for supervisors only, audited once,
written whole or not at all."""

from __future__ import annotations

import asyncio
import csv
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from journal.checkin.questionnaire_file import load_questionnaire
from journal.clock import FakeClock
from storage.crypto import MasterKeyring
from storage.records import AuditEvent
from storage.uow import Store
from tests.conftest import Database
from tests.program_seed import (
    CLINICIAN_ID,
    FIRST_CLIENT_ID,
    SUPERVISOR_ID,
    Program,
    seed_program,
)
from tests.test_audit_and_cli import cli

A_DATE = re.compile(r"\d{4}-\d{1,2}-\d{1,2}|\d{1,2}/\d{1,2}/\d{2,4}|\b20\d\d\b")
MONTHS = re.compile(r"\b(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\b")


@pytest.fixture
def seeded(sqlite_database: Database, ring: MasterKeyring, clock: FakeClock,
           tmp_path: Path) -> Iterator[tuple[dict[str, str], Program, Store]]:
    key_file = tmp_path / "steadfast.key"
    ring.create_file(key_file)
    env = {"STEADFAST_DATABASE_URL": sqlite_database.url,
           "STEADFAST_MASTER_KEY_FILE": str(key_file)}
    loop = asyncio.new_event_loop()
    store = Store.open(sqlite_database.url, ring)
    program = loop.run_until_complete(seed_program(store, clock))
    try:
        yield env, program, store
    finally:
        loop.run_until_complete(store.close())
        loop.close()


def _events(store: Store, action: str) -> list[AuditEvent]:
    async def read() -> list[AuditEvent]:
        async with store.unit_of_work() as uow:
            return [e for e in await uow.audit_events(limit=10_000) if e.action == action]
    return asyncio.run(read())


def _tables(directory: Path) -> dict[str, list[list[str]]]:
    tables = {}
    for path in sorted(directory.glob("*.csv")):
        with open(path, encoding="utf-8", newline="") as handle:
            tables[path.stem] = list(csv.reader(handle))
    return tables


def _export(env: dict[str, str], cwd: Path, out: str, *extra: str, by: int = SUPERVISOR_ID
            ) -> tuple[int, str, str]:
    done = cli(["export", "research", "--from", "2026-01-01", "--to", "2026-03-01",
                "--out", out, "--by", str(by), *extra], env, cwd)
    return done.returncode, done.stdout, done.stderr


def test_the_research_export_is_de_identified_on_every_cell(
        seeded: tuple[dict[str, str], Program, Store], tmp_path: Path) -> None:
    env, program, store = seeded
    code, out, err = _export(env, tmp_path, "research")
    assert code == 0, err
    assert "Traceback" not in err and "rows/s" in err  # progress on standard error
    directory = tmp_path / "research"
    tables = _tables(directory)
    assert {"participants", "checkins", "alerts", "summary"} <= set(tables)
    assert "journal" not in tables and "plans" not in tables
    # The seeded history is there: every client, their days, their alerts.
    assert len(tables["participants"]) - 1 == len(program.clients)
    assert len(tables["checkins"]) - 1 >= 30 * len(program.clients)
    assert len(tables["alerts"]) - 1 > 0

    codes = {c.code for c in program.clients}
    ids = {str(FIRST_CLIENT_ID + n) for n in range(len(program.clients))}
    ids |= {str(SUPERVISOR_ID), str(CLINICIAN_ID)}
    names = {program.supervisor.name, program.clinician.name, "Quintana", "Lane"}
    texts = program.free_texts
    cells = 0
    files = [*directory.glob("*.csv"), directory / "manifest.json"]
    for path in files:
        text = path.read_text(encoding="utf-8")
        rows = list(csv.reader(text.splitlines())) if path.suffix == ".csv" else [[text]]
        for row in rows:
            for cell in row:
                cells += 1
                assert not any(c in cell for c in codes), (path.name, cell)
                assert not any(i in cell for i in ids), (path.name, cell)
                assert not any(n in cell for n in names), (path.name, cell)
                assert not any(t in cell for t in texts), (path.name, cell)
                if path.name != "codebook.csv":  # the codebook holds the questions' words
                    assert not A_DATE.search(cell), (path.name, cell)
                    assert not MONTHS.search(cell), (path.name, cell)
    assert cells > 1000
    # Days since enrolment (the seeded days begin a few days after it).
    days = {int(row[1]) for row in tables["checkins"][1:]}
    assert min(days) >= 0 and max(days) > 30

    # The codebook lists every column of every table, and every item's text in English
    # and Spanish with its values.
    codebook = tables["codebook"]
    header, listed = codebook[0], {(r[0], r[1]) for r in codebook[1:]}
    for name, rows in tables.items():
        if name == "codebook":
            continue
        assert {(name, column) for column in rows[0]} <= listed, name
    assert len(listed) == sum(len(rows[0]) for name, rows in tables.items()
                              if name != "codebook")
    q = load_questionnaire()
    by_column = {(r[0], r[1]): dict(zip(header, r, strict=True)) for r in codebook[1:]}
    for item in q.items:
        if item.kind == "text":
            assert ("checkins", item.id) not in listed  # no free text
            continue
        row = by_column[("checkins", item.id)]
        assert row["text_en"] == item.text.get("en") and row["text_es"] == item.text.get("es")
        for option in item.options:
            assert f"{option.key}={option.label.get('es')}" in row["values_es"]
    manifest = json.loads((directory / "manifest.json").read_text())
    assert manifest["questionnaire"] == {"id": q.id, "version": q.version,
                                         "languages": ["en", "es"]}
    assert manifest["rules"]["version"] == 1 and manifest["complete"] is True

    # Small cells: counts under the threshold are left out of the summary.
    for measure, group, count, suppressed in tables["summary"][1:]:
        assert (count == "") == (suppressed == "1"), (measure, group)
        if count:
            assert int(count) >= 5

    # One audit event, naming the supervisor and what was written, no free text.
    events = _events(store, "export.research")
    assert len(events) == 1
    assert events[0].actor == f"clinician:{program.supervisor.id}"
    assert "free text no" in events[0].detail

    # A second export draws new participant ids: the two cannot be joined by them.
    code, _, err = _export(env, tmp_path, "again")
    assert code == 0, err
    first = {r[0] for r in tables["participants"][1:]}
    second = {r[0] for r in _tables(tmp_path / "again")["participants"][1:]}
    assert len(second) == len(first) and not first & second
    assert len(_events(store, "export.research")) == 2


def test_free_text_only_for_a_supervisor_with_a_reason_and_audited(
        seeded: tuple[dict[str, str], Program, Store], tmp_path: Path) -> None:
    env, program, store = seeded
    code, _, err = _export(env, tmp_path, "no-reason", "--free-text")
    assert code == 1 and "--reason" in err and "Traceback" not in err
    assert not (tmp_path / "no-reason").exists()
    code, _, err = _export(env, tmp_path, "with-text", "--free-text", "--reason",
                           "relapse narratives study, ethics ref 12")
    assert code == 0, err
    tables = _tables(tmp_path / "with-text")
    journal = "\n".join(r[2] for r in tables["journal"][1:])
    assert all(canary in journal for canary in program.canaries.values())
    assert "journal_note" in tables["checkins"][0]
    events = _events(store, "export.research")
    assert len(events) == 1
    assert "reason: relapse narratives study, ethics ref 12" in events[0].detail


@pytest.mark.parametrize("who", [CLINICIAN_ID, 123_456_789])
def test_a_clinician_or_a_stranger_cannot_run_the_research_export(
        seeded: tuple[dict[str, str], Program, Store], tmp_path: Path, who: int) -> None:
    env, _program, store = seeded
    code, out, err = _export(env, tmp_path, "refused", by=who)
    assert code == 1, out + err
    assert ("only a supervisor" in err) if who == CLINICIAN_ID else ("no active staff" in err)
    assert "Traceback" not in err
    assert not (tmp_path / "refused").exists()
    assert not list(tmp_path.glob(".refused.partial-*"))
    assert _events(store, "export.research") == []


def test_an_export_never_writes_over_another_nor_leaves_half_a_directory(
        seeded: tuple[dict[str, str], Program, Store], tmp_path: Path) -> None:
    env, _program, store = seeded
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "mine.txt").write_text("keep")
    code, _, err = _export(env, tmp_path, "taken")
    assert code == 1 and "exists already" in err
    assert (tmp_path / "taken" / "mine.txt").read_text() == "keep"
    bad = cli(["export", "research", "--from", "2026-03-01", "--to", "2026-01-01", "--out",
               "x", "--by", str(SUPERVISOR_ID)], env, tmp_path)
    assert bad.returncode == 1 and "before" in bad.stderr
    worse = cli(["export", "research", "--from", "01/03/2026", "--to", "2026-01-01", "--out",
                 "x", "--by", str(SUPERVISOR_ID)], env, tmp_path)
    assert worse.returncode == 2 and "not a date" in worse.stderr
    assert not list(tmp_path.glob(".*partial*")) and not (tmp_path / "x").exists()
    assert _events(store, "export.research") == []


async def test_shifted_dates_move_each_participant_by_their_own_days(
        store: Store, clock: FakeClock, tmp_path: Path) -> None:
    from datetime import date

    from journal.alerts.rules_file import load_rules
    from journal.export.research import ResearchExport

    q = load_questionnaire()
    program = await seed_program(store, clock, clients=2)
    await ResearchExport(store=store, clock=clock, questionnaire=q,
                         rules=load_rules(questionnaire=q), date_mode="shift", min_cell=3
                         ).run(SUPERVISOR_ID, tmp_path / "shifted", since=date(2026, 1, 1),
                               until=date(2026, 3, 1))
    tables = _tables(tmp_path / "shifted")
    first_real = min(program.seeded[0].days)  # both clients' seeded days are the same
    by_participant: dict[str, list[date]] = {}
    for row in tables["checkins"][1:]:
        by_participant.setdefault(row[0], []).append(date.fromisoformat(row[1]))
    assert len(by_participant) == 2
    shifts = set()
    for days in by_participant.values():
        span = (max(days) - min(days)).days
        assert span == len(days) - 1  # whole days, in order, moved together
        shifts.add((min(days) - first_real).days)
    assert all(abs(s) <= 365 for s in shifts)
    manifest = json.loads((tmp_path / "shifted" / "manifest.json").read_text())
    assert manifest["dates"] == "shift" and manifest["small_cell_threshold"] == 3
    for _measure, _group, count, suppressed in tables["summary"][1:]:
        assert suppressed == "1" or int(count) >= 3
