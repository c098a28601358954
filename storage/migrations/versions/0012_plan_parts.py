"""plan parts: the self-management plan in its parts, kept in versions; suggestions; help now

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-08 02:50:00.000000

A three-section plan (warning signs, coping steps, support people) is opened with its
client's data key and sealed again in the parts of today: warning signs to the offence cycle
placed in no stage yet, coping steps to the coping strategies, each support person's line to
a person's name as written. Nothing is dropped. Each migrated plan becomes its version 1,
saved by no one at the plan's own time. A client whose key was erased keeps the unreadable
row as it was. Opening plans needs the master keys (`steadfast db upgrade` hands them).
"""

import secrets
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from storage.migrations.keys import MigrationKeys

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BIN = sa.LargeBinary()
_TS = sa.DateTime(timezone=True)
plans = sa.table("plans", sa.column("client_id", sa.String()), sa.column("body_ct", _BIN),
                 sa.column("updated_at", _TS), sa.column("updated_by", sa.Integer()),
                 sa.column("version", sa.Integer()))
versions = sa.table("plan_versions", sa.column("id", sa.String()),
                    sa.column("client_id", sa.String()), sa.column("number", sa.Integer()),
                    sa.column("body_ct", _BIN), sa.column("created_at", _TS),
                    sa.column("created_by", sa.Integer()))
OLD = (("warning_signs", "cycle"), ("coping_steps", "coping"), ("support_people", "support"))
MIGRATED = "Moved into the plan's new parts"


def _parts(old: dict[str, Any]) -> dict[str, Any]:
    """This migration's own copy of the conversion (storage.records.upgrade_plan_body may
    change later; what this revision did must not)."""
    parts = {new: [{"text": str(text)} for text in old.get(name, ()) if str(text).strip()]
             for name, new in OLD}
    return {"v": 2, "parts": {k: v for k, v in parts.items() if v}, "stages": {}}


def _old(body: dict[str, Any]) -> dict[str, Any]:
    """Back to three sections: the parts that have no old section are lost."""
    parts = body.get("parts", {})
    old = {name: [item["text"] for item in parts.get(new, [])] for name, new in OLD}
    old["support_people"] = [
        " | ".join([item["text"], *(str(v) for k, v in item.items() if k != "text" and v)])
        for item in parts.get("support", [])]
    old["warning_signs"] = [item["text"] for item in parts.get("cycle", [])]
    return old


def upgrade() -> None:
    bind = op.get_bind()
    with op.batch_alter_table("plans") as batch:
        batch.add_column(sa.Column("version", sa.Integer(), server_default="0", nullable=False))
    op.create_table(
        "plan_versions",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("client_id", sa.String(length=32), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("body_ct", _BIN, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["client_id"], ["clients.id"],
                                name=op.f("fk_plan_versions_client_id_clients")),
        sa.ForeignKeyConstraint(["created_by"], ["clinicians.id"],
                                name=op.f("fk_plan_versions_created_by_clinicians")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_versions")),
        sa.UniqueConstraint("client_id", "number", name=op.f("uq_plan_versions_client_id")),
    )
    op.create_index(op.f("ix_plan_versions_client_id"), "plan_versions", ["client_id"])
    op.create_table(
        "plan_suggestions",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("client_id", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("body_ct", _BIN, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("decided_at", _TS, nullable=True),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["client_id"], ["clients.id"],
                                name=op.f("fk_plan_suggestions_client_id_clients")),
        sa.ForeignKeyConstraint(["decided_by"], ["clinicians.id"],
                                name=op.f("fk_plan_suggestions_decided_by_clinicians")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_suggestions")),
    )
    op.create_index(op.f("ix_plan_suggestions_client_id"), "plan_suggestions", ["client_id"])
    op.create_table(
        "help_moments",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("client_id", sa.String(length=32), nullable=False),
        sa.Column("at", _TS, nullable=False),
        sa.Column("body_ct", _BIN, nullable=False),
        sa.ForeignKeyConstraint(["client_id"], ["clients.id"],
                                name=op.f("fk_help_moments_client_id_clients")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_help_moments")),
    )
    op.create_index(op.f("ix_help_moments_client_id"), "help_moments", ["client_id"])

    rows = bind.execute(sa.select(plans.c.client_id, plans.c.body_ct, plans.c.updated_at,
                                  plans.c.updated_by)).all()
    if not rows:
        return
    keys = MigrationKeys(bind, needs="moves the plans already stored into their new parts")
    for row in rows:
        key = keys.client_key(row.client_id)
        if key is None:
            continue  # erased: nothing can be read, nothing to move
        old = keys.open_for(key, row.client_id, "plans.body", row.client_id, row.body_ct)
        body = old if "v" in old else _parts(old)
        version_id = secrets.token_hex(16)
        bind.execute(plans.update().where(plans.c.client_id == row.client_id).values(
            body_ct=keys.seal_for(key, row.client_id, "plans.body", row.client_id, body),
            version=1))
        bind.execute(versions.insert().values(
            id=version_id, client_id=row.client_id, number=1, created_at=row.updated_at,
            created_by=None, body_ct=keys.seal_for(
                key, row.client_id, "plan_versions.body", version_id,
                {"plan": body, "reason": MIGRATED})))


def downgrade() -> None:
    """Back to three sections: parts that had no section of old (situations, controls,
    restrictions, goals, help now) and the versions, suggestions and help-now moments are
    lost; a support person's fields join their line."""
    bind = op.get_bind()
    rows = bind.execute(sa.select(plans.c.client_id, plans.c.body_ct)).all()
    keys = MigrationKeys(bind, needs="moves the plans back into three sections")
    for row in rows:
        key = keys.client_key(row.client_id)
        if key is None:
            continue
        body = keys.open_for(key, row.client_id, "plans.body", row.client_id, row.body_ct)
        if "v" in body:
            bind.execute(plans.update().where(plans.c.client_id == row.client_id).values(
                body_ct=keys.seal_for(key, row.client_id, "plans.body", row.client_id,
                                      _old(body))))
    op.drop_index(op.f("ix_help_moments_client_id"), table_name="help_moments")
    op.drop_table("help_moments")
    op.drop_index(op.f("ix_plan_suggestions_client_id"), table_name="plan_suggestions")
    op.drop_table("plan_suggestions")
    op.drop_index(op.f("ix_plan_versions_client_id"), table_name="plan_versions")
    op.drop_table("plan_versions")
    with op.batch_alter_table("plans") as batch:
        batch.drop_column("version")
