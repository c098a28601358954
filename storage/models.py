"""SQLAlchemy tables. Plaintext is limited to opaque ids, codes, times, statuses and staff
Telegram ids: a client's Telegram id and every risk level are sealed, and a Telegram id is
looked up by its keyed index (docs/architecture.md, "Encryption at rest").

Annotations here are evaluated as the classes are built (no `from __future__ import
annotations`): SQLAlchemy reads each column's `Mapped[...]` as it maps the class, and one
written as a string has to be parsed and evaluated first, a good part of the mapping's cost
at every start."""

from datetime import UTC, date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out; SQLite would otherwise hand back naive values."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; pass an aware UTC time")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


UTC_TS = UTCDateTime()


class ClinicianRow(Base):
    __tablename__ = "clinicians"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # Staff are the program's known employees: their Telegram id stays plaintext (alert
    # copies are edited through it); the index is what a person's update is looked up by.
    telegram_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    telegram_index: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(16))  # clinician | supervisor | officer
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    contact: Mapped[str] = mapped_column(String(200), default="")
    # The e-mail address for the fallback channel, sealed under the "staff" system key.
    email_ct: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTC_TS)
    # The staff member's own language and zone for their texts, pages and reports; None:
    # the program's defaults (DEFAULT_LANGUAGE, DEFAULT_TIMEZONE).
    language: Mapped[str | None] = mapped_column(String(8), nullable=True)
    timezone: Mapped[str | None] = mapped_column(String(64), nullable=True)


