"""`steadfast export fhir`: every resource validates against the FHIR models (R4B, whose
resources used here are R4's), one client's record identified for their clinician, the
program de-identified for a supervisor, audited once each."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B import get_fhir_model_class

from journal.alerts.rules_file import load_rules
from journal.checkin.questionnaire_file import load_questionnaire
from journal.clock import FakeClock
from journal.export.fhir import FhirExport
from journal.export.research import ResearchExport
from storage.uow import Store
from tests import test_export_research as research
from tests.program_seed import (
    CLINICIAN_ID,
    FIRST_CLIENT_ID,
    SUPERVISOR_ID,
    Program,
    seed_program,
)
from tests.test_audit_and_cli import cli
from tests.test_export_research import _events

seeded = research.seeded  # the seeded program, run by its fixture


def _resources(directory: Path) -> dict[str, list[dict[str, Any]]]:
    manifest = json.loads((directory / "manifest.json").read_text())
    found: dict[str, list[dict[str, Any]]] = {}
    for output in manifest["output"]:
        lines = (directory / output["url"]).read_text(encoding="utf-8").splitlines()
        found[output["type"]] = [json.loads(line) for line in lines]
        assert len(found[output["type"]]) == output["count"]
    return found


def _validate(resources: dict[str, list[dict[str, Any]]]) -> int:
    checked = 0
    for kind, items in resources.items():
        model = get_fhir_model_class(kind)
        for item in items:
            assert item["resourceType"] == kind
            model.model_validate(item)  # raises on anything FHIR does not allow
            checked += 1
    return checked


def test_the_program_export_validates_and_is_de_identified(
        seeded: tuple[dict[str, str], Program, Store], tmp_path: Path) -> None:
    env, program, store = seeded
    done = cli(["export", "fhir", "--out", "fhir", "--by", str(SUPERVISOR_ID)], env, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "de-identified" in done.stdout
    found = _resources(tmp_path / "fhir")
    assert _validate(found) > 100
    submitted = sum(1 for s in program.seeded for v in s.days.values() if v == "submitted")
    assert len(found["Patient"]) == 3 and len(found["Questionnaire"]) == 1
    assert len(found["QuestionnaireResponse"]) == submitted
    assert len(found["Observation"]) == 2 * submitted  # two indicators a day
    assert len(found["Flag"]) == sum(s.alerts for s in program.seeded)
    assert found["AuditEvent"]
    questionnaire = found["Questionnaire"][0]
    first = questionnaire["item"][0]
    assert first["_text"]["extension"][0]["extension"][0] == {"url": "lang",
                                                               "valueCode": "es"}
    text = "\n".join((tmp_path / "fhir" / f).read_text(encoding="utf-8")
                     for f in ("Patient.ndjson", "QuestionnaireResponse.ndjson",
                               "Observation.ndjson", "Flag.ndjson", "AuditEvent.ndjson",
                               "manifest.json"))
    for client in program.clients:
        assert client.code not in text and client.id not in text
    for n in range(3):
        assert str(FIRST_CLIENT_ID + n) not in text
    for words in program.free_texts:
        assert words not in text, words
    assert f"clinician:{program.supervisor.id}" not in text
    events = _events(store, "export.fhir")
    assert len(events) == 1 and "de-identified" in events[0].detail
    assert events[0].client_id is None


def test_one_clients_record_is_identified_and_theirs_alone(
        seeded: tuple[dict[str, str], Program, Store], tmp_path: Path) -> None:
    env, program, store = seeded
    mine = program.clients[0]  # on the clinician's caseload
    done = cli(["export", "fhir", "--out", "record", "--client", mine.code, "--by",
                str(CLINICIAN_ID)], env, tmp_path)
    assert done.returncode == 0, done.stderr
    found = _resources(tmp_path / "record")
    _validate(found)
    assert found["Patient"][0]["identifier"][0]["value"] == mine.code
    text = "\n".join((tmp_path / "record" / f).read_text(encoding="utf-8")
                     for f in ("QuestionnaireResponse.ndjson", "Flag.ndjson"))
    seeded_days = program.seeded[0]
    assert any(note in text for note in seeded_days.notes.values())  # their own words
    assert "Call my sponsor" in text  # a plan step, by name
    for other in program.clients[1:]:
        assert other.code not in text and other.id not in text
    assert {r["subject"]["reference"] for r in found["QuestionnaireResponse"]} == {
        f"Patient/{mine.id}"}
    events = _events(store, "export.fhir")
    assert len(events) == 1 and events[0].client_id == mine.id
    assert events[0].actor == f"clinician:{program.clinician.id}"


@pytest.mark.parametrize("case", ["others-client", "program", "stranger"])
def test_who_may_not_export_finds_nothing(
        seeded: tuple[dict[str, str], Program, Store], tmp_path: Path, case: str) -> None:
    env, program, store = seeded
    args = {"others-client": ["--client", program.clients[1].code, "--by", str(CLINICIAN_ID)],
            "program": ["--by", str(CLINICIAN_ID)],
            "stranger": ["--client", program.clients[0].code, "--by", "123456789"]}[case]
    done = cli(["export", "fhir", "--out", "nope", *args], env, tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    said = {"others-client": "no such client", "program": "only a supervisor",
            "stranger": "no active staff"}[case]
    assert said in done.stderr
    assert not (tmp_path / "nope").exists() and not list(tmp_path.glob(".nope.partial-*"))
    assert _events(store, "export.fhir") == []


async def test_both_exports_read_the_same_on_postgresql_and_sqlite(
        store: Store, clock: FakeClock, tmp_path: Path) -> None:
    """In process, on both databases: the streamed reads, the open-ended periods and the
    audit events behave alike (the command line's tests run on SQLite)."""
    q = load_questionnaire()
    rules = load_rules(questionnaire=q)
    program = await seed_program(store, clock, clients=2)
    research = await ResearchExport(store=store, clock=clock, questionnaire=q,
                                    rules=rules).run(
        SUPERVISOR_ID, tmp_path / "research", since=date(2026, 1, 1), until=date(2026, 3, 1))
    submitted = sum(1 for s in program.seeded for v in s.days.values() if v == "submitted")
    assert research.rows["checkins"] == sum(len(s.days) for s in program.seeded)
    fhir = await FhirExport(store=store, clock=clock, questionnaire=q, rules=rules).run(
        SUPERVISOR_ID, tmp_path / "fhir")
    assert fhir.counts["QuestionnaireResponse"] == submitted
    assert fhir.counts["Flag"] == sum(s.alerts for s in program.seeded)
    _validate(_resources(tmp_path / "fhir"))
    async with store.unit_of_work() as uow:
        actions = [e.action for e in await uow.audit_events(limit=1000)]
    assert actions.count("export.research") == 1 and actions.count("export.fhir") == 1
