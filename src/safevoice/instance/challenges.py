"""Spent challenges: each proof-of-work or login challenge counts once, until it expires."""

from __future__ import annotations

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
