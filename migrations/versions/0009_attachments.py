"""Attachments: uploads, the attachments they become, and the database blob store.

Revision ID: 0009_attachments
Revises: 0006_workflow
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_attachments"
down_revision = "0006_workflow"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "blob_chunk",
        sa.Column("upload_id", sa.String(length=22), nullable=False),
        sa.Column("index", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("upload_id", "index", name=op.f("pk_blob_chunk")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "upload",
        sa.Column("id", sa.String(length=22), nullable=False),
        sa.Column("case_id", sa.String(length=22), nullable=False),
        sa.Column("received", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_upload")),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("upload", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_upload_case_id"), ["case_id"], unique=False)

    op.create_table(
        "attachment",
        sa.Column("upload_id", sa.String(length=22), nullable=False),
        sa.Column("case_id", sa.String(length=22), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["case_file.id"],
            name=op.f("fk_attachment_case_id_case_file"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["upload_id"],
            ["upload.id"],
            name=op.f("fk_attachment_upload_id_upload"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("upload_id", name=op.f("pk_attachment")),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("attachment", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_attachment_case_id"), ["case_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("attachment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_attachment_case_id"))

    op.drop_table("attachment")
    with op.batch_alter_table("upload", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_upload_case_id"))

    op.drop_table("upload")
    op.drop_table("blob_chunk")
