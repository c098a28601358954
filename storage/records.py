"""Domain dataclasses that repositories return; plaintext, never live ORM rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Final


class DayStatus(StrEnum):
    """A check-in day's status (`checkins.status`): equal to the stored string."""

    PROMPTED = "prompted"  # asked, not started
    IN_PROGRESS = "in_progress"
    SUBMITTED = "submitted"
    MISSED = "missed"


# A day still open to answers, and a day that is over (answered or not).
ASKED: Final = frozenset({DayStatus.PROMPTED, DayStatus.IN_PROGRESS})
OVER: Final = frozenset({DayStatus.SUBMITTED, DayStatus.MISSED})


class ClientStatus(StrEnum):
    """A client's status (`clients.status`): equal to the stored string."""

    INVITED = "invited"
    ACTIVE = "active"
    PAUSED = "paused"
    DISCHARGED = "discharged"


# A client still in the program (not discharged), and one the bot talks to.
IN_PROGRAM: Final = (ClientStatus.INVITED, ClientStatus.ACTIVE, ClientStatus.PAUSED)
ENROLLED: Final = (ClientStatus.ACTIVE, ClientStatus.PAUSED)


class OutboxStatus(StrEnum):
    """An outbox row's status (`outbox.status`): equal to the stored string."""

    QUEUED = "queued"
    RETRYING = "retrying"  # a transient failure; tried again at next_attempt_at
    SENT = "sent"
    DEAD = "dead"  # a permanent answer: the supervisors are told
    EXPIRED = "expired"  # no longer useful before it was sent
    CANCELLED = "cancelled"  # withdrawn by a later action


# A row Telegram has not taken yet.
WAITING: Final = (OutboxStatus.QUEUED, OutboxStatus.RETRYING)


class AlertStatus(StrEnum):
    """An alert's status (`alerts.status`): equal to the stored string."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class Clinician:
    id: int
    telegram_id: int
    name: str
    role: str  # clinician | supervisor | officer
    active: bool = True
    contact: str = ""
    has_email: bool = False  # the address itself stays sealed; see ClinicianRepository.email
    language: str | None = None  # their own; None: the program's DEFAULT_LANGUAGE
    timezone: str | None = None  # their own; None: the program's DEFAULT_TIMEZONE

    @property
    def is_supervisor(self) -> bool:
        return self.role == "supervisor"

    @property
    def is_officer(self) -> bool:
        """A supervising (probation or parole) officer: sees only what a client agreed to
        share with them (journal/sharing.py), never a caseload."""
        return self.role == "officer"


@dataclass(frozen=True, slots=True)
class SharingAgreement:
    id: str
    client_id: str
    officer_id: int
    categories: tuple[str, ...]
    alert_level: str
    status: str  # proposed | agreed | declined | withdrawn | ended
    proposed_by: int | None
    proposed_at: datetime
    answered_at: datetime | None = None
    ended_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ProgressReport:
    id: str
    agreement_id: str
    client_id: str
    month: date
    status: str  # draft | sent | dropped
    created_at: datetime
    note: str | None = None  # opened only when asked for
    sent_at: datetime | None = None
    sent_by: int | None = None
    acknowledged_at: datetime | None = None
    raised_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Client:
    id: str
    code: str
    telegram_id: int | None
    clinician_id: int
    status: str
    language: str
    timezone: str
    checkin_time: str
    checkin_days: str
    pause_reason: str | None
    unreachable: bool
    created_at: datetime
    enrolled_at: datetime | None = None
    discharged_at: datetime | None = None
    paused_at: datetime | None = None
    resumed_at: datetime | None = None
    window_start: str | None = None
    window_end: str | None = None
    erase_after: datetime | None = None
    phase: str | None = None  # an id of the phases file; None: the first phase
    phase_since: datetime | None = None


@dataclass(frozen=True, slots=True)
class Invite:
    id: str
    clinician_id: int
    client_id: str
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None


@dataclass(frozen=True, slots=True)
class Conversation:
    telegram_id: int
    state: str
    data: dict[str, Any]
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class CheckIn:
    id: str
    client_id: str
    local_date: date
    status: str
    questionnaire_id: str
    questionnaire_version: str
    item_ids: tuple[str, ...]
    state: dict[str, Any] | None
    scores: dict[str, Any] | None
    risk_level: str | None
    message_id: int | None
    prompted_at: datetime | None
    reminded_at: datetime | None
    started_at: datetime | None
    submitted_at: datetime | None


@dataclass(frozen=True, slots=True)
class CheckInDay:
    """A check-in's plaintext outline (no answers): for caseloads, adherence and paging."""

    id: str
    local_date: date
    status: str
    risk_level: str | None
    submitted_at: datetime | None


