"""client schedule window, pause and retention

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 16:41:38.216058
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.add_column(sa.Column("paused_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("window_start", sa.String(length=5), nullable=True))
        batch_op.add_column(sa.Column("window_end", sa.String(length=5), nullable=True))
        batch_op.add_column(sa.Column("erase_after", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_clients_erase_after"), ["erase_after"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_clients_erase_after"))
        batch_op.drop_column("erase_after")
        batch_op.drop_column("window_end")
        batch_op.drop_column("window_start")
        batch_op.drop_column("paused_at")
