"""Stateless challenges and the memory-hard proof of work that guards the intake.

A challenge is ``version ‖ purpose ‖ difficulty ‖ expiry ‖ nonce`` authenticated with a MAC
under the server's own challenge key (kept in the database, so every worker can check any
challenge without remembering it). Solving one means finding an 8-byte counter for which
Argon2id (1 MiB, one pass) over the challenge and the counter starts with ``difficulty`` zero
bits; checking a solution costs the server one such derivation and no database write. Spent
challenges are remembered by the caller until they expire. Nothing in a challenge identifies
the client that asked for it.

A solution is that counter followed by an 8-byte *stamp*: BLAKE2b-256 over the challenge, the
counter and the stamp must start with ``STAMP_BITS`` zero bits. The server checks the stamp
first, with one BLAKE2b, and runs Argon2id only for an answer that carries a valid one. An
honest client finds its stamp once, for the counter that solves the challenge; a sender of junk
must find a new one (about 2**15 BLAKE2b, more than the server's Argon2id check costs even with
fast native code) for every answer it wants the server to check, so junk costs the sender at
least what it costs the server.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

import nacl.bindings
import nacl.pwhash

from safevoice.crypto.encoding import b64d, b64e, lp, u32
from safevoice.crypto.keys import blake2b, random_bytes
from safevoice.errors import BadEncoding, ChallengeRejected

CHALLENGE_VERSION = 1
MAC_CONTEXT = "safevoice-challenge-v1"
WORK_CONTEXT = "safevoice-pow-v1"
STAMP_CONTEXT = "safevoice-pow-stamp-v1"
# 2**15 BLAKE2b of one block: several milliseconds in native code, more than the one Argon2id
# (1 MiB, about 1.5 ms) that the server spends on an answer whose stamp is valid.
STAMP_BITS = 15
PURPOSES = {"submit": 1, "reporter-login": 2, "member-login": 3, "upload": 4, "survey": 5}
WORK_MEMLIMIT = 1024 * 1024
WORK_OPSLIMIT = 1
MAX_DIFFICULTY = 24
NONCE_BYTES = 16
MAC_BYTES = 16
COUNTER_BYTES = 8
STAMP_BYTES = 8
SOLUTION_BYTES = COUNTER_BYTES + STAMP_BYTES
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


def _work(challenge: Challenge, counter: bytes) -> bytes:
    return nacl.pwhash.argon2id.kdf(
        32,
        lp(WORK_CONTEXT, challenge.raw, counter),
        challenge.nonce,
        opslimit=WORK_OPSLIMIT,
        memlimit=WORK_MEMLIMIT,
    )


def _leading_zero_bits(digest: bytes) -> int:
    value = int.from_bytes(digest, "big")
    return len(digest) * 8 - value.bit_length()


def _stamp_prefix(challenge: Challenge, counter: bytes) -> bytes:
    """The stamp's hash input up to the stamp itself (the stamp is its last field)."""
    return lp(STAMP_CONTEXT, challenge.raw, counter) + u32(STAMP_BYTES)


def stamp_digest(challenge: Challenge, counter: bytes, stamp: bytes) -> bytes:
    """BLAKE2b-256(lp(STAMP_CONTEXT, challenge, counter, stamp))."""
    return hashlib.blake2b(_stamp_prefix(challenge, counter) + stamp, digest_size=32).digest()


def decode_solution(solution: str) -> tuple[bytes, bytes] | None:
    """(counter, stamp) of a well-formed solution, or None."""
    try:
        raw = b64d(solution, size=SOLUTION_BYTES, what="solution")
    except BadEncoding:
        return None
    return raw[:COUNTER_BYTES], raw[COUNTER_BYTES:]


def stamped(challenge: Challenge, solution: str) -> bool:
    """The cheap first stage: a well-formed answer with a valid stamp (one BLAKE2b)."""
    parts = decode_solution(solution)
    if parts is None:
        return False
    return challenge.difficulty == 0 or (
        _leading_zero_bits(stamp_digest(challenge, *parts)) >= STAMP_BITS
    )


def worked(challenge: Challenge, solution: str) -> bool:
    """The second stage alone: one Argon2id over the counter (call after ``stamped``)."""
    parts = decode_solution(solution)
    if parts is None:
        return False
    return challenge.difficulty == 0 or (
        _leading_zero_bits(_work(challenge, parts[0])) >= challenge.difficulty
    )


def solves(challenge: Challenge, solution: str) -> bool:
    """Both stages: the stamp first, then, only if it holds, one Argon2id."""
    return stamped(challenge, solution) and worked(challenge, solution)


def _find_stamp(challenge: Challenge, counter: bytes) -> bytes:
    """About 2**STAMP_BITS BLAKE2b, from a prefix hashed once.

    The loop is the reporter's CPU cost in Python, so it compares the digest's first eight
    bytes with a bound instead of counting its zero bits (same condition, a third faster).
    """
    fresh = hashlib.blake2b(_stamp_prefix(challenge, counter), digest_size=32).copy
    bound = 1 << (64 - STAMP_BITS)
    start = int.from_bytes(random_bytes(STAMP_BYTES), "big") >> 1
    value = start
    while True:
        stamp = value.to_bytes(STAMP_BYTES, "big")
        attempt = fresh()
        attempt.update(stamp)
        if int.from_bytes(attempt.digest()[:8], "big") < bound:
            return stamp
        value += 1


def solve(challenge: Challenge) -> str:
    """Find a solution by brute force: about 2**difficulty Argon2id evaluations for the
    counter, then about 2**STAMP_BITS BLAKE2b for its stamp."""
    counter = int.from_bytes(random_bytes(COUNTER_BYTES), "big") >> 1
    if challenge.difficulty == 0:
        return b64e(counter.to_bytes(COUNTER_BYTES, "big") + bytes(STAMP_BYTES))
    while True:
        candidate = counter.to_bytes(COUNTER_BYTES, "big")
        if _leading_zero_bits(_work(challenge, candidate)) >= challenge.difficulty:
            return b64e(candidate + _find_stamp(challenge, candidate))
        counter += 1
