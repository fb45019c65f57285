"""Stateless challenges and the memory-hard proof of work that guards the intake.

A challenge is ``version ‖ purpose ‖ difficulty ‖ expiry ‖ nonce`` authenticated with a MAC
under the server's own challenge key (kept in the database, so every worker can check any
challenge without remembering it). Solving one means finding an 8-byte counter for which
Argon2id (1 MiB, one pass) over the challenge and the counter starts with ``difficulty`` zero
bits; checking a solution costs the server one such derivation and no database write. Spent
challenges are remembered by the caller until they expire. Nothing in a challenge identifies
the client that asked for it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import nacl.bindings
import nacl.pwhash

from safevoice.crypto.encoding import b64d, b64e, lp
from safevoice.crypto.keys import blake2b, random_bytes
from safevoice.errors import BadEncoding, ChallengeRejected

CHALLENGE_VERSION = 1
MAC_CONTEXT = "safevoice-challenge-v1"
WORK_CONTEXT = "safevoice-pow-v1"
PURPOSES = {"submit": 1, "reporter-login": 2, "member-login": 3, "upload": 4}
WORK_MEMLIMIT = 1024 * 1024
WORK_OPSLIMIT = 1
MAX_DIFFICULTY = 24
NONCE_BYTES = 16
MAC_BYTES = 16
SOLUTION_BYTES = 8
_BODY = struct.Struct(">BBBQ16s")
CHALLENGE_BYTES = _BODY.size + MAC_BYTES


@dataclass(frozen=True)
class Challenge:
    purpose: str
    difficulty: int
    expires: int
    nonce: bytes
    raw: bytes

    @property
    def token(self) -> str:
        return b64e(self.raw)

    @property
    def digest(self) -> bytes:
        """What the server remembers of a spent challenge."""
        return blake2b(self.raw)


def new_challenge_key() -> bytes:
    return random_bytes(32)


def _mac(key: bytes, body: bytes) -> bytes:
    return blake2b(lp(MAC_CONTEXT, body), size=MAC_BYTES, key=key)


def issue(key: bytes, *, purpose: str, difficulty: int, expires: int) -> Challenge:
    if not 0 <= difficulty <= MAX_DIFFICULTY:
        raise ValueError("difficulty out of range")
    nonce = random_bytes(NONCE_BYTES)
    body = _BODY.pack(CHALLENGE_VERSION, PURPOSES[purpose], difficulty, expires, nonce)
    raw = body + _mac(key, body)
    return Challenge(purpose=purpose, difficulty=difficulty, expires=expires, nonce=nonce, raw=raw)


def parse(token: str) -> Challenge:
    """Parse a challenge without checking its MAC (clients use this to solve it)."""
    try:
        raw = b64d(token, size=CHALLENGE_BYTES, what="challenge")
    except BadEncoding as exc:
        raise ChallengeRejected("The challenge is malformed; ask for a new one.") from exc
    version, purpose_code, difficulty, expires, nonce = _BODY.unpack(raw[: _BODY.size])
    purposes = {v: k for k, v in PURPOSES.items()}
    if version != CHALLENGE_VERSION or purpose_code not in purposes:
        raise ChallengeRejected("The challenge is malformed; ask for a new one.")
    return Challenge(
        purpose=purposes[purpose_code],
        difficulty=difficulty,
        expires=expires,
        nonce=nonce,
        raw=raw,
    )


def authenticate(key: bytes, token: str, *, purpose: str, now: int) -> Challenge:
    """Check a challenge's MAC, purpose and expiry (no database access)."""
    challenge = parse(token)
    expected = _mac(key, challenge.raw[: _BODY.size])
    if not nacl.bindings.sodium_memcmp(expected, challenge.raw[_BODY.size :]):
        raise ChallengeRejected("The challenge was not issued by this server; ask for a new one.")
    if challenge.purpose != purpose:
        raise ChallengeRejected("The challenge was issued for another purpose.")
    if now >= challenge.expires:
        raise ChallengeRejected("The challenge has expired; ask for a new one.")
    return challenge


def _work(challenge: Challenge, solution: bytes) -> bytes:
    return nacl.pwhash.argon2id.kdf(
        32,
        lp(WORK_CONTEXT, challenge.raw, solution),
        challenge.nonce,
        opslimit=WORK_OPSLIMIT,
        memlimit=WORK_MEMLIMIT,
    )


def _leading_zero_bits(digest: bytes) -> int:
    value = int.from_bytes(digest, "big")
    return len(digest) * 8 - value.bit_length()


def solves(challenge: Challenge, solution: str) -> bool:
    try:
        raw = b64d(solution, size=SOLUTION_BYTES, what="solution")
    except BadEncoding:
        return False
    if challenge.difficulty == 0:
        return True
    return _leading_zero_bits(_work(challenge, raw)) >= challenge.difficulty


def solve(challenge: Challenge) -> str:
    """Find a solution by brute force (about 2**difficulty Argon2id evaluations)."""
    start = int.from_bytes(random_bytes(SOLUTION_BYTES), "big") >> 1
    counter = start
    while True:
        candidate = counter.to_bytes(SOLUTION_BYTES, "big")
        if challenge.difficulty == 0 or (
            _leading_zero_bits(_work(challenge, candidate)) >= challenge.difficulty
        ):
            return b64e(candidate)
        counter += 1
