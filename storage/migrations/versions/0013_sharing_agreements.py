"""sharing agreements: what a client agreed to share with a supervising officer

Revision ID: 0013
Revises: 0011
Create Date: 2026-12-08 02:45:00.000000

Officers are staff rows with the role "officer" (clinicians.role is a free string(16), so
no column changes); each agreement names the client, the officer, the categories and a
status. Nothing a client wrote is stored here.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0011"
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


def downgrade() -> None:
    for column in ("client_id", "officer_id", "status"):
        op.drop_index(op.f(f"ix_sharing_agreements_{column}"), table_name="sharing_agreements")
    op.drop_table("sharing_agreements")
