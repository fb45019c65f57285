"""Trying again, for a bounded time, while the server is unreachable or briefly unavailable.

A database outage or a dropped Tor circuit must not turn into a lost or a doubled report: the
reporter's client keeps what it sends (already encrypted) and sends exactly the same request
again, with the same idempotency key, waiting longer between attempts (with jitter, so that
many clients do not come back at the same instant) until it lands or the time is up. Each
wait is announced in a plain sentence. Only failures that a later attempt can cure are
retried: no answer at all, or 503; a refusal is final.

The sentences are English message ids marked for the reporter's catalogues; ``say`` fills
them (the reporter's command line passes its catalogue, so each wait is announced in the
reporter's language).
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


def N_(text: str) -> str:  # noqa: N802 - the usual gettext name for "mark, translate later"
    """Marks ``text`` for the reporter's catalogue; ``Patience.say`` translates it."""
    return text


def _english(message: str, **values: object) -> str:
    return message % values if values else message


STORAGE_FULL = N_("The server's storage is full.")
UNAVAILABLE = N_("The server is temporarily unavailable.")
UNREACHABLE = N_("The server cannot be reached.")
TRYING_AGAIN = N_(
    "%(reason)s Trying again to send %(what)s in %(pause)s s (attempt %(attempt)s; giving up "
    "in %(left)s s)."
)
TRIED = N_("%(reason)s Tried %(attempts)s times in %(seconds)s s.")


@dataclass
class Patience:
    seconds: float = 600.0
    first_wait: float = 1.0
    longest_wait: float = 30.0
    tell: Callable[[str], None] = _quiet
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    say: Callable[..., str] = _english

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
                        self.say(
                            TRIED,
                            reason=self.say(_reason(exc)),
                            attempts=attempts,
                            seconds=f"{self.seconds:.0f}",
                        ),
                        attempts=attempts,
                        last=exc,
                    ) from exc
                # Jitter only spreads the clients' attempts; it protects no secret.
                pause = min(wait * random.uniform(0.5, 1.0), left)  # noqa: S311 - see above
                self.tell(
                    self.say(
                        TRYING_AGAIN,
                        reason=self.say(_reason(exc)),
                        what=self.say(what),
                        pause=f"{pause:.0f}",
                        attempt=attempts + 1,
                        left=f"{left:.0f}",
                    )
                )
                self.sleep(pause)
                wait = min(wait * 2, self.longest_wait)


def _reason(exc: errors.SafeVoiceError) -> str:
    if isinstance(exc, errors.StorageFull):
        return STORAGE_FULL
    if isinstance(exc, errors.Unavailable):
        return UNAVAILABLE
    return UNREACHABLE
