"""Lessons-learned summaries proposed for the digest, and their approvals.

Revision ID: 0015_lessons
Revises: 0014_surveys
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_lessons"
down_revision = "0014_surveys"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lesson",
        sa.Column("id", sa.String(length=43), nullable=False),
        sa.Column("case_id", sa.String(length=22), nullable=False),
        sa.Column("proposer", sa.String(length=72), nullable=False),
        sa.Column("digest", sa.LargeBinary(), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["case_file.id"],
            name=op.f("fk_lesson_case_id_case_file"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lesson")),
        sqlite_with_rowid=False,
    )
    op.create_index(op.f("ix_lesson_case_id"), "lesson", ["case_id"], unique=False)
    op.create_table(
        "lesson_approval",
        sa.Column("lesson_id", sa.String(length=43), nullable=False),
        sa.Column("member", sa.String(length=64), nullable=False),
        sa.Column("sig", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["lesson_id"],
            ["lesson.id"],
            name=op.f("fk_lesson_approval_lesson_id_lesson"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("lesson_id", "member", name=op.f("pk_lesson_approval")),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("lesson_approval")
    op.drop_index(op.f("ix_lesson_case_id"), table_name="lesson")
    op.drop_table("lesson")
