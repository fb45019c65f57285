"""Dialogue: failed reporter logins per hour, and the reporter's latest message per case.

Revision ID: 0002_dialogue
Revises: 0001

Columns are added and dropped with plain ALTER TABLE (SQLite 3.35+ supports both), never with
a batch table rebuild, which would lose the tables' WITHOUT ROWID property.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_dialogue"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_failure_window",
        sa.Column("window", sa.String(length=32), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("window", name=op.f("pk_login_failure_window")),
        sqlite_with_rowid=False,
    )
    op.add_column(
        "case_file",
        sa.Column("last_reporter_seq", sa.Integer(), nullable=False, server_default="0"),
    )


def downgrade() -> None:
    op.execute("ALTER TABLE case_file DROP COLUMN last_reporter_seq")
    op.drop_table("login_failure_window")
