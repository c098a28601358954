"""appointments and homework: sessions, officer visits, court dates, with their reminders
and attendance; tasks between sessions and the clients' answers

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-08 02:45:00.000000

New tables; the place, the reason a client cannot come, a task written for the client and
the answers are sealed under the client's data key, so no key is needed to migrate. Each
`next_due_at` is indexed: the scheduler's tick reads only what is due.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "appointments",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("client_id", sa.String(length=32), nullable=False),
        sa.Column("clinician_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("online", sa.Boolean(), nullable=False),
        sa.Column("place_ct", sa.LargeBinary(), nullable=True),
        sa.Column("response", sa.String(length=16), nullable=False),
        sa.Column("reason_ct", sa.LargeBinary(), nullable=True),
        sa.Column("responded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attendance", sa.String(length=16), nullable=True),
        sa.Column("attendance_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attendance_by", sa.Integer(), nullable=True),
        sa.Column("reminders_done", sa.Integer(), nullable=False),
        sa.Column("staff_reminded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("group_id", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(["client_id"], ["clients.id"],
                                name=op.f("fk_appointments_client_id_clients")),
        sa.ForeignKeyConstraint(["clinician_id"], ["clinicians.id"],
                                name=op.f("fk_appointments_clinician_id_clinicians")),
        sa.ForeignKeyConstraint(["attendance_by"], ["clinicians.id"],
                                name=op.f("fk_appointments_attendance_by_clinicians")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appointments")),
    )
    op.create_index(op.f("ix_appointments_client_id"), "appointments", ["client_id"])
    op.create_index(op.f("ix_appointments_clinician_id"), "appointments", ["clinician_id"])
    op.create_index("ix_appointments_due", "appointments", ["next_due_at"])
    op.create_index(op.f("ix_appointments_group_id"), "appointments", ["group_id"])
    op.create_table(
        "homework",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("client_id", sa.String(length=32), nullable=False),
        sa.Column("clinician_id", sa.Integer(), nullable=False),
        sa.Column("task", sa.String(length=32), nullable=False),
        sa.Column("prompt_ct", sa.LargeBinary(), nullable=True),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("answer_ct", sa.LargeBinary(), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("discussed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["client_id"], ["clients.id"],
                                name=op.f("fk_homework_client_id_clients")),
        sa.ForeignKeyConstraint(["clinician_id"], ["clinicians.id"],
                                name=op.f("fk_homework_clinician_id_clinicians")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_homework")),
    )
    op.create_index(op.f("ix_homework_client_id"), "homework", ["client_id"])
    op.create_index(op.f("ix_homework_clinician_id"), "homework", ["clinician_id"])
    op.create_index("ix_homework_due", "homework", ["next_due_at"])
    op.create_table(
        "groups",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name_ct", sa.LargeBinary(), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=False),
        sa.Column("at_time", sa.String(length=5), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["created_by"], ["clinicians.id"],
                                name=op.f("fk_groups_created_by_clinicians")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_groups")),
    )
    op.create_table(
        "group_facilitators",
        sa.Column("group_id", sa.String(length=32), nullable=False),
        sa.Column("clinician_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["group_id"], ["groups.id"],
                                name=op.f("fk_group_facilitators_group_id_groups")),
        sa.ForeignKeyConstraint(["clinician_id"], ["clinicians.id"],
                                name=op.f("fk_group_facilitators_clinician_id_clinicians")),
        sa.PrimaryKeyConstraint("group_id", "clinician_id", name=op.f("pk_group_facilitators")),
    )
    op.create_table(
        "group_members",
        sa.Column("group_id", sa.String(length=32), nullable=False),
        sa.Column("client_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(["group_id"], ["groups.id"],
                                name=op.f("fk_group_members_group_id_groups")),
        sa.ForeignKeyConstraint(["client_id"], ["clients.id"],
                                name=op.f("fk_group_members_client_id_clients")),
        sa.PrimaryKeyConstraint("group_id", "client_id", name=op.f("pk_group_members")),
    )
    op.create_table(
        "calendar_feeds",
        sa.Column("clinician_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["clinician_id"], ["clinicians.id"],
                                name=op.f("fk_calendar_feeds_clinician_id_clinicians")),
        sa.PrimaryKeyConstraint("clinician_id", name=op.f("pk_calendar_feeds")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_calendar_feeds_token_hash")),
    )


def downgrade() -> None:
    op.drop_table("calendar_feeds")
    op.drop_table("group_members")
    op.drop_table("group_facilitators")
    op.drop_table("groups")
    op.drop_index("ix_homework_due", table_name="homework")
    op.drop_index(op.f("ix_homework_clinician_id"), table_name="homework")
    op.drop_index(op.f("ix_homework_client_id"), table_name="homework")
    op.drop_table("homework")
    op.drop_index(op.f("ix_appointments_group_id"), table_name="appointments")
    op.drop_index("ix_appointments_due", table_name="appointments")
    op.drop_index(op.f("ix_appointments_clinician_id"), table_name="appointments")
    op.drop_index(op.f("ix_appointments_client_id"), table_name="appointments")
    op.drop_table("appointments")
