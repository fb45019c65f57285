"""Retention: tombstones of purged cases and legal holds.

Revision ID: 0010_retention
Revises: 0009_attachments
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_retention"
down_revision = "0009_attachments"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tombstone",
        sa.Column("case_id", sa.String(length=22), nullable=False),
        sa.Column("channel", sa.String(length=64), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("purged_on", sa.Date(), nullable=False),
        sa.Column("policy", sa.String(length=16), nullable=False),
        sa.Column("policy_days", sa.Integer(), nullable=False),
        sa.Column("since_on", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_tombstone")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "legal_hold",
        sa.Column("case_id", sa.String(length=22), nullable=False),
        sa.Column("held_by", sa.String(length=64), nullable=False),
        sa.Column("held_on", sa.Date(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["case_file.id"],
            name=op.f("fk_legal_hold_case_id_case_file"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_legal_hold")),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("legal_hold")
    op.drop_table("tombstone")
