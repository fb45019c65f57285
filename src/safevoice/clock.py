"""Time helpers. Services receive ``now`` from their caller; nothing here reads a clock twice.

Short-lived rows store only a coarse expiry (rounded up), so a row never records the moment of
the request that created it (invariant 2). Rows that name a case (idempotency records, uploads)
round up to a whole day (``DAY``): a case is tied to a day, never to a time of day.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

COARSE_STEP = timedelta(minutes=15)
DAY = timedelta(days=1)


def utcnow() -> datetime:
    return datetime.now(UTC)


def round_up(moment: datetime, step: timedelta = COARSE_STEP) -> datetime:
    """The first multiple of ``step`` (counted from the epoch) at or after ``moment``."""
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    steps = -(-(moment - epoch) // step)
    return epoch + steps * step


def aware(moment: datetime) -> datetime:
    """SQLite returns naive datetimes; SafeVoice stores every moment in UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
