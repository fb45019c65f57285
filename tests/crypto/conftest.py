"""Fixtures shared by the crypto tests: fixed keys and inputs, so every failure reproduces."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest

from safevoice.crypto import keys

Fixed = Callable[..., bytes]


def _fixed(label: str, size: int = 32) -> bytes:
    return hashlib.blake2b(f"safevoice-tests/{label}".encode(), digest_size=size).digest()


@pytest.fixture(scope="session")
def fixed() -> Fixed:
    """``fixed(label, size=32)``: a fixed pseudo-random byte string named by its label."""
    return _fixed


@pytest.fixture(scope="session")
def alice() -> keys.KeyPair:
    return keys.keypair_from_secrets(
        "member",
        "alice",
        "Alice Example",
        sign_seed=_fixed("alice sign"),
        box_secret=_fixed("alice box"),
    )


@pytest.fixture(scope="session")
def bob() -> keys.KeyPair:
    return keys.keypair_from_secrets(
        "member", "bob", "Bob Example", sign_seed=_fixed("bob sign"), box_secret=_fixed("bob box")
    )


@pytest.fixture(scope="session")
def root() -> keys.KeyPair:
    return keys.keypair_from_secrets(
        "root", "root", "Committee root", sign_seed=_fixed("root sign"), box_secret=None
    )
