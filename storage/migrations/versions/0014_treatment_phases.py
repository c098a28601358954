"""treatment phases and the clinician's domain ratings

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-08 03:00:00.000000

A client's phase (an id of the program's phases file) and since when; every step of it
(told, proposed, applied, withdrawn) with who and why; and the clinician's rating of each
domain the check-in tracks. Reasons, criteria and ratings are sealed under the client's
data key, so no key is needed to migrate: every client starts in the first phase.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("clients") as batch:
        batch.add_column(sa.Column("phase", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("phase_since", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "phase_steps",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("client_id", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("from_phase", sa.String(length=40), nullable=False),
        sa.Column("to_phase", sa.String(length=40), nullable=False),
        sa.Column("direction", sa.String(length=4), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("trigger", sa.String(length=40), nullable=False),
        sa.Column("proposed_by", sa.Integer(), nullable=True),
        sa.Column("approved_by", sa.Integer(), nullable=True),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("body_ct", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["client_id"], ["clients.id"],
                                name=op.f("fk_phase_steps_client_id_clients")),
        sa.ForeignKeyConstraint(["proposed_by"], ["clinicians.id"],
                                name=op.f("fk_phase_steps_proposed_by_clinicians")),
        sa.ForeignKeyConstraint(["approved_by"], ["clinicians.id"],
                                name=op.f("fk_phase_steps_approved_by_clinicians")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_phase_steps")),
    )
    op.create_index("ix_phase_steps_client_state", "phase_steps", ["client_id", "state"])
    op.create_index(op.f("ix_phase_steps_state"), "phase_steps", ["state"])
    op.create_table(
        "domain_ratings",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("client_id", sa.String(length=32), nullable=False),
        sa.Column("clinician_id", sa.Integer(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("body_ct", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["client_id"], ["clients.id"],
                                name=op.f("fk_domain_ratings_client_id_clients")),
        sa.ForeignKeyConstraint(["clinician_id"], ["clinicians.id"],
                                name=op.f("fk_domain_ratings_clinician_id_clinicians")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_domain_ratings")),
    )
    op.create_index("ix_domain_ratings_client_at", "domain_ratings", ["client_id", "at"])


def downgrade() -> None:
    op.drop_index("ix_domain_ratings_client_at", table_name="domain_ratings")
    op.drop_table("domain_ratings")
    op.drop_index(op.f("ix_phase_steps_state"), table_name="phase_steps")
    op.drop_index("ix_phase_steps_client_state", table_name="phase_steps")
    op.drop_table("phase_steps")
    with op.batch_alter_table("clients") as batch:
        batch.drop_column("phase_since")
        batch.drop_column("phase")
