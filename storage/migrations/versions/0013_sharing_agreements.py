"""sharing agreements: what a client agreed to share with a supervising officer, and the
monthly progress reports sent under them

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-08 02:45:00.000000

Officers are staff rows with the role "officer" (clinicians.role is a free string(16), so
no column changes); each agreement names the client, the officer, the categories and a
status. Nothing a client wrote is stored here.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sharing_agreements",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("client_id", sa.String(length=32), nullable=False),
        sa.Column("officer_id", sa.Integer(), nullable=False),
        sa.Column("categories", sa.String(length=120), nullable=False),
        sa.Column("alert_level", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("proposed_by", sa.Integer(), nullable=True),
        sa.Column("proposed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["client_id"], ["clients.id"],
                                name=op.f("fk_sharing_agreements_client_id_clients")),
        sa.ForeignKeyConstraint(["officer_id"], ["clinicians.id"],
                                name=op.f("fk_sharing_agreements_officer_id_clinicians")),
        sa.ForeignKeyConstraint(["proposed_by"], ["clinicians.id"],
                                name=op.f("fk_sharing_agreements_proposed_by_clinicians")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sharing_agreements")),
    )
    for column in ("client_id", "officer_id", "status"):
        op.create_index(op.f(f"ix_sharing_agreements_{column}"), "sharing_agreements",
                        [column])
    op.create_table(
        "progress_reports",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("agreement_id", sa.String(length=32), nullable=False),
        sa.Column("client_id", sa.String(length=32), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("note_ct", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_by", sa.Integer(), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["agreement_id"], ["sharing_agreements.id"],
                                name=op.f("fk_progress_reports_agreement_id_sharing_agreements")),
        sa.ForeignKeyConstraint(["client_id"], ["clients.id"],
                                name=op.f("fk_progress_reports_client_id_clients")),
        sa.ForeignKeyConstraint(["sent_by"], ["clinicians.id"],
                                name=op.f("fk_progress_reports_sent_by_clinicians")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_progress_reports")),
        sa.UniqueConstraint("agreement_id", "month", name="uq_progress_reports_agreement_month"),
    )
    for column in ("agreement_id", "client_id", "status"):
        op.create_index(op.f(f"ix_progress_reports_{column}"), "progress_reports", [column])


def downgrade() -> None:
    for column in ("agreement_id", "client_id", "status"):
        op.drop_index(op.f(f"ix_progress_reports_{column}"), table_name="progress_reports")
    op.drop_table("progress_reports")
    for column in ("client_id", "officer_id", "status"):
        op.drop_index(op.f(f"ix_sharing_agreements_{column}"), table_name="sharing_agreements")
    op.drop_table("sharing_agreements")
