"""Pulse surveys: member-signed survey documents and their anonymous encrypted answers.

An answer row holds its ciphertext and its survey, nothing of when or from whom it came.

Revision ID: 0014_surveys
Revises: 0013_redaction
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_surveys"
down_revision = "0013_redaction"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "survey",
        sa.Column("id", sa.String(length=43), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("opens_on", sa.Date(), nullable=False),
        sa.Column("closes_on", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "survey_answer",
        sa.Column("id", sa.String(length=43), nullable=False),
        sa.Column("survey_id", sa.String(length=43), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["survey_id"],
            ["survey.id"],
            name=op.f("fk_survey_answer_survey_id_survey"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_answer")),
        sqlite_with_rowid=False,
    )
    op.create_index(
        op.f("ix_survey_answer_survey_id"), "survey_answer", ["survey_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_survey_answer_survey_id"), table_name="survey_answer")
    op.drop_table("survey_answer")
    op.drop_table("survey")
