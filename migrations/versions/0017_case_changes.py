"""Each case carries a change marker, so a member's client syncs only what changed.

``version`` rises by one with every change a member's client syncs (an object appended or
redacted, a status, a claim, a recusal, a re-key, a corrective action); ``changed_on`` is the
day (never the time) of the latest one, indexed so that "cases changed since a day" is a range
read. There is deliberately no global change counter: it would order the cases' arrivals within
a day, which the schema never records (invariant 2, migration 0012).

Existing cases start at version 1, changed on the day they were received: a client syncs them
all once anyway, since it has no marker yet.

Revision ID: 0017_case_changes
Revises: 0016_channel_translations
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017_case_changes"
down_revision = "0016_channel_translations"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "case_file", sa.Column("version", sa.Integer(), nullable=False, server_default="1")
    )
    # SQLite adds a NOT NULL column only with a default; the day is set right after. (A batch
    # rebuild of case_file would not keep it WITHOUT ROWID.)
    op.add_column(
        "case_file",
        sa.Column("changed_on", sa.Date(), nullable=False, server_default="1970-01-01"),
    )
    op.execute("UPDATE case_file SET changed_on = received_on")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE case_file ALTER COLUMN changed_on DROP DEFAULT")
    op.create_index(op.f("ix_case_file_changed_on"), "case_file", ["changed_on"])


def downgrade() -> None:
    op.drop_index(op.f("ix_case_file_changed_on"), table_name="case_file")
    op.execute("ALTER TABLE case_file DROP COLUMN changed_on")
    op.execute("ALTER TABLE case_file DROP COLUMN version")