@dataclass(frozen=True, slots=True)
class JournalEntry:
    id: str
    client_id: str
    status: str
    text: str
    created_at: datetime
    saved_at: datetime | None


@dataclass(frozen=True, slots=True)
class PlanItem:
    """One item of a plan part: its text and the part's other fields (a sign's cycle stage,
    a situation's ways to avoid and get out of it, a support person's role...)."""

    text: str
    extra: tuple[tuple[str, str], ...] = ()

    def field(self, name: str) -> str:
        return next((value for key, value in self.extra if key == name), "")

    def as_dict(self) -> dict[str, str]:
        return {"text": self.text, **{k: v for k, v in self.extra if v}}

    @classmethod
    def of(cls, raw: Any) -> PlanItem:
        """From a stored item: a dict, or a bare text (the three-section plans of old)."""
        if isinstance(raw, str):
            return cls(raw)
        return cls(str(raw.get("text", "")),
                   tuple((str(k), str(v)) for k, v in raw.items() if k != "text" and v))


# The parts of old three-section plans, and where each went (migration 0012).
OLD_SECTIONS: Final = (("warning_signs", "cycle"), ("coping_steps", "coping"),
                       ("support_people", "support"))
PLAN_BODY_VERSION: Final = 2


@dataclass(frozen=True, slots=True)
class Plan:
    """A client's self-management plan: items per part (journal/plan_default.toml names the
    parts), the client's own names for cycle stages, and the version it is."""

    client_id: str
    parts: tuple[tuple[str, tuple[PlanItem, ...]], ...] = ()
    stage_names: tuple[tuple[str, str], ...] = ()
    updated_at: datetime | None = None
    version: int = 0

    def items(self, part: str) -> tuple[PlanItem, ...]:
        return next((items for name, items in self.parts if name == part), ())

    def texts(self, part: str) -> tuple[str, ...]:
        return tuple(item.text for item in self.items(part))

    def stage_name(self, stage: str) -> str:
        """The client's own name for a stage ("" when the program's default stands)."""
        return next((name for key, name in self.stage_names if key == stage), "")

    @property
    def coping_steps(self) -> tuple[str, ...]:
        return self.texts("coping")

    @property
    def warning_signs(self) -> tuple[str, ...]:
        return self.texts("cycle")

    @property
    def support_people(self) -> tuple[str, ...]:
        return self.texts("support")

    @property
    def is_empty(self) -> bool:
        return not any(items for _name, items in self.parts)

    def body(self) -> dict[str, Any]:
        """What is sealed: every part's items and the stage names."""
        return {"v": PLAN_BODY_VERSION,
                "parts": {name: [item.as_dict() for item in items]
                          for name, items in self.parts if items},
                "stages": dict(self.stage_names)}

    @classmethod
    def from_body(cls, client_id: str, body: dict[str, Any], *,
                  updated_at: datetime | None = None, version: int = 0) -> Plan:
        if "v" not in body:  # a three-section plan of old
            body = upgrade_plan_body(body)
        parts = tuple((str(name), tuple(PlanItem.of(raw) for raw in items))
                      for name, items in body.get("parts", {}).items())
        stages = tuple((str(k), str(v)) for k, v in body.get("stages", {}).items())
        return cls(client_id, parts, stages, updated_at, version)

    @classmethod
    def with_parts(cls, client_id: str, *, stage_names: tuple[tuple[str, str], ...] = (),
                   **parts: tuple[str | PlanItem, ...]) -> Plan:
        """A plan from texts or items per part (seed data, tests)."""
        return cls(client_id, tuple(
            (name, tuple(PlanItem.of(i) if isinstance(i, str) else i for i in items))
            for name, items in parts.items() if items), stage_names)

    @classmethod
    def from_sections(cls, client_id: str, warning_signs: tuple[str, ...] = (),
                      coping_steps: tuple[str, ...] = (),
                      support_people: tuple[str, ...] = ()) -> Plan:
        """The plan a three-section plan of old becomes (see upgrade_plan_body)."""
        return cls.from_body(client_id, upgrade_plan_body({
            "warning_signs": list(warning_signs), "coping_steps": list(coping_steps),
            "support_people": list(support_people)}))


def upgrade_plan_body(old: dict[str, Any]) -> dict[str, Any]:
    """A three-section plan's body in the parts of today, nothing lost: warning signs go to
    the offence cycle placed in no stage yet (the clinician places them), coping steps to
    the coping strategies, each support person's line to a person's name, as written."""
    parts = {new: [{"text": str(text)} for text in old.get(name, ()) if str(text).strip()]
             for name, new in OLD_SECTIONS}
    return {"v": PLAN_BODY_VERSION, "parts": {k: v for k, v in parts.items() if v},
            "stages": {}}


