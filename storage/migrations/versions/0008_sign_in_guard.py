"""Mini App initData used once: the signatures already used, until initData expires

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 23:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "web_init_data_uses",
        sa.Column("hash_digest", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("hash_digest"),
    )
    op.create_index("ix_web_init_data_uses_expires_at", "web_init_data_uses", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_web_init_data_uses_expires_at", table_name="web_init_data_uses")
    op.drop_table("web_init_data_uses")
