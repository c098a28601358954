"""alert notes: a list per alert (who, when, text), added to and never replaced

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 23:40:00.000000

An alert's single note (alerts.ack_note_ct) becomes the first note of its list, written by
whoever acknowledged the alert, at that time. Its ciphertext moves as it is: it was sealed
for the place "alerts.ack_note" and the alert's id, so the migrated note takes the alert's
id as its own (a note is opened with its own id), and no key is needed to migrate.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "alert_notes",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("alert_id", sa.String(length=32), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("text_ct", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["alert_id"], ["alerts.id"],
                                name=op.f("fk_alert_notes_alert_id_alerts")),
        sa.ForeignKeyConstraint(["author_id"], ["clinicians.id"],
                                name=op.f("fk_alert_notes_author_id_clinicians")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_notes")),
    )
    op.create_index(op.f("ix_alert_notes_alert_id"), "alert_notes", ["alert_id"])
    op.execute(
        "INSERT INTO alert_notes (id, alert_id, author_id, at, text_ct) "
        "SELECT id, id, acknowledged_by, COALESCE(acknowledged_at, created_at), ack_note_ct "
        "FROM alerts WHERE ack_note_ct IS NOT NULL")
    # ALTER TABLE ... DROP COLUMN (SQLite 3.35 and later): a batch copy of the table would
    # have to drop `alerts`, which alert_copies and alert_notes refer to.
    op.drop_column("alerts", "ack_note_ct")


def downgrade() -> None:
    """Back to one note per alert: only a note migrated from it can return (later notes
    were sealed for their own ids, which the old column cannot name), so they are lost."""
    op.add_column("alerts", sa.Column("ack_note_ct", sa.LargeBinary(), nullable=True))
    op.execute(
        "UPDATE alerts SET ack_note_ct = (SELECT text_ct FROM alert_notes "
        "WHERE alert_notes.id = alerts.id)")
    op.drop_index(op.f("ix_alert_notes_alert_id"), table_name="alert_notes")
    op.drop_table("alert_notes")
