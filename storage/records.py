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
    role: str  # clinician | supervisor
    active: bool = True
    contact: str = ""
    has_email: bool = False  # the address itself stays sealed; see ClinicianRepository.email
    language: str | None = None  # their own; None: the program's DEFAULT_LANGUAGE
    timezone: str | None = None  # their own; None: the program's DEFAULT_TIMEZONE

    @property
    def is_supervisor(self) -> bool:
        return self.role == "supervisor"


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
class Plan:
    client_id: str
    warning_signs: tuple[str, ...] = ()
    coping_steps: tuple[str, ...] = ()
    support_people: tuple[str, ...] = ()
    updated_at: datetime | None = None

    @property
    def is_empty(self) -> bool:
        return not (self.warning_signs or self.coping_steps or self.support_people)


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
