"""Hashes with fixed contexts that are not part of a larger format."""

from __future__ import annotations

from safevoice.crypto.keys import blake2b

AUDIT_CONTEXT = b"safevoice-audit-v1"


def audit_hash(prev: bytes, body: bytes) -> bytes:
    """``BLAKE2b-256("safevoice-audit-v1" ‖ prev ‖ stored bytes)`` (DESIGN.md, Contracts)."""
    return blake2b(AUDIT_CONTEXT + prev + body)


AUDIT_CONTEXT_V2 = b"safevoice-audit-v2"
AUDIT_BODY_CONTEXT = b"safevoice-audit-body-v2"


def audit_body_hash(body: bytes) -> bytes:
    """``BLAKE2b-256("safevoice-audit-body-v2" ‖ stored bytes)``: what a v2 entry's hash covers,
    so that an entry can be shown to a reader as this hash alone and the chain still verifies."""
    return blake2b(AUDIT_BODY_CONTEXT + body)


def audit_hash_v2(prev: bytes, body_hash: bytes) -> bytes:
    """``BLAKE2b-256("safevoice-audit-v2" ‖ prev ‖ body hash)`` for entries written with
    ``"v": 2`` in their body."""
    return blake2b(AUDIT_CONTEXT_V2 + prev + body_hash)


def entry_hash(prev: bytes, body: bytes, *, version: int) -> bytes:
    """The chain hash of an entry's stored bytes under its format version (1 or 2)."""
    if version == 2:
        return audit_hash_v2(prev, audit_body_hash(body))
    return audit_hash(prev, body)
