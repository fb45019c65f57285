"""Trying again, for a bounded time, while the server is unreachable or briefly unavailable.

A database outage or a dropped Tor circuit must not turn into a lost or a doubled report: the
reporter's client keeps what it sends (already encrypted) and sends exactly the same request
again, with the same idempotency key, waiting longer between attempts (with jitter, so that
many clients do not come back at the same instant) until it lands or the time is up. Each
wait is announced in a plain sentence. Only failures that a later attempt can cure are
retried: no answer at all, or 503; a refusal is final.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from safevoice import errors

T = TypeVar("T")
TRANSIENT = (errors.Unreachable, errors.Unavailable)


class GaveUp(errors.ClientError):
    """Every attempt in the allotted time failed; ``last`` is the last failure."""

    code = "gave_up"

    def __init__(self, message: str, *, attempts: int, last: errors.SafeVoiceError) -> None:
        super().__init__(message)
        self.attempts = attempts
        self.last = last


def _quiet(_message: str) -> None:
    return None


@dataclass
class Patience:
    seconds: float = 600.0
    first_wait: float = 1.0
    longest_wait: float = 30.0
    tell: Callable[[str], None] = _quiet
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic

    def run(self, attempt: Callable[[], T], *, what: str = "the request") -> T:
        """``attempt()`` until it succeeds, fails for good, or ``seconds`` have passed."""
        deadline = self.clock() + self.seconds
        wait = self.first_wait
        attempts = 0
        while True:
            attempts += 1
            try:
                return attempt()
            except TRANSIENT as exc:
                left = deadline - self.clock()
                if left <= 0:
                    raise GaveUp(
                        f"{exc.message} Tried {attempts} times in {self.seconds:.0f} s.",
                        attempts=attempts,
                        last=exc,
                    ) from exc
                # Jitter only spreads the clients' attempts; it protects no secret.
                pause = min(wait * random.uniform(0.5, 1.0), left)  # noqa: S311 - see above
                self.tell(
                    f"{_reason(exc)} Trying again to send {what} in {pause:.0f} s "
                    f"(attempt {attempts + 1}; giving up in {left:.0f} s)."
                )
                self.sleep(pause)
                wait = min(wait * 2, self.longest_wait)


def _reason(exc: errors.SafeVoiceError) -> str:
    if isinstance(exc, errors.StorageFull):
        return "The server's storage is full."
    if isinstance(exc, errors.Unavailable):
        return "The server is temporarily unavailable."
    return "The server cannot be reached."
