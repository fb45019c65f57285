"""Case workflow: status days, handler, recusals, corrective actions.

Revision ID: 0006_workflow
Revises: 0002_dialogue

Columns are added and dropped with plain ALTER TABLE, never with a batch table rebuild, which
would lose the tables' WITHOUT ROWID property on SQLite.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_workflow"
down_revision = "0002_dialogue"
branch_labels = None
depends_on = None

NEW_CASE_COLUMNS = ("feedback_on", "handler", "offered_to", "rekey_needed")


def upgrade() -> None:
    op.add_column("case_file", sa.Column("feedback_on", sa.Date(), nullable=True))
    op.add_column("case_file", sa.Column("handler", sa.String(length=32), nullable=True))
    op.add_column("case_file", sa.Column("offered_to", sa.String(length=32), nullable=True))
    op.add_column(
        "case_file",
        sa.Column("rekey_needed", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_table(
        "status_change",
        sa.Column("id", sa.String(length=22), nullable=False),
        sa.Column("case_id", sa.String(length=22), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("on", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["case_file.id"],
            name=op.f("fk_status_change_case_id_case_file"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_status_change")),
        sqlite_with_rowid=False,
    )
    op.create_index(op.f("ix_status_change_case_id"), "status_change", ["case_id"])
    op.create_table(
        "recusal",
        sa.Column("case_id", sa.String(length=22), nullable=False),
        sa.Column("member_id", sa.String(length=32), nullable=False),
        sa.Column("on", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["case_file.id"],
            name=op.f("fk_recusal_case_id_case_file"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("case_id", "member_id", name=op.f("pk_recusal")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "corrective_action",
        sa.Column("id", sa.String(length=22), nullable=False),
        sa.Column("case_id", sa.String(length=22), nullable=False),
        sa.Column("owner", sa.String(length=32), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_on", sa.Date(), nullable=False),
        sa.Column("done_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["case_file.id"],
            name=op.f("fk_corrective_action_case_id_case_file"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_corrective_action")),
        sqlite_with_rowid=False,
    )
    op.create_index(op.f("ix_corrective_action_case_id"), "corrective_action", ["case_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_corrective_action_case_id"), table_name="corrective_action")
    op.drop_table("corrective_action")
    op.drop_table("recusal")
    op.drop_index(op.f("ix_status_change_case_id"), table_name="status_change")
    op.drop_table("status_change")
    for column in reversed(NEW_CASE_COLUMNS):
        op.execute(f"ALTER TABLE case_file DROP COLUMN {column}")
