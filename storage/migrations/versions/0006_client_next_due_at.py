"""client next_due_at: the scheduler reads only the clients something is due for

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 15:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.add_column(sa.Column("next_due_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_clients_due", ["status", "next_due_at"], unique=False)
    # Every active client is due at once: the first tick after the upgrade works out each
    # one's next instant with the check-in's day rule (journal.checkin.days), which a
    # migration must not copy.
    op.execute(sa.text("UPDATE clients SET next_due_at = CURRENT_TIMESTAMP "
                       "WHERE status = 'active'"))


def downgrade() -> None:
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.drop_index("ix_clients_due")
        batch_op.drop_column("next_due_at")
