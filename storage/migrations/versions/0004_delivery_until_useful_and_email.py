"""outbox useful_until, staff e-mail fallback

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 10:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("useful_until", sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table("alert_copies", schema=None) as batch_op:
        batch_op.add_column(sa.Column("escalation", sa.Integer(), nullable=False,
                                      server_default="0"))

    with op.batch_alter_table("clinicians", schema=None) as batch_op:
        batch_op.add_column(sa.Column("email_ct", sa.LargeBinary(), nullable=True))

    op.create_table(
        "staff_emails",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("outbox_id", sa.String(length=32), nullable=False),
        sa.Column("clinician_id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.String(length=32), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=120), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["outbox_id"], ["outbox.id"], name=op.f("fk_staff_emails_outbox_id_outbox"),
            ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["clinician_id"], ["clinicians.id"],
            name=op.f("fk_staff_emails_clinician_id_clinicians")
        ),
        sa.ForeignKeyConstraint(
            ["alert_id"], ["alerts.id"], name=op.f("fk_staff_emails_alert_id_alerts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_emails")),
        sa.UniqueConstraint("outbox_id", name=op.f("uq_staff_emails_outbox_id")),
    )
    with op.batch_alter_table("staff_emails", schema=None) as batch_op:
        batch_op.create_index("ix_staff_emails_due", ["status", "next_attempt_at"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("staff_emails", schema=None) as batch_op:
        batch_op.drop_index("ix_staff_emails_due")
    op.drop_table("staff_emails")

    with op.batch_alter_table("clinicians", schema=None) as batch_op:
        batch_op.drop_column("email_ct")

    with op.batch_alter_table("alert_copies", schema=None) as batch_op:
        batch_op.drop_column("escalation")

    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("useful_until")