class WebSignInRow(Base):
    """A one-time sign-in link to the workspace: only the token's SHA-256 is kept."""

    __tablename__ = "web_sign_ins"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    clinician_id: Mapped[int] = mapped_column(ForeignKey("clinicians.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTC_TS)
    expires_at: Mapped[datetime] = mapped_column(UTC_TS)
    used_at: Mapped[datetime | None] = mapped_column(UTC_TS, nullable=True)


class WebInitDataRow(Base):
    """A Mini App initData already used to sign in, by the SHA-256 of its signature, so a
    copy posted again (to any instance) is refused; deleted once initData has expired."""

    __tablename__ = "web_init_data_uses"
    hash_digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTC_TS, index=True)


class WebSessionRow(Base):
    """A signed-in workspace session, shared by every instance: the cookie's SHA-256 and the
    CSRF token's are kept, never the values."""

    __tablename__ = "web_sessions"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_hash: Mapped[str] = mapped_column(String(64))
    clinician_id: Mapped[int] = mapped_column(ForeignKey("clinicians.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTC_TS)
    last_seen_at: Mapped[datetime] = mapped_column(UTC_TS)
    expires_at: Mapped[datetime] = mapped_column(UTC_TS)  # the absolute limit
    ended_at: Mapped[datetime | None] = mapped_column(UTC_TS, nullable=True)


class ClientRow(Base):
    __tablename__ = "clients"
    # The scheduler's tick reads only the active clients whose next_due_at has come.
    __table_args__ = (Index("ix_clients_due", "status", "next_due_at"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    # The Telegram id: looked up by its keyed index (HMAC under the "index" system key),
    # read back sealed under the "people" system key. None until enrolled, and once erased.
    telegram_index: Mapped[bytes | None] = mapped_column(LargeBinary(32), unique=True,
                                                         nullable=True)
    telegram_id_ct: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    clinician_id: Mapped[int] = mapped_column(ForeignKey("clinicians.id"), index=True)
    # invited | active | paused | discharged | erased
    status: Mapped[str] = mapped_column(String(16), index=True)
    language: Mapped[str] = mapped_column(String(8), default="en")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    checkin_time: Mapped[str] = mapped_column(String(5), default="20:00")
    checkin_days: Mapped[str] = mapped_column(String(7), default="0123456")  # Monday is 0
    pause_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    paused_at: Mapped[datetime | None] = mapped_column(UTC_TS, nullable=True)
    # Check-ins count from here after a pause, so paused days are never "missed".
    resumed_at: Mapped[datetime | None] = mapped_column(UTC_TS, nullable=True)
    # The range within which the client may move their own check-in time ("HH:MM").
    window_start: Mapped[str | None] = mapped_column(String(5), nullable=True)
    window_end: Mapped[str | None] = mapped_column(String(5), nullable=True)
    # After discharge: when the retention period ends and the data key is destroyed.
    erase_after: Mapped[datetime | None] = mapped_column(UTC_TS, nullable=True, index=True)
    unreachable: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTC_TS)
    enrolled_at: Mapped[datetime | None] = mapped_column(UTC_TS, nullable=True)
    discharged_at: Mapped[datetime | None] = mapped_column(UTC_TS, nullable=True)
    erased_at: Mapped[datetime | None] = mapped_column(UTC_TS, nullable=True)
    # When the scheduler next has something to do for this client (a prompt, a reminder,
    # a window closing), worked out by the tick with journal.checkin.days's rule; a long
    # past instant when not worked out yet (just enrolled, resumed or rescheduled), so the
    # next tick looks. NULL for a client never due (invited, erased).
    next_due_at: Mapped[datetime | None] = mapped_column(UTC_TS, nullable=True)
    # The client's treatment phase (an id of the phases file; None: the first) and since when.
    phase: Mapped[str | None] = mapped_column(String(40), nullable=True)
    phase_since: Mapped[datetime | None] = mapped_column(UTC_TS, nullable=True)


class ClientKeyRow(Base):
    """A client's data key, wrapped by a master key. Erasure nulls `wrapped`."""

    __tablename__ = "client_keys"
    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"), unique=True)
    master_key_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    wrapped: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTC_TS)
    destroyed_at: Mapped[datetime | None] = mapped_column(UTC_TS, nullable=True)


class SystemKeyRow(Base):
    """Keys that belong to the program, not a client (audit seal, outbox payloads)."""

    __tablename__ = "system_keys"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    id: Mapped[str] = mapped_column(String(16), unique=True)
    master_key_id: Mapped[str] = mapped_column(String(32), index=True)
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTC_TS)


class InviteRow(Base):
    __tablename__ = "invites"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    clinician_id: Mapped[int] = mapped_column(ForeignKey("clinicians.id"), index=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"), index=True)
    note_ct: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTC_TS)
    expires_at: Mapped[datetime] = mapped_column(UTC_TS)
    used_at: Mapped[datetime | None] = mapped_column(UTC_TS, nullable=True)


class EnrolmentAttemptRow(Base):
    """Failed invite codes per Telegram account (by its keyed index), kept three hours, for
    the lock-out."""

    __tablename__ = "enrolment_attempts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    telegram_index: Mapped[bytes] = mapped_column(LargeBinary(32), index=True)
    at: Mapped[datetime] = mapped_column(UTC_TS)


class ConversationRow(Base):
    """Where a person is in a multi-step exchange; holds ids only, never what they wrote.
    The person is their Telegram id's keyed index."""

    __tablename__ = "conversations"
    telegram_index: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    state: Mapped[str] = mapped_column(String(32))
    data: Mapped[str] = mapped_column(Text, default="{}")
    updated_at: Mapped[datetime] = mapped_column(UTC_TS)


class CheckInRow(Base):
    __tablename__ = "checkins"
    __table_args__ = (UniqueConstraint("client_id", "local_date", name="uq_checkins_client_day"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"), index=True)
    local_date: Mapped[date] = mapped_column(Date)
    # prompted | in_progress | submitted | missed
    status: Mapped[str] = mapped_column(String(16))
    questionnaire_id: Mapped[str] = mapped_column(String(64))
    questionnaire_version: Mapped[str] = mapped_column(String(32))
    item_ids: Mapped[str] = mapped_column(Text, default="")
    # The whole flow state (answers, current item, history) sealed as one JSON document:
    # even which item is showing can reveal an answer, so it is never plaintext.
    state_ct: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    scores_ct: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    # The day's risk level, sealed under the "people" system key (the caseload opens one
    # per client, cheaply): a plaintext "critical" would say how a person is doing.
    risk_level_ct: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    message_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    prompted_at: Mapped[datetime | None] = mapped_column(UTC_TS, nullable=True)
    reminded_at: Mapped[datetime | None] = mapped_column(UTC_TS, nullable=True)
    started_at: Mapped[datetime | None] = mapped_column(UTC_TS, nullable=True)
    submitted_at: Mapped[datetime | None] = mapped_column(UTC_TS, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTC_TS)


class JournalEntryRow(Base):
    __tablename__ = "journal_entries"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"), index=True)
    status: Mapped[str] = mapped_column(String(16))  # draft | saved
    body_ct: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTC_TS)
    saved_at: Mapped[datetime | None] = mapped_column(UTC_TS, nullable=True)


class PlanRow(Base):
    """A client's Relapse Prevention plan (warning signs, coping steps, support people)."""

    __tablename__ = "plans"
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"), primary_key=True)
    body_ct: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime] = mapped_column(UTC_TS)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("clinicians.id"), nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class PlanVersionRow(Base):
    """Every saved plan, kept: the plan and the short reason sealed together under the
    client's data key (place "plan_versions.body", this row's id); who saved it (a clinician,
    or none: the migration of an old plan, the seed) and when."""

    __tablename__ = "plan_versions"
    __table_args__ = (UniqueConstraint("client_id", "number"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    body_ct: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTC_TS)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("clinicians.id"), nullable=True)


class PlanSuggestionRow(Base):
    """An item a client suggested for their plan (part and text sealed, place
    "plan_suggestions.body"), open until the clinician accepts, edits or declines it."""

    __tablename__ = "plan_suggestions"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"), index=True)
    status: Mapped[str] = mapped_column(String(16))  # open | accepted | declined
    body_ct: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTC_TS)
    decided_at: Mapped[datetime | None] = mapped_column(UTC_TS, nullable=True)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("clinicians.id"), nullable=True)


