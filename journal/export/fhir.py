"""FHIR R4 resources as Bulk-Data-style NDJSON, one file per resource type.

- `Questionnaire`: the check-in, its items, options and conditions, every text in the
  questionnaire's first language with the others as translation extensions.
- `QuestionnaireResponse`: each submitted check-in.
- `Observation`: each roll-up indicator of each submitted day.
- `Flag`: each alert (active while open), its level and the rules' reason codes.
- `AuditEvent`: each view or change of the client's record in the audit trail.
- `Patient`: who the others are about.

For one client (`client_code`) the export is identified: the client code is the
patient's identifier, dates are real, and what the client wrote is there (their text
answers, their plan's steps by name), as a clinic's record needs. For the program it is
de-identified like the research export: a random id per patient and per staff member for
this export, every date moved by a random number of days of the patient's own, and no
free text (text answers and plan steps are left out). The audit event of the export
names who made it and for whom."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from journal.alerts.rules import RiskRules
from journal.checkin.flow import answers_of
from journal.checkin.questionnaire import (
    SKIPPED,
    Answer,
    Condition,
    Item,
    Localized,
    Questionnaire,
    plan_option_key,
)
from journal.clock import Clock
from journal.errors import NotFound
from journal.export.files import AtomicDirectory, Ndjson, Progress, no_progress
from journal.export.research import SHIFT_DAYS, SLICE, supervisor
from journal.people import actor_of, visible_client
from storage.records import Clinician
from storage.repositories.exports import ExportClient
from storage.uow import Store

TRANSLATION: Final = "http://hl7.org/fhir/StructureDefinition/translation"
BASE: Final = "urn:steadfast"
KINDS: Final = {"choice": "choice", "multi": "choice", "yesno": "boolean",
                "scale": "integer", "text": "text"}
FLAG_CATEGORY: Final = {"system": "http://terminology.hl7.org/CodeSystem/flag-category",
                        "code": "clinical", "display": "Clinical"}
SURVEY: Final = {"coding": [{"system":
                             "http://terminology.hl7.org/CodeSystem/observation-category",
                             "code": "survey", "display": "Survey"}]}
DICOM: Final = "http://dicom.nema.org/resources/ontology/DCM"
RESOURCE_TYPES: Final = ("Patient", "Questionnaire", "QuestionnaireResponse", "Observation",
                         "Flag", "AuditEvent")


def _translated(text: Localized, languages: Sequence[str]) -> tuple[str, dict[str, Any] | None]:
    """The text in the first language, and its translations as an element extension."""
    first = text.get(languages[0])
    others = [{"url": TRANSLATION, "extension": [
        {"url": "lang", "valueCode": lang}, {"url": "content", "valueString": text.get(lang)}]}
        for lang in languages[1:] if text.get(lang)]
    return first, ({"extension": others} if others else None)


def canonical(q: Questionnaire) -> str:
    return f"{BASE}:questionnaire:{q.id}"


def _option_system(q: Questionnaire, item: Item) -> str:
    return f"{canonical(q)}:{item.id}"


def questionnaire_resource(q: Questionnaire) -> dict[str, Any]:
    """The check-in as a FHIR Questionnaire, written from the questionnaire data."""
    languages = list(q.languages)
    title, title_ext = _translated(q.title, languages)
    resource: dict[str, Any] = {
        "resourceType": "Questionnaire", "id": q.id, "url": canonical(q),
        "version": str(q.version), "name": q.id.replace("-", "_"), "title": title,
        "status": "active", "language": languages[0], "subjectType": ["Patient"],
        "item": [_item(q, item, languages) for item in q.items]}
    if title_ext:
        resource["_title"] = title_ext
    return resource


def _item(q: Questionnaire, item: Item, languages: list[str]) -> dict[str, Any]:
    text, text_ext = _translated(item.text, languages)
    out: dict[str, Any] = {"linkId": item.id, "text": text, "type": KINDS[item.kind],
                           "required": not item.skippable}
    if text_ext:
        out["_text"] = text_ext
    if item.kind == "multi":
        out["repeats"] = True
    if item.kind == "text" and item.max_length:
        out["maxLength"] = item.max_length
    if item.options:
        options = []
        for option in item.options:
            display, display_ext = _translated(option.label, languages)
            coding: dict[str, Any] = {"system": _option_system(q, item), "code": option.key,
                                      "display": display}
            if display_ext:
                coding["_display"] = display_ext
            options.append({"valueCoding": coding})
        out["answerOption"] = options
    if item.kind == "scale":
        out["extension"] = [
            {"url": "http://hl7.org/fhir/StructureDefinition/minValue",
             "valueInteger": item.min},
            {"url": "http://hl7.org/fhir/StructureDefinition/maxValue",
             "valueInteger": item.max}]
    if item.when is not None:
        out.update(_enable_when(q, item.when))
    return out


def _enable_when(q: Questionnaire, when: Condition) -> dict[str, Any]:
    asked = q.item(when.item)
    if when.not_empty:
        return {"enableWhen": [{"question": when.item, "operator": "exists",
                                "answerBoolean": True}]}
    if when.one_of:
        conditions = [{"question": when.item, "operator": "=", "answerCoding": {
            "system": _option_system(q, asked), "code": key}} for key in when.one_of]
        out: dict[str, Any] = {"enableWhen": conditions}
        if len(conditions) > 1:
            out["enableBehavior"] = "any"
        return out
    value = when.equals
    if isinstance(value, bool):
        answer: dict[str, Any] = {"answerBoolean": value}
    elif isinstance(value, int):
        answer = {"answerInteger": value}
    else:
        answer = {"answerCoding": {"system": _option_system(q, asked), "code": str(value)}}
    return {"enableWhen": [{"question": when.item, "operator": "=", **answer}]}


def _answers(q: Questionnaire, item: Item, value: Answer, *, identified: bool,
             plan_steps: Mapping[str, str]) -> list[dict[str, Any]]:
    if value is SKIPPED:
        return []
    if item.kind == "yesno" and isinstance(value, bool):
        return [{"valueBoolean": value}]
    if item.kind == "scale" and isinstance(value, int):
        return [{"valueInteger": value}]
    if item.kind == "text" and isinstance(value, str):
        return [{"valueString": value}] if identified and value.strip() else []
    keys = value if isinstance(value, tuple) else (value,) if isinstance(value, str) else ()
    out = []
    for key in keys:
        option = item.option(key)
        if option is not None:
            out.append({"valueCoding": {"system": _option_system(q, item), "code": key,
                                        "display": option.label.get(q.languages[0])}})
        elif identified:  # a step of the client's own plan, by its words
            step = plan_steps.get(key)
            out.append({"valueCoding": {"system": f"{_option_system(q, item)}:plan",
                                        "code": key,
                                        "display": step or q.phrases.get("removed_step",
                                                                         q.languages[0])}})
    return out


@dataclass(frozen=True)
class FhirReceipt:
    path: Path
    counts: dict[str, int]
    identified: bool


class Pseudonyms:
    """How the export names people and moves dates: identified, or de-identified with a
    random id per person and a random shift per patient, drawn for this export."""

    def __init__(self, identified: bool) -> None:
        self.identified = identified
        self._ids: dict[str, str] = {}
        self._shifts: dict[str, timedelta] = {}

    def patient(self, client: ExportClient) -> str:
        if self.identified:
            return client.id
        return self._ids.setdefault(client.id, uuid.uuid4().hex)

    def staff(self, actor: str) -> str:
        if self.identified:
            return actor
        return self._ids.setdefault(actor, "staff-" + secrets.token_hex(4))

    def resource_id(self, row_id: str) -> str:
        return row_id if self.identified else uuid.uuid4().hex

    def when(self, client_id: str, at: datetime) -> str:
        return (at + self._shift(client_id)).astimezone(UTC).isoformat(timespec="seconds")

    def day(self, client_id: str, day: date) -> str:
        return (day + self._shift(client_id)).isoformat()

    def _shift(self, client_id: str) -> timedelta:
        if self.identified:
            return timedelta(0)
        if client_id not in self._shifts:
            self._shifts[client_id] = timedelta(
                days=secrets.randbelow(2 * SHIFT_DAYS + 1) - SHIFT_DAYS)
        return self._shifts[client_id]


class FhirExport:
    def __init__(self, *, store: Store, clock: Clock, questionnaire: Questionnaire,
                 rules: RiskRules) -> None:
        self._store = store
        self._clock = clock
        self._q = questionnaire
        self._rules = rules

    async def run(self, by_telegram_id: int, out: Path, *, client_code: str | None = None,
                  progress: Progress = no_progress) -> FhirReceipt:
        """One client's record, identified, for their clinician or a supervisor; or the
        program, de-identified, for a supervisor."""
        async with self._store.unit_of_work() as uow:
            if client_code is None:
                by = await supervisor(uow, by_telegram_id, "the program's FHIR export")
                clients = await uow.exports.clients()
            else:
                by = await self._staff(uow, by_telegram_id)
                found = await visible_client(uow, by, client_code)
                clients = await uow.exports.clients(code=found.code,
                                                    statuses=("active", "paused",
                                                              "discharged"))
                if not clients:
                    raise NotFound("no such client for this clinician",
                                   key="client.not_found")
        names = Pseudonyms(identified=client_code is not None)
        q = self._q
        with AtomicDirectory(out) as directory:
            files = {t: Ndjson(directory.path, t, progress) for t in RESOURCE_TYPES}
            files["Questionnaire"].write(questionnaire_resource(q))
            by_id = {c.id: c for c in clients}
            for client in clients:
                files["Patient"].write(self._patient(client, names))
            for start in range(0, len(clients), SLICE):
                chunk = clients[start:start + SLICE]
                ids = [c.id for c in chunk]
                async with self._store.unit_of_work() as uow:
                    plans = ({c.id: await uow.plans.get(c.id) for c in chunk}
                             if names.identified else {})
                    async for row in uow.exports.checkins(ids, date.min, date.max):
                        if row.status != "submitted" or row.state is None:
                            continue
                        client = by_id[row.client_id]
                        steps = ({plan_option_key(s): s for s in plans[client.id].coping_steps}
                                 if client.id in plans else {})
                        files["QuestionnaireResponse"].write(self._response(
                            client, row.id, row.state, row.submitted_at, names, steps))
                        scores = row.scores if isinstance(row.scores, dict) else {}
                        for roll_up in q.roll_ups:
                            value = scores.get(roll_up.id)
                            if isinstance(value, int) and not isinstance(value, bool):
                                files["Observation"].write(self._observation(
                                    client, row.id, row.local_date, roll_up.id,
                                    roll_up.label, value, names))
                    async for alert in uow.exports.alerts(
                            ids, datetime.min.replace(tzinfo=UTC),
                            datetime.max.replace(tzinfo=UTC)):
                        files["Flag"].write(self._flag(by_id[alert.client_id], alert, names))
                    for client in chunk:
                        async for event in uow.exports.audit_events(client.id):
                            files["AuditEvent"].write(self._audit(client, event, names))
            for file in files.values():
                file.close()
            counts = {t: f.count for t, f in files.items()}
            directory.write_json("manifest.json", {
                "transactionTime": self._clock.now().isoformat(timespec="seconds"),
                "request": "steadfast export fhir" + (" --client" if client_code else ""),
                "requiresAccessToken": False, "fhirVersion": "4.0.1",
                "identified": names.identified,
                "output": [{"type": t, "url": files[t].name, "count": counts[t]}
                           for t in RESOURCE_TYPES],
                "error": []})
            async with self._store.transaction() as uow:
                await uow.audit(
                    at=self._clock.now(), actor=actor_of(by), action="export.fhir",
                    client_id=clients[0].id if client_code is not None else None,
                    detail=("identified, client " + clients[0].code if client_code
                            else f"de-identified, patients {len(clients)}")
                    + "; " + ", ".join(f"{t} {n}" for t, n in counts.items()))
            path = directory.commit()
        return FhirReceipt(path, counts, names.identified)

    async def _staff(self, uow: Any, telegram_id: int) -> Clinician:
        person: Clinician | None = await uow.clinicians.by_telegram_id(telegram_id)
        if person is None:
            raise NotFound(f"no active staff member has Telegram id {telegram_id}")
        return person

    def _subject(self, client: ExportClient, names: Pseudonyms) -> dict[str, str]:
        return {"reference": f"Patient/{names.patient(client)}"}

    def _patient(self, client: ExportClient, names: Pseudonyms) -> dict[str, Any]:
        resource: dict[str, Any] = {"resourceType": "Patient", "id": names.patient(client),
                                    "active": client.status in ("active", "paused")}
        if names.identified:
            resource["identifier"] = [{"system": f"{BASE}:client-code", "value": client.code}]
            resource["communication"] = [{"language": {"coding": [{
                "system": "urn:ietf:bcp:47", "code": client.language}]}}]
        return resource

    def _response(self, client: ExportClient, row_id: str, state: Any,
                  submitted_at: datetime | None, names: Pseudonyms,
                  steps: Mapping[str, str]) -> dict[str, Any]:
        q = self._q
        answers = answers_of(state)
        items = []
        for item in q.items:
            value = answers.get(item.id)
            if value is None:
                continue
            given = _answers(q, item, value, identified=names.identified, plan_steps=steps)
            if given:
                items.append({"linkId": item.id, "text": item.text.get(q.languages[0]),
                              "answer": given})
        resource: dict[str, Any] = {
            "resourceType": "QuestionnaireResponse", "id": names.resource_id(row_id),
            "questionnaire": f"{canonical(q)}|{q.version}", "status": "completed",
            "subject": self._subject(client, names), "item": items}
        if submitted_at is not None:
            resource["authored"] = names.when(client.id, submitted_at)
        return resource

    def _observation(self, client: ExportClient, row_id: str, day: date, roll_up: str,
                     label: Localized, value: int, names: Pseudonyms) -> dict[str, Any]:
        return {"resourceType": "Observation",
                "id": names.resource_id(f"{row_id}-{roll_up}".replace("_", "-")),
                "status": "final", "category": [SURVEY],
                "code": {"coding": [{"system": f"{BASE}:indicator", "code": roll_up,
                                     "display": label.get(self._q.languages[0])}]},
                "subject": self._subject(client, names),
                "effectiveDateTime": names.day(client.id, day), "valueInteger": value}

    def _flag(self, client: ExportClient, alert: Any, names: Pseudonyms) -> dict[str, Any]:
        detail = alert.detail if isinstance(alert.detail, dict) else {}
        reasons = [{"system": f"{BASE}:alert-reason", "code": str(code),
                    "display": self._rules.reason_label(str(code))}
                   for code in detail.get("reasons", ()) if str(code) in self._rules.reasons]
        period: dict[str, str] = {"start": names.when(client.id, alert.created_at)}
        if alert.acknowledged_at is not None:
            period["end"] = names.when(client.id, alert.acknowledged_at)
        return {"resourceType": "Flag", "id": names.resource_id(alert.id),
                "status": "active" if alert.status == "open" else "inactive",
                "category": [{"coding": [FLAG_CATEGORY]}],
                "code": {"coding": [{"system": f"{BASE}:alert-level", "code": alert.level,
                                     "display": alert.level}, *reasons],
                         "text": f"{alert.level} alert"},
                "subject": self._subject(client, names), "period": period}

    def _audit(self, client: ExportClient, event: Any, names: Pseudonyms) -> dict[str, Any]:
        changed = not event.action.endswith(("view", "views", ".read", ".show"))
        return {"resourceType": "AuditEvent",
                "id": names.resource_id(f"audit-{event.seq}"),
                "type": {"system": DICOM, "code": "110110", "display": "Patient Record"},
                "subtype": [{"system": f"{BASE}:audit-action", "code": event.action}],
                "action": "U" if changed else "R",
                "recorded": names.when(client.id, event.at),
                "outcome": "0",
                "agent": [{"who": {"identifier": {"system": f"{BASE}:actor",
                                                  "value": names.staff(event.actor)}},
                           "requestor": True}],
                "source": {"observer": {"display": "Steadfast"}},
                "entity": [{"what": self._subject(client, names)}]}


__all__ = ["RESOURCE_TYPES", "FhirExport", "FhirReceipt", "questionnaire_resource"]
