"""Raising the submission proof of work while the intake is flooded.

Each worker counts the submissions it accepted in the last minute, in memory only (nothing
about when a report arrived is ever written). When one worker sees more than the configured
rate, it raises the instance's *surge*: extra difficulty for every submission challenge issued
from then on, for a quarter of an hour, shared by every worker and host through the database.
A flood that goes on keeps raising it, two bits at a time; once it stops, the surge lapses by
itself. What the database keeps is one value, "extra difficulty until <minute>", which says
that there was a flood, never when any one report came.
"""

from __future__ import annotations

import threading
import time
from collections import deque

WINDOW_SECONDS = 60.0


class FloodMeter:
    """Accepted submissions of one worker over the last minute (0 per minute disables it)."""

    def __init__(self, per_minute: int) -> None:
        self._limit = per_minute
        self._seen: deque[float] = deque()
        self._raised_at: float | None = None
        self._lock = threading.Lock()

    def accepted(self, *, at: float | None = None) -> bool:
        """Count one accepted submission; True when the surge should be raised now (at most
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
