"""The audit log's hash chain."""

from __future__ import annotations

import hashlib

from safevoice.crypto.hashing import audit_body_hash, audit_hash, audit_hash_v2, entry_hash

GENESIS = bytes(32)


def test_audit_hash_is_blake2b_256_of_context_prev_and_body() -> None:
    body = b'{"event":"case.purged"}'
    expected = hashlib.blake2b(b"safevoice-audit-v1" + GENESIS + body, digest_size=32).digest()
    assert audit_hash(GENESIS, body) == expected


def test_audit_hash_depends_on_the_previous_hash_and_the_body() -> None:
    first = audit_hash(GENESIS, b"a")
    assert audit_hash(first, b"a") != first
    assert audit_hash(GENESIS, b"b") != first
    assert audit_hash(bytes(31) + b"\x01", b"a") != first


def test_audit_chain_changes_from_the_first_rewritten_entry_on() -> None:
    bodies = [b"one", b"two", b"three"]
    rewritten = [b"one", b"TWO", b"three"]

    def chain(entries: list[bytes]) -> list[bytes]:
        heads, prev = [], GENESIS
        for body in entries:
            prev = audit_hash(prev, body)
            heads.append(prev)
        return heads

    original, changed = chain(bodies), chain(rewritten)
    assert original[0] == changed[0]
    assert original[1] != changed[1]
    assert original[2] != changed[2]


def test_a_version_2_entry_chains_the_hash_of_its_bytes_under_contexts_of_its_own() -> None:
    body = b'{"event":"case.purged","v":2}'
    inner = hashlib.blake2b(b"safevoice-audit-body-v2" + body, digest_size=32).digest()
    expected = hashlib.blake2b(b"safevoice-audit-v2" + GENESIS + inner, digest_size=32).digest()

    assert audit_body_hash(body) == inner
    assert audit_hash_v2(GENESIS, inner) == expected
    assert entry_hash(GENESIS, body, version=2) == expected
    # The same bytes under version 1 give another hash: a server cannot swap versions.
    assert entry_hash(GENESIS, body, version=1) == audit_hash(GENESIS, body) != expected
