"""A case object may carry a committee member's signed redaction record (COMPLIANCE.md D9).

The redacted version replaces the original envelope in ``case_object.envelope``; the original
transcript hash stays in ``case_object.hash``; ``case_object.redaction`` holds the record that
binds the two (crypto/redaction.py).

Downgrade drops the records: the redacted versions stay (the original ciphertext is gone for
good), and an earlier client reports them as objects whose signature does not verify.

Revision ID: 0013_redaction
Revises: 0012_no_case_times
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_redaction"
down_revision = "0012_no_case_times"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("case_object", sa.Column("redaction", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    op.execute("ALTER TABLE case_object DROP COLUMN redaction")
