"""Rows written before this version that join a case to a time of day lose that time.

Reporter sessions named their case beside a quarter-hour expiry: they are ended (reporters log
in again; from now on the case id travels inside the token). Idempotency records and uploads
name a case: their expiries move up to the next midnight UTC, as new rows get them.

Downgrade changes nothing: the times removed are not kept anywhere to be restored, and the rows
as they now stand are valid for the earlier version too.

Revision ID: 0012_no_case_times
Revises: 0011_audit
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision = "0012_no_case_times"
down_revision = "0011_audit"
branch_labels = None
depends_on = None

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)


def _whole_day(moment: datetime) -> datetime:
    # The same rounding as safevoice.clock.round_up with DAY, kept here so that this migration
    # does not change when the application code does.
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return EPOCH + -(-(aware - EPOCH) // DAY) * DAY


def upgrade() -> None:
    bind = op.get_bind()
    bind.execute(sa.text("DELETE FROM login_session WHERE role = 'reporter'"))
    for table, key in (("idempotency_key", "key_digest"), ("upload", "id")):
        rows = bind.execute(
            sa.text(f"SELECT {key}, expires_at FROM {table}")  # noqa: S608 - names from this file
        ).all()
        for row_key, expires_at in rows:
            moment = (
                expires_at
                if isinstance(expires_at, datetime)
                else datetime.fromisoformat(str(expires_at))
            )
            update = sa.text(
                f"UPDATE {table} SET expires_at = :day WHERE {key} = :key"  # noqa: S608 - names from this file
            ).bindparams(sa.bindparam("day", type_=sa.DateTime(timezone=True)))
            bind.execute(update, {"day": _whole_day(moment), "key": row_key})


def downgrade() -> None:
    pass