class HelpMomentRow(Base):
    """A moment the client said they were at risk (/now): whether they had the clinician told
    and how it went, sealed (place "help_moments.body")."""

    __tablename__ = "help_moments"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTC_TS)
    body_ct: Mapped[bytes] = mapped_column(LargeBinary)


class RiskOverrideRow(Base):
    __tablename__ = "risk_overrides"
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"), primary_key=True)
    rule_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    threshold: Mapped[int] = mapped_column(Integer)
    set_by: Mapped[int] = mapped_column(ForeignKey("clinicians.id"))
    set_at: Mapped[datetime] = mapped_column(UTC_TS)


class AlertRow(Base):
    __tablename__ = "alerts"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"), index=True)
    checkin_id: Mapped[str | None] = mapped_column(ForeignKey("checkins.id"), nullable=True)
    level_ct: Mapped[bytes] = mapped_column(LargeBinary)  # sealed like checkins.risk_level_ct
    status: Mapped[str] = mapped_column(String(16), index=True)  # open | acknowledged | closed (client erased)
    detail_ct: Mapped[bytes] = mapped_column(LargeBinary)  # reasons and the answers behind them
    created_at: Mapped[datetime] = mapped_column(UTC_TS)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTC_TS, nullable=True)
    acknowledged_by: Mapped[int | None] = mapped_column(ForeignKey("clinicians.id"), nullable=True)
    escalations: Mapped[int] = mapped_column(Integer, default=0)
    next_escalation_at: Mapped[datetime | None] = mapped_column(UTC_TS, nullable=True, index=True)


