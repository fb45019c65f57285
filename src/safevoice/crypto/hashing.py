"""Hashes with fixed contexts that are not part of a larger format."""

from __future__ import annotations

from safevoice.crypto.keys import blake2b

AUDIT_CONTEXT = b"safevoice-audit-v1"


def audit_hash(prev: bytes, body: bytes) -> bytes:
    """``BLAKE2b-256("safevoice-audit-v1" ‖ prev ‖ stored bytes)`` (DESIGN.md, Contracts)."""
    return blake2b(AUDIT_CONTEXT + prev + body)
