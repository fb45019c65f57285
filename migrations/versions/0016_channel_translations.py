"""The channels' titles, descriptions and questions in the operator's other languages.

Revision ID: 0016_channel_translations
Revises: 0015_lessons
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016_channel_translations"
down_revision = "0015_lessons"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing channels have their texts in the default language only.
    op.add_column(
        "channel",
        sa.Column("translations", sa.Text(), nullable=False, server_default="{}"),
    )


def downgrade() -> None:
    op.execute("ALTER TABLE channel DROP COLUMN translations")
