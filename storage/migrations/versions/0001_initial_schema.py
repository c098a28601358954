"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-27 16:24:27.713129
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "audit_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=32), nullable=True),
        sa.Column("detail", sa.String(length=500), nullable=False),
        sa.Column("mac", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
        sa.UniqueConstraint("seq", name=op.f("uq_audit_events_seq")),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_events_client_id"), ["client_id"], unique=False)

    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("mac", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
    )
    op.create_table(
        "clinicians",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("telegram_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("contact", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clinicians")),
        sa.UniqueConstraint("telegram_id", name=op.f("uq_clinicians_telegram_id")),
    )
    op.create_table(
        "conversations",
        sa.Column("telegram_id", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("telegram_id", name=op.f("pk_conversations")),
    )
    op.create_table(
        "enrolment_attempts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("telegram_id", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enrolment_attempts")),
    )
    with op.batch_alter_table("enrolment_attempts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_enrolment_attempts_telegram_id"), ["telegram_id"], unique=False
        )

    op.create_table(
        "processed_updates",
        sa.Column("update_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("update_id", name=op.f("pk_processed_updates")),
    )
    op.create_table(
        "scheduler_lease",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("holder", sa.String(length=64), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_scheduler_lease")),
    )
    op.create_table(
        "system_keys",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("id", sa.String(length=16), nullable=False),
        sa.Column("master_key_id", sa.String(length=32), nullable=False),
        sa.Column("wrapped", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_system_keys")),
        sa.UniqueConstraint("id", name=op.f("uq_system_keys_id")),
    )
    with op.batch_alter_table("system_keys", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_system_keys_master_key_id"), ["master_key_id"], unique=False
        )

    op.create_table(
        "clients",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("telegram_id", sa.BigInteger(), nullable=True),
        sa.Column("clinician_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("checkin_time", sa.String(length=5), nullable=False),
        sa.Column("checkin_days", sa.String(length=7), nullable=False),
        sa.Column("pause_reason", sa.String(length=32), nullable=True),
        sa.Column("unreachable", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("enrolled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("discharged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["clinician_id"], ["clinicians.id"], name=op.f("fk_clients_clinician_id_clinicians")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clients")),
        sa.UniqueConstraint("code", name=op.f("uq_clients_code")),
        sa.UniqueConstraint("telegram_id", name=op.f("uq_clients_telegram_id")),
    )
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_clients_clinician_id"), ["clinician_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_clients_status"), ["status"], unique=False)

    op.create_table(
        "checkins",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("client_id", sa.String(length=32), nullable=False),
        sa.Column("local_date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("questionnaire_id", sa.String(length=64), nullable=False),
        sa.Column("questionnaire_version", sa.String(length=32), nullable=False),
        sa.Column("item_ids", sa.Text(), nullable=False),
        sa.Column("state_ct", sa.LargeBinary(), nullable=True),
        sa.Column("scores_ct", sa.LargeBinary(), nullable=True),
        sa.Column("risk_level", sa.String(length=16), nullable=True),
        sa.Column("message_id", sa.BigInteger(), nullable=True),
        sa.Column("prompted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_checkins_client_id_clients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checkins")),
        sa.UniqueConstraint("client_id", "local_date", name="uq_checkins_client_day"),
    )
    with op.batch_alter_table("checkins", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_checkins_client_id"), ["client_id"], unique=False)

    op.create_table(
        "client_keys",
        sa.Column("id", sa.String(length=16), nullable=False),
        sa.Column("client_id", sa.String(length=32), nullable=False),
        sa.Column("master_key_id", sa.String(length=32), nullable=True),
        sa.Column("wrapped", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("destroyed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_client_keys_client_id_clients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_client_keys")),
        sa.UniqueConstraint("client_id", name=op.f("uq_client_keys_client_id")),
    )
    with op.batch_alter_table("client_keys", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_client_keys_master_key_id"), ["master_key_id"], unique=False
        )

    op.create_table(
        "invites",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("clinician_id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.String(length=32), nullable=False),
        sa.Column("note_ct", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_invites_client_id_clients")
        ),
        sa.ForeignKeyConstraint(
            ["clinician_id"], ["clinicians.id"], name=op.f("fk_invites_clinician_id_clinicians")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invites")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_invites_code_hash")),
    )
    with op.batch_alter_table("invites", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_invites_client_id"), ["client_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_invites_clinician_id"), ["clinician_id"], unique=False)

    op.create_table(
        "journal_entries",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("client_id", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("body_ct", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("saved_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_journal_entries_client_id_clients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journal_entries")),
    )
    with op.batch_alter_table("journal_entries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_journal_entries_client_id"), ["client_id"], unique=False
        )

    op.create_table(
        "outbox",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("payload_ct", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=120), nullable=True),
        sa.Column("dedupe_key", sa.String(length=96), nullable=True),
        sa.Column("client_id", sa.String(length=32), nullable=True),
        sa.Column("sent_message_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_outbox_client_id_clients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_outbox_dedupe_key")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_due", ["status", "next_attempt_at"], unique=False)

    op.create_table(
        "plans",
        sa.Column("client_id", sa.String(length=32), nullable=False),
        sa.Column("body_ct", sa.LargeBinary(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_plans_client_id_clients")
        ),
        sa.ForeignKeyConstraint(
            ["updated_by"], ["clinicians.id"], name=op.f("fk_plans_updated_by_clinicians")
        ),
        sa.PrimaryKeyConstraint("client_id", name=op.f("pk_plans")),
    )
    op.create_table(
        "risk_overrides",
        sa.Column("client_id", sa.String(length=32), nullable=False),
        sa.Column("rule_id", sa.String(length=64), nullable=False),
        sa.Column("threshold", sa.Integer(), nullable=False),
        sa.Column("set_by", sa.Integer(), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_risk_overrides_client_id_clients")
        ),
        sa.ForeignKeyConstraint(
            ["set_by"], ["clinicians.id"], name=op.f("fk_risk_overrides_set_by_clinicians")
        ),
        sa.PrimaryKeyConstraint("client_id", "rule_id", name=op.f("pk_risk_overrides")),
    )
    op.create_table(
        "alerts",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("client_id", sa.String(length=32), nullable=False),
        sa.Column("checkin_id", sa.String(length=32), nullable=True),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("detail_ct", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.Integer(), nullable=True),
        sa.Column("ack_note_ct", sa.LargeBinary(), nullable=True),
        sa.Column("escalations", sa.Integer(), nullable=False),
        sa.Column("next_escalation_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["acknowledged_by"],
            ["clinicians.id"],
            name=op.f("fk_alerts_acknowledged_by_clinicians"),
        ),
        sa.ForeignKeyConstraint(
            ["checkin_id"], ["checkins.id"], name=op.f("fk_alerts_checkin_id_checkins")
        ),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_alerts_client_id_clients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
    )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alerts_client_id"), ["client_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_alerts_next_escalation_at"), ["next_escalation_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_alerts_status"), ["status"], unique=False)

    op.create_table(
        "alert_copies",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("alert_id", sa.String(length=32), nullable=False),
        sa.Column("outbox_id", sa.String(length=32), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["alert_id"], ["alerts.id"], name=op.f("fk_alert_copies_alert_id_alerts")
        ),
        sa.ForeignKeyConstraint(
            ["outbox_id"], ["outbox.id"], name=op.f("fk_alert_copies_outbox_id_outbox")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_copies")),
        sa.UniqueConstraint("outbox_id", name=op.f("uq_alert_copies_outbox_id")),
    )
    with op.batch_alter_table("alert_copies", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alert_copies_alert_id"), ["alert_id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("alert_copies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alert_copies_alert_id"))

    op.drop_table("alert_copies")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alerts_status"))
        batch_op.drop_index(batch_op.f("ix_alerts_next_escalation_at"))
        batch_op.drop_index(batch_op.f("ix_alerts_client_id"))

    op.drop_table("alerts")
    op.drop_table("risk_overrides")
    op.drop_table("plans")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_due")

    op.drop_table("outbox")
    with op.batch_alter_table("journal_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_journal_entries_client_id"))

    op.drop_table("journal_entries")
    with op.batch_alter_table("invites", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_invites_clinician_id"))
        batch_op.drop_index(batch_op.f("ix_invites_client_id"))

    op.drop_table("invites")
    with op.batch_alter_table("client_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_client_keys_master_key_id"))

    op.drop_table("client_keys")
    with op.batch_alter_table("checkins", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_checkins_client_id"))

    op.drop_table("checkins")
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_clients_status"))
        batch_op.drop_index(batch_op.f("ix_clients_clinician_id"))

    op.drop_table("clients")
    with op.batch_alter_table("system_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_system_keys_master_key_id"))

    op.drop_table("system_keys")
    op.drop_table("scheduler_lease")
    op.drop_table("processed_updates")
    with op.batch_alter_table("enrolment_attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_enrolment_attempts_telegram_id"))

    op.drop_table("enrolment_attempts")
    op.drop_table("conversations")
    op.drop_table("clinicians")
    op.drop_table("audit_head")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_events_client_id"))

    op.drop_table("audit_events")
