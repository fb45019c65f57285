"""Each attachment names the thread object that carries its key, so a redaction of that report
or message can remove the file too (COMPLIANCE.md D9).

Files attached before keep no position (NULL): the server cannot read which object carries
them, so a redaction of any object of their case may remove them; the redaction record, signed
by the member, names them either way.

Revision ID: 0018_attachment_object
Revises: 0017_case_changes
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018_attachment_object"
down_revision = "0017_case_changes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("attachment", sa.Column("seq", sa.Integer(), nullable=True))


def downgrade() -> None:
    op.execute("ALTER TABLE attachment DROP COLUMN seq")
