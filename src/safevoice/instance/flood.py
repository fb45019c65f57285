"""Raising the proof of work while the intake is flooded.

Each worker counts the proof-of-work requests it accepted in the last minute (submissions,
reporter logins and uploads for reports not yet sent), in memory only (nothing about when a
report arrived is ever written). When one worker sees more than the configured rate, it raises
the instance's *surge*: extra difficulty for every proof-of-work challenge issued (submission,
reporter login, upload) from then on, for a quarter of an hour, shared by every worker and
host through the database (``SAFEVOICE_FLOOD_SURGE_SECONDS`` sets how long; tests shorten it).
A flood that goes on keeps raising it, two bits at a time; once it stops, the surge lapses by
itself. What the database keeps is one value, "extra difficulty until <minute>", which says
that there was a flood, never when any one report came.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from datetime import datetime

from sqlalchemy.exc import SQLAlchemyError

from safevoice.instance.service import SURGE_SECONDS, raise_surge
from safevoice.storage.db import Database

log = logging.getLogger("safevoice.instance")

WINDOW_SECONDS = 60.0


class FloodMeter:
    """Accepted proof-of-work requests of one worker over the last minute (0 disables it);
    a surge it raises lasts ``surge_seconds``."""

    def __init__(self, per_minute: int, *, surge_seconds: int = SURGE_SECONDS) -> None:
        self._limit = per_minute
        self.surge_seconds = surge_seconds
        self._seen: deque[float] = deque()
        self._raised_at: float | None = None
        self._lock = threading.Lock()

    def accepted(self, *, at: float | None = None) -> bool:
        """Count one accepted request; True when the surge should be raised now (at most
        once a minute per worker, so a flood costs one small write a minute)."""
        if self._limit <= 0:
            return False
        now = time.monotonic() if at is None else at
        with self._lock:
            self._seen.append(now)
            while self._seen and self._seen[0] <= now - WINDOW_SECONDS:
                self._seen.popleft()
            if len(self._seen) <= self._limit:
                return False
            if self._raised_at is not None and now - self._raised_at < WINDOW_SECONDS:
                return False
            self._raised_at = now
            return True


def note_accepted(meter: FloodMeter, database: Database, now: datetime) -> None:
    """Count one accepted request and, when the flood limit is passed, raise the surge.

    Best effort: the request itself already succeeded; a failed raise is only logged.
    """
    if meter.accepted():
        raise_flood_surge(database, now, seconds=meter.surge_seconds)


def raise_flood_surge(database: Database, now: datetime, *, seconds: int = SURGE_SECONDS) -> None:
    """Raise the surge one step for ``seconds``; best effort, a failure is only logged."""
    try:
        with database.unit_of_work() as session:
            extra = raise_surge(session, now=now, seconds=seconds)
    except SQLAlchemyError:
        log.warning("the intake is flooded, but raising the proof of work failed")
    else:
        log.warning("the intake is flooded: proof of work raised by %d bits", extra)