@dataclass(frozen=True, slots=True)
class PlanVersion:
    """One saved plan: its number (1, 2, ...), when, by whom (a clinician id; None: moved
    from an older plan or seeded) and the short reason given."""

    number: int
    at: datetime
    by: int | None
    reason: str
    plan: Plan


@dataclass(frozen=True, slots=True)
class PlanSuggestion:
    """An item a client suggested for a part of their plan."""

    id: str
    client_id: str
    status: str  # open | accepted | declined
    part: str
    text: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class HelpMoment:
    """A moment the client said they were at risk (/now): whether they asked for their
    clinician to be told (None: not answered) and how it went (a key, "" not yet)."""

    id: str
    client_id: str
    at: datetime
    told: bool | None = None
    outcome: str = ""


@dataclass(frozen=True, slots=True)
class AlertNote:
    """A note on an acknowledged alert: who left it (a clinician id), when, and its text
    (None when the client's data key was destroyed)."""

    at: datetime
    author_id: int | None
    text: str | None


@dataclass(frozen=True, slots=True)
class Alert:
    id: str
    client_id: str
    checkin_id: str | None
    level: str
    status: str
    detail: dict[str, Any]
    created_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: int | None
    escalations: int
    next_escalation_at: datetime | None
    notes: tuple[AlertNote, ...] = ()  # oldest first


@dataclass(frozen=True, slots=True)
class AlertCopy:
    """One copy of an alert as its outbox row stands: `status` is the outbox's (queued,
    retrying, sent, dead, expired, cancelled); `escalation` 0 is the owner's own copy."""

    alert_id: str
    chat_id: int
    escalation: int
    status: str
    queued_at: datetime
    sent_at: datetime | None


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    id: str
    chat_id: int
    kind: str
    payload: dict[str, Any]
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    client_id: str | None
    sent_message_id: int | None = None
    useful_until: datetime | None = None
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class AuditEvent:
    seq: int
    at: datetime
    actor: str
    action: str
    client_id: str | None
    detail: str


@dataclass(frozen=True, slots=True)
class AuditVerdict:
    ok: bool
    checked: int
    broken_seq: int | None = None
    reason: str = ""
    compared: str = ""  # what the trail was held against (the checkpoint, where, when)


@dataclass(frozen=True, slots=True)
class OutboxCounts:
    queued: int = 0
    retrying: int = 0
    sent: int = 0
    dead: int = 0
    expired: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ScheduledDay:
    """What the scheduler needs of a check-in day (plaintext columns only, no answers)."""

    id: str
    client_id: str
    local_date: date
    status: str
    prompted_at: datetime | None
    reminded_at: datetime | None


@dataclass(frozen=True, slots=True)
class StaffEmail:
    """One claimed e-mail fallback: a staff member not reached on Telegram in time."""

    id: str
    outbox_id: str
    clinician_id: int
    alert_id: str | None
    escalation: int
    attempts: int



@dataclass(frozen=True, slots=True)
class Appointment:
    """One appointment as the domain reads it; `place` and `reason` opened from their
    sealed columns ("" when none)."""

    id: str
    client_id: str
    clinician_id: int
    kind: str
    starts_at: datetime
    online: bool
    place: str
    response: str  # none | confirmed | declined
    reason: str
    responded_at: datetime | None
    attendance: str | None  # attended | late | excused | no_show
    attendance_at: datetime | None
    attendance_by: int | None
    reminders_done: int
    staff_reminded_at: datetime | None
    cancelled_at: datetime | None
    next_due_at: datetime | None
    created_at: datetime
    group_id: str | None = None


@dataclass(frozen=True, slots=True)
class Homework:
    """A task and its answer as the domain reads them; `prompt` is the text written for the
    client ("" for a library task) and `answer` the answer or draft, opened from their
    sealed columns."""

    id: str
    client_id: str
    clinician_id: int
    task: str
    prompt: str
    due_date: date
    due_at: datetime
    status: str  # assigned | draft | done
    answer: str
    answered_at: datetime | None
    discussed_at: datetime | None
    reminded_at: datetime | None
    next_due_at: datetime | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Group:
    """A treatment group, its name opened, with its facilitators' ids and members' ids."""

    id: str
    name: str
    weekday: int
    at_time: str
    timezone: str
    facilitators: tuple[int, ...]
    members: tuple[str, ...]
    created_at: datetime
