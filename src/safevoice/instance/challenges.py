"""Spent challenges: each proof-of-work or login challenge counts once, until it expires.

Two memories. The database remembers every challenge that was *used* (a case, a session or an
upload came of it), for every worker and host. Each worker also remembers, in memory only, the
verdict of every answer it checked with Argon2id: a challenge answered wrongly is spent by that
first wrong answer (asking again costs one lookup, not another Argon2id), and an answer found
right is not checked again when an idempotent retry repeats it. Junk therefore never writes to
the database, and no worker runs Argon2id twice for one challenge. The memory is bounded: it
forgets the oldest verdicts first, and expired ones as it goes.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from safevoice.clock import round_up
from safevoice.crypto import pow as powmod
from safevoice.errors import ChallengeRejected
from safevoice.instance.models import SpentChallenge


def is_spent(session: Session, challenge: powmod.Challenge) -> bool:
    digest_ = challenge.digest
    found = session.scalar(select(SpentChallenge.digest).where(SpentChallenge.digest == digest_))
    return found is not None


def spend_challenge(session: Session, challenge: powmod.Challenge) -> None:
    """Remember a challenge as spent until it expires; refuse one that already is."""
    if is_spent(session, challenge):
        raise ChallengeRejected("This challenge was already used; ask for a new one.")
    session.add(
        SpentChallenge(
            digest=challenge.digest,
            expires_at=round_up(datetime.fromtimestamp(challenge.expires, UTC)),
        )
    )


# A verdict is about 200 bytes of Python objects: this bounds the memory at a few MiB a worker.
VERDICT_CAPACITY = 32_768
_WRONG = b""


class WorkVerdicts:
    """One worker's verdicts on the answers it checked, bounded, oldest forgotten first."""

    def __init__(self, capacity: int = VERDICT_CAPACITY) -> None:
        self._capacity = capacity
        # challenge digest → (the right solution, or _WRONG; the challenge's expiry)
        self._seen: OrderedDict[bytes, tuple[bytes, int]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._seen)

    def check(self, challenge: powmod.Challenge, solution: str, *, now: int | None = None) -> None:
        """Refuse an answer that does not solve ``challenge``; at most one Argon2id per
        challenge on this worker. Raises ChallengeRejected."""
        key = challenge.digest[:16]
        answer = solution.encode("ascii", "replace")
        with self._lock:
            known = self._seen.get(key)
        if known is not None:
            if known[0] == _WRONG:
                raise ChallengeRejected(
                    "This challenge was already answered wrongly; ask for a new one."
                )
            if known[0] != answer:
                raise ChallengeRejected("This challenge was already used; ask for a new one.")
            return
        # The first stage costs one BLAKE2b; a missing stamp is not worth remembering.
        if not powmod.stamped(challenge, solution):
            raise ChallengeRejected("The proof of work does not solve the challenge.")
        right = powmod.worked(challenge, solution)
        self._remember(key, answer if right else _WRONG, challenge.expires, now)
        if not right:
            raise ChallengeRejected("The proof of work does not solve the challenge.")

    def _remember(self, key: bytes, verdict: bytes, expires: int, now: int | None) -> None:
        current = int(time.time()) if now is None else now
        with self._lock:
            self._seen[key] = (verdict, expires)
            while self._seen:
                oldest_key, (_, oldest_expiry) = next(iter(self._seen.items()))
                if len(self._seen) <= self._capacity and oldest_expiry > current:
                    break
                del self._seen[oldest_key]


# Per process, like the parsed-manifest memo: each worker keeps its own verdicts.
verdicts = WorkVerdicts()


def check_work(challenge: powmod.Challenge, solution: str) -> None:
    """This worker's two-stage check of a proof of work (see ``WorkVerdicts.check``)."""
    verdicts.check(challenge, solution)