class AlertNoteRow(Base):
    """One note left on an acknowledged alert: notes are added, never replaced.

    The text is sealed under the client's data key (place "alerts.ack_note", this row's
    id); a note migrated from the single note of old has the alert's id as its own."""

    __tablename__ = "alert_notes"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    alert_id: Mapped[str] = mapped_column(ForeignKey("alerts.id"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("clinicians.id"), nullable=True)
    at: Mapped[datetime] = mapped_column(UTC_TS)
    text_ct: Mapped[bytes] = mapped_column(LargeBinary)


class PhaseStepRow(Base):
    """One step of a client's phase: told (the clinician was told the criteria are met),
    proposed (a step down awaiting a supervisor), applied, or withdrawn.

    Who acted and the trigger are ids and codes; the reason a person wrote and the criteria
    as they stood are sealed together under the client's data key (place "phase_steps.body",
    this row's id)."""

    __tablename__ = "phase_steps"
    __table_args__ = (Index("ix_phase_steps_client_state", "client_id", "state"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"))
    at: Mapped[datetime] = mapped_column(UTC_TS)
    from_phase: Mapped[str] = mapped_column(String(40))
    to_phase: Mapped[str] = mapped_column(String(40))
    direction: Mapped[str] = mapped_column(String(4))  # down | up
    state: Mapped[str] = mapped_column(String(12), index=True)  # told | proposed | applied | withdrawn
    trigger: Mapped[str] = mapped_column(String(40))  # clinician | rule:<code>
    proposed_by: Mapped[int | None] = mapped_column(ForeignKey("clinicians.id"), nullable=True)
    approved_by: Mapped[int | None] = mapped_column(ForeignKey("clinicians.id"), nullable=True)
    applied_at: Mapped[datetime | None] = mapped_column(UTC_TS, nullable=True)
    body_ct: Mapped[bytes] = mapped_column(LargeBinary)


class DomainRatingRow(Base):
    """A clinician's rating of each domain the check-in tracks (0, 1, 2) with a short note,
    sealed together under the client's data key (place "domain_ratings.body", this row's id)."""

    __tablename__ = "domain_ratings"
    __table_args__ = (Index("ix_domain_ratings_client_at", "client_id", "at"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"))
    clinician_id: Mapped[int | None] = mapped_column(ForeignKey("clinicians.id"), nullable=True)
    at: Mapped[datetime] = mapped_column(UTC_TS)
    body_ct: Mapped[bytes] = mapped_column(LargeBinary)


class AlertCopyRow(Base):
    """One delivered copy of an alert, so every copy can be marked handled."""

    __tablename__ = "alert_copies"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alert_id: Mapped[str] = mapped_column(ForeignKey("alerts.id"), index=True)
    outbox_id: Mapped[str] = mapped_column(ForeignKey("outbox.id"), unique=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    escalation: Mapped[int] = mapped_column(Integer, default=0)  # 0: the clinician's own copy


class OutboxRow(Base):
    """The only way out to Telegram for messages nobody is waiting on."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    # The chat's keyed index (one message per chat per pass, erasure); the chat id itself
    # travels sealed in the payload.
    chat_index: Mapped[bytes] = mapped_column(LargeBinary(32))
    kind: Mapped[str] = mapped_column(String(24))  # prompt | alert | notice | delete | ...
    payload_ct: Mapped[bytes] = mapped_column(LargeBinary)
    # queued | retrying | sent | dead | expired | cancelled
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTC_TS)
    claimed_until: Mapped[datetime | None] = mapped_column(UTC_TS, nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(120), nullable=True)
    dedupe_key: Mapped[str | None] = mapped_column(String(96), unique=True, nullable=True)
    client_id: Mapped[str | None] = mapped_column(ForeignKey("clients.id"), nullable=True)
    sent_message_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTC_TS)
    sent_at: Mapped[datetime | None] = mapped_column(UTC_TS, nullable=True)
    # Past this moment the message is of no use (a closed check-in window, a view that is
    # gone, a message Telegram no longer lets a bot delete): it expires instead of being
    # sent. None: useful until sent, or for an alert copy until its alert is handled.
    useful_until: Mapped[datetime | None] = mapped_column(UTC_TS, nullable=True)


class StaffEmailRow(Base):
    """The e-mail fallback for one outbox row a staff member was not reached by in time.
    Unique per outbox row, so two workers never mail the same message twice."""

    __tablename__ = "staff_emails"
    __table_args__ = (Index("ix_staff_emails_due", "status", "next_attempt_at"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    outbox_id: Mapped[str] = mapped_column(ForeignKey("outbox.id", ondelete="CASCADE"),
                                           unique=True)
    clinician_id: Mapped[int] = mapped_column(ForeignKey("clinicians.id"))
    alert_id: Mapped[str | None] = mapped_column(ForeignKey("alerts.id"), nullable=True)
    # pending | sent | skipped (Telegram delivered it, or the alert was handled, first)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTC_TS)
    claimed_until: Mapped[datetime | None] = mapped_column(UTC_TS, nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(120), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTC_TS)
    sent_at: Mapped[datetime | None] = mapped_column(UTC_TS, nullable=True)


class SharingAgreementRow(Base):
    """What a client agreed to share with one supervising officer (docs/clinical.md).

    Only ids, category names, a level threshold, a status and times: what is shared is
    computed when it is sent, never stored here. Erasure deletes the client's rows."""

    __tablename__ = "sharing_agreements"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"), index=True)
    officer_id: Mapped[int] = mapped_column(ForeignKey("clinicians.id"), index=True)
    # Comma-separated names from journal.sharing.CATEGORIES.
    categories: Mapped[str] = mapped_column(String(120))
    # The lowest alert level shared (with "alerts" among the categories).
    alert_level: Mapped[str] = mapped_column(String(16), default="critical")
    # proposed | agreed | declined | withdrawn | ended
    status: Mapped[str] = mapped_column(String(16), index=True)
    proposed_by: Mapped[int | None] = mapped_column(ForeignKey("clinicians.id"), nullable=True)
    proposed_at: Mapped[datetime] = mapped_column(UTC_TS)
    answered_at: Mapped[datetime | None] = mapped_column(UTC_TS, nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTC_TS, nullable=True)


class ProgressReportRow(Base):
    """One monthly progress report for the officer of an agreement that includes it: a
    draft the clinician reviews, then sent and acknowledged. The clinician's progress note
    is sealed under the client's data key; everything else is computed when drawn."""

    __tablename__ = "progress_reports"
    __table_args__ = (UniqueConstraint("agreement_id", "month",
                                       name="uq_progress_reports_agreement_month"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    agreement_id: Mapped[str] = mapped_column(ForeignKey("sharing_agreements.id"), index=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"), index=True)
    month: Mapped[date] = mapped_column(Date)  # the first day of the month reported
    status: Mapped[str] = mapped_column(String(16), index=True)  # draft | sent | dropped
    note_ct: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTC_TS)
    sent_at: Mapped[datetime | None] = mapped_column(UTC_TS, nullable=True)
    sent_by: Mapped[int | None] = mapped_column(ForeignKey("clinicians.id"), nullable=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTC_TS, nullable=True)
    # When a draft left unsent went to the supervisors (once).
    raised_at: Mapped[datetime | None] = mapped_column(UTC_TS, nullable=True)


class AuditEventRow(Base):
    """Append-only; each row's MAC chains over the previous one."""

    __tablename__ = "audit_events"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True)
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    at: Mapped[datetime] = mapped_column(UTC_TS)
    action: Mapped[str] = mapped_column(String(64))
    # Who acted, about which client, and the detail: sealed together under the people key
    # (storage/audit.py), so a database read without the key does not say which staff
    # member viewed which client. A client's events are found by their keyed index.
    client_index: Mapped[bytes | None] = mapped_column(LargeBinary(32), nullable=True,
                                                       index=True)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    mac: Mapped[str] = mapped_column(String(64))


class AuditHeadRow(Base):
    """The chain's tip, sealed too, so cutting rows off the end is detected."""

    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    mac: Mapped[str] = mapped_column(String(64))


class ProcessedUpdateRow(Base):
    __tablename__ = "processed_updates"
    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    processed_at: Mapped[datetime] = mapped_column(UTC_TS)


class AppointmentRow(Base):
    """One appointment of a client: a session, an officer visit, a court date...

    The kind is a code of the program's data (journal/appointments.toml); the place is
    sealed under the client's data key (place "appointments.place"), as is the reason a
    client gives for not coming ("appointments.reason"). `next_due_at` is when the
    scheduler next has something to do for it (a reminder to the client, the clinician's
    reminder to record attendance), NULL once nothing is left: a tick reads only the rows
    whose instant has come, so appointments far ahead cost an idle tick nothing."""

    __tablename__ = "appointments"
    __table_args__ = (Index("ix_appointments_due", "next_due_at"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"), index=True)
    clinician_id: Mapped[int] = mapped_column(ForeignKey("clinicians.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    starts_at: Mapped[datetime] = mapped_column(UTC_TS)
    online: Mapped[bool] = mapped_column(Boolean, default=False)
    place_ct: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    # none | confirmed | declined: the client's answer
    response: Mapped[str] = mapped_column(String(16), default="none")
    reason_ct: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    responded_at: Mapped[datetime | None] = mapped_column(UTC_TS, nullable=True)
    # attended | late | excused | no_show, recorded by staff after the time
    attendance: Mapped[str | None] = mapped_column(String(16), nullable=True)
    attendance_at: Mapped[datetime | None] = mapped_column(UTC_TS, nullable=True)
    attendance_by: Mapped[int | None] = mapped_column(ForeignKey("clinicians.id"),
                                                      nullable=True)
    # How many of the program's reminders are behind (sent, or skipped as too late).
    reminders_done: Mapped[int] = mapped_column(Integer, default=0)
    staff_reminded_at: Mapped[datetime | None] = mapped_column(UTC_TS, nullable=True)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTC_TS, nullable=True)
    next_due_at: Mapped[datetime | None] = mapped_column(UTC_TS, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTC_TS)
    # The group whose session this is (one appointment per member), if any.
    group_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)


class HomeworkRow(Base):
    """A task a clinician gave a client between sessions, and the client's answer.

    A task of the program's library is stored by its code (journal/homework.toml); one
    written for the client is sealed under their data key ("homework.prompt"), as is the
    answer ("homework.answer"), a draft included. `due_date` is the client's local date the
    task is due on (by the end of it); `next_due_at` is when the scheduler next reminds."""

    __tablename__ = "homework"
    __table_args__ = (Index("ix_homework_due", "next_due_at"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"), index=True)
    clinician_id: Mapped[int] = mapped_column(ForeignKey("clinicians.id"), index=True)
    task: Mapped[str] = mapped_column(String(32))  # a library code, or "own"
    prompt_ct: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    due_date: Mapped[date] = mapped_column(Date)
    due_at: Mapped[datetime] = mapped_column(UTC_TS)  # the end of due_date, client's zone
    # assigned | draft | done
    status: Mapped[str] = mapped_column(String(16), default="assigned")
    answer_ct: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    answered_at: Mapped[datetime | None] = mapped_column(UTC_TS, nullable=True)
    discussed_at: Mapped[datetime | None] = mapped_column(UTC_TS, nullable=True)
    reminded_at: Mapped[datetime | None] = mapped_column(UTC_TS, nullable=True)
    next_due_at: Mapped[datetime | None] = mapped_column(UTC_TS, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTC_TS)


class GroupRow(Base):
    """A treatment group: its name sealed under the program's people key, its weekly
    session time (weekday, "HH:MM" in its time zone)."""

    __tablename__ = "groups"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name_ct: Mapped[bytes] = mapped_column(LargeBinary)
    weekday: Mapped[int] = mapped_column(Integer)  # Monday is 0
    at_time: Mapped[str] = mapped_column(String(5))
    timezone: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[int] = mapped_column(ForeignKey("clinicians.id"))
    created_at: Mapped[datetime] = mapped_column(UTC_TS)


class GroupFacilitatorRow(Base):
    __tablename__ = "group_facilitators"
    group_id: Mapped[str] = mapped_column(ForeignKey("groups.id"), primary_key=True)
    clinician_id: Mapped[int] = mapped_column(ForeignKey("clinicians.id"), primary_key=True)


class GroupMemberRow(Base):
    __tablename__ = "group_members"
    group_id: Mapped[str] = mapped_column(ForeignKey("groups.id"), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"), primary_key=True)


class CalendarFeedRow(Base):
    """A clinician's calendar feed: only the SHA-256 of its secret URL token is kept; a new
    one replaces it, and deleting the row revokes the feed."""

    __tablename__ = "calendar_feeds"
    clinician_id: Mapped[int] = mapped_column(ForeignKey("clinicians.id"), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTC_TS)
