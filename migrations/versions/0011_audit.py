"""Audit checkpoints signed by the instance key and auditors' countersignatures.

Revision ID: 0011_audit
Revises: 0009_attachments
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_audit"
down_revision = "0010_retention"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_checkpoint",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("head", sa.LargeBinary(), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_checkpoint")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "audit_countersignature",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("auditor", sa.String(length=64), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["seq"],
            ["audit_checkpoint.seq"],
            name=op.f("fk_audit_countersignature_seq_audit_checkpoint"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("seq", "auditor", name=op.f("pk_audit_countersignature")),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("audit_countersignature")
    op.drop_table("audit_checkpoint")
