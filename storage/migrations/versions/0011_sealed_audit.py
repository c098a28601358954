"""audit events say who acted about whom only to the key holder

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-08 01:00:00.000000

An event's actor, client and detail leave their plaintext columns: sealed together under the
program's people key (`audit_events.sealed`, the event's sequence as its row id), with the
client kept as a keyed index (`client_index`) so a client's events are still found in one
indexed read. The chain's MACs are over the same values as before, so they hold across the
migration. Sealing what is stored needs the master keys (`steadfast db upgrade` hands them).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.migrations.keys import MigrationKeys

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PLACE = "audit_events.sealed"
events = sa.table("audit_events", sa.column("id", sa.Integer()), sa.column("seq", sa.BigInteger()),
                  sa.column("actor", sa.String()), sa.column("client_id", sa.String()),
                  sa.column("detail", sa.String()), sa.column("client_index", sa.LargeBinary()),
                  sa.column("sealed", sa.LargeBinary()))


def upgrade() -> None:
    bind = op.get_bind()
    keys = MigrationKeys(bind, needs="seals who did what in the audit trail")
    with op.batch_alter_table("audit_events") as batch:
        batch.add_column(sa.Column("client_index", sa.LargeBinary(length=32), nullable=True))
        batch.add_column(sa.Column("sealed", sa.LargeBinary(), nullable=True))
    rows = bind.execute(sa.select(events.c.id, events.c.seq, events.c.actor, events.c.client_id,
                                  events.c.detail)).all()
    for row in rows:
        bind.execute(events.update().where(events.c.id == row.id).values(
            client_index=keys.keyed("client", row.client_id) if row.client_id else None,
            sealed=keys.seal("people", PLACE, str(row.seq),
                             [row.actor, row.client_id, row.detail])))
    with op.batch_alter_table("audit_events") as batch:
        batch.drop_index("ix_audit_events_client_id")
        batch.drop_column("actor")
        batch.drop_column("client_id")
        batch.drop_column("detail")
        batch.alter_column("sealed", existing_type=sa.LargeBinary(), nullable=False)
        batch.create_index("ix_audit_events_client_index", ["client_index"])


def downgrade() -> None:
    bind = op.get_bind()
    keys = MigrationKeys(bind, needs="opens who did what in the audit trail")
    with op.batch_alter_table("audit_events") as batch:
        batch.add_column(sa.Column("actor", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("client_id", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("detail", sa.String(length=500), nullable=True))
    for row in bind.execute(sa.select(events.c.id, events.c.seq, events.c.sealed)).all():
        actor, client_id, detail = keys.open("people", PLACE, str(row.seq), row.sealed)
        bind.execute(events.update().where(events.c.id == row.id).values(
            actor=actor, client_id=client_id, detail=detail))
    with op.batch_alter_table("audit_events") as batch:
        batch.drop_index("ix_audit_events_client_index")
        batch.drop_column("client_index")
        batch.drop_column("sealed")
        batch.alter_column("actor", existing_type=sa.String(length=64), nullable=False)
        batch.alter_column("detail", existing_type=sa.String(length=500), nullable=False)
        batch.create_index("ix_audit_events_client_id", ["client_id"])
