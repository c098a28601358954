"""sealed identity: a client's Telegram id and every risk level leave plaintext

Telegram ids are looked up by a keyed index (HMAC-SHA256 under the "index" system key);
a client's id is sealed under the "people" system key, an outbox row's chat id inside its
sealed payload; days' and alerts' risk levels are sealed under the "people" key. Existing
rows are converted here, which needs the master keys: `steadfast db upgrade` hands them
over (alembic's config attribute "keyring"); a database holding no such rows needs none.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 23:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.migrations.keys import MigrationKeys

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BIN = sa.LargeBinary()
clinicians = sa.table("clinicians", sa.column("id", sa.Integer()),
                      sa.column("telegram_id", sa.BigInteger()),
                      sa.column("telegram_index", _BIN))
clients = sa.table("clients", sa.column("id", sa.String()),
                   sa.column("telegram_id", sa.BigInteger()),
                   sa.column("telegram_index", _BIN), sa.column("telegram_id_ct", _BIN))
attempts = sa.table("enrolment_attempts", sa.column("id", sa.Integer()),
                    sa.column("telegram_id", sa.BigInteger()),
                    sa.column("telegram_index", _BIN))
checkins = sa.table("checkins", sa.column("id", sa.String()),
                    sa.column("risk_level", sa.String()), sa.column("risk_level_ct", _BIN))
alerts = sa.table("alerts", sa.column("id", sa.String()), sa.column("level", sa.String()),
                  sa.column("level_ct", _BIN))
outbox = sa.table("outbox", sa.column("id", sa.String()),
                  sa.column("chat_id", sa.BigInteger()), sa.column("chat_index", _BIN),
                  sa.column("payload_ct", _BIN))
system_keys = sa.table("system_keys", sa.column("name", sa.String()),
                       sa.column("id", sa.String()), sa.column("master_key_id", sa.String()),
                       sa.column("wrapped", _BIN),
                       sa.column("created_at", sa.DateTime(timezone=True)))


def upgrade() -> None:
    bind = op.get_bind()
    keys = MigrationKeys(bind, needs="seals Telegram ids and risk levels already stored")
    with op.batch_alter_table("clinicians") as batch:
        batch.add_column(sa.Column("telegram_index", _BIN, nullable=True))
    with op.batch_alter_table("clients") as batch:
        batch.add_column(sa.Column("telegram_index", _BIN, nullable=True))
        batch.add_column(sa.Column("telegram_id_ct", _BIN, nullable=True))
    with op.batch_alter_table("enrolment_attempts") as batch:
        batch.add_column(sa.Column("telegram_index", _BIN, nullable=True))
    with op.batch_alter_table("checkins") as batch:
        batch.add_column(sa.Column("risk_level_ct", _BIN, nullable=True))
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("level_ct", _BIN, nullable=True))
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("chat_index", _BIN, nullable=True))

    for row in bind.execute(sa.select(clinicians.c.id, clinicians.c.telegram_id)).all():
        bind.execute(clinicians.update().where(clinicians.c.id == row.id)
                     .values(telegram_index=keys.index(row.telegram_id)))
    for row in bind.execute(sa.select(clients.c.id, clients.c.telegram_id)
                            .where(clients.c.telegram_id.is_not(None))).all():
        bind.execute(clients.update().where(clients.c.id == row.id).values(
            telegram_index=keys.index(row.telegram_id),
            telegram_id_ct=keys.seal("people", "clients.telegram_id", row.id, row.telegram_id)))
    for row in bind.execute(sa.select(attempts.c.id, attempts.c.telegram_id)).all():
        bind.execute(attempts.update().where(attempts.c.id == row.id)
                     .values(telegram_index=keys.index(row.telegram_id)))
    for row in bind.execute(sa.select(checkins.c.id, checkins.c.risk_level)
                            .where(checkins.c.risk_level.is_not(None))).all():
        bind.execute(checkins.update().where(checkins.c.id == row.id).values(
            risk_level_ct=keys.seal("people", "checkins.risk_level", row.id, row.risk_level)))
    for row in bind.execute(sa.select(alerts.c.id, alerts.c.level)).all():
        bind.execute(alerts.update().where(alerts.c.id == row.id).values(
            level_ct=keys.seal("people", "alerts.level", row.id, row.level)))
    for queued in bind.execute(
            sa.select(outbox.c.id, outbox.c.chat_id, outbox.c.payload_ct)).all():
        payload = keys.open("outbox", "outbox.payload", queued.id, queued.payload_ct)
        payload = {"chat_id": queued.chat_id, **payload}
        bind.execute(outbox.update().where(outbox.c.id == queued.id).values(
            chat_index=keys.index(queued.chat_id),
            payload_ct=keys.seal("outbox", "outbox.payload", queued.id, payload)))
    conversations = bind.execute(sa.text(
        "SELECT telegram_id, state, data, updated_at FROM conversations")).all()

    with op.batch_alter_table("clinicians") as batch:
        batch.alter_column("telegram_index", existing_type=_BIN, nullable=False)
        batch.create_unique_constraint("uq_clinicians_telegram_index", ["telegram_index"])
    with op.batch_alter_table("clients") as batch:
        batch.drop_constraint("uq_clients_telegram_id", type_="unique")
        batch.drop_column("telegram_id")
        batch.create_unique_constraint("uq_clients_telegram_index", ["telegram_index"])
    with op.batch_alter_table("enrolment_attempts") as batch:
        batch.drop_index("ix_enrolment_attempts_telegram_id")
        batch.drop_column("telegram_id")
        batch.alter_column("telegram_index", existing_type=_BIN, nullable=False)
        batch.create_index("ix_enrolment_attempts_telegram_index", ["telegram_index"])
    with op.batch_alter_table("checkins") as batch:
        batch.drop_column("risk_level")
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("level")
        batch.alter_column("level_ct", existing_type=_BIN, nullable=False)
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("chat_id")
        batch.alter_column("chat_index", existing_type=_BIN, nullable=False)

    op.drop_table("conversations")
    table = op.create_table(
        "conversations",
        sa.Column("telegram_index", _BIN, nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("telegram_index", name=op.f("pk_conversations")),
    )
    if conversations:
        op.bulk_insert(table, [{"telegram_index": keys.index(row.telegram_id), "state": row.state,
                                "data": row.data, "updated_at": row.updated_at}
                               for row in conversations])


def downgrade() -> None:
    """Back to plaintext, which needs the master keys as the upgrade did when rows exist.
    Conversations and wrong-code attempts cannot be mapped back from an index: they are
    dropped (a person mid-way starts that exchange again)."""
    bind = op.get_bind()
    keys = MigrationKeys(bind, needs="seals Telegram ids and risk levels already stored")
    with op.batch_alter_table("clients") as batch:
        batch.add_column(sa.Column("telegram_id", sa.BigInteger(), nullable=True))
    with op.batch_alter_table("enrolment_attempts") as batch:
        batch.add_column(sa.Column("telegram_id", sa.BigInteger(), nullable=True))
    with op.batch_alter_table("checkins") as batch:
        batch.add_column(sa.Column("risk_level", sa.String(length=16), nullable=True))
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("level", sa.String(length=16), nullable=True))
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("chat_id", sa.BigInteger(), nullable=True))

    for row in bind.execute(sa.select(clients.c.id, clients.c.telegram_id_ct)
                            .where(clients.c.telegram_id_ct.is_not(None))).all():
        bind.execute(clients.update().where(clients.c.id == row.id).values(
            telegram_id=keys.open("people", "clients.telegram_id", row.id, row.telegram_id_ct)))
    for row in bind.execute(sa.select(checkins.c.id, checkins.c.risk_level_ct)
                            .where(checkins.c.risk_level_ct.is_not(None))).all():
        bind.execute(checkins.update().where(checkins.c.id == row.id).values(
            risk_level=keys.open("people", "checkins.risk_level", row.id, row.risk_level_ct)))
    for row in bind.execute(sa.select(alerts.c.id, alerts.c.level_ct)).all():
        bind.execute(alerts.update().where(alerts.c.id == row.id).values(
            level=keys.open("people", "alerts.level", row.id, row.level_ct)))
    for row in bind.execute(sa.select(outbox.c.id, outbox.c.payload_ct)).all():
        payload = keys.open("outbox", "outbox.payload", row.id, row.payload_ct)
        chat_id = payload.pop("chat_id")
        bind.execute(outbox.update().where(outbox.c.id == row.id).values(
            chat_id=chat_id, payload_ct=keys.seal("outbox", "outbox.payload", row.id, payload)))
    bind.execute(attempts.delete())

    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("chat_index")
        batch.alter_column("chat_id", existing_type=sa.BigInteger(), nullable=False)
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("level_ct")
        batch.alter_column("level", existing_type=sa.String(length=16), nullable=False)
    with op.batch_alter_table("checkins") as batch:
        batch.drop_column("risk_level_ct")
    with op.batch_alter_table("enrolment_attempts") as batch:
        batch.drop_index("ix_enrolment_attempts_telegram_index")
        batch.drop_column("telegram_index")
        batch.alter_column("telegram_id", existing_type=sa.BigInteger(), nullable=False)
        batch.create_index("ix_enrolment_attempts_telegram_id", ["telegram_id"])
    with op.batch_alter_table("clients") as batch:
        batch.drop_constraint("uq_clients_telegram_index", type_="unique")
        batch.drop_column("telegram_index")
        batch.drop_column("telegram_id_ct")
        batch.create_unique_constraint("uq_clients_telegram_id", ["telegram_id"])
    with op.batch_alter_table("clinicians") as batch:
        batch.drop_constraint("uq_clinicians_telegram_index", type_="unique")
        batch.drop_column("telegram_index")

    op.drop_table("conversations")
    op.create_table(
        "conversations",
        sa.Column("telegram_id", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("telegram_id", name=op.f("pk_conversations")),
    )
