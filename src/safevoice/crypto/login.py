"""Challenge-response login for members, auditors and (with the follow-up code) reporters.

The client signs ``lp("safevoice-login-v1", instance id, challenge, expiry)`` with its Ed25519
key; the server checks the challenge's MAC and expiry, the signature against a key it already
knows (manifest or case), and remembers the challenge as spent. Session tokens are random and
stored only as a hash, so a copy of the database opens no session.
"""

from __future__ import annotations

from safevoice.crypto.encoding import b64e, lp, u64
from safevoice.crypto.keys import blake2b, random_bytes, sign, verify
from safevoice.crypto.pow import Challenge

LOGIN_CONTEXT = "safevoice-login-v1"
TOKEN_CONTEXT = "safevoice-token-v1"  # noqa: S105 - a domain separator, not a secret


def login_fields(instance_id: str, challenge: Challenge) -> tuple[bytes, ...]:
    return (instance_id.encode(), challenge.raw, u64(challenge.expires))


def sign_login(sign_seed: bytes, instance_id: str, challenge: Challenge) -> bytes:
    return sign(sign_seed, LOGIN_CONTEXT, *login_fields(instance_id, challenge))


def verify_login(sign_key: bytes, signature: bytes, instance_id: str, challenge: Challenge) -> None:
    verify(sign_key, signature, LOGIN_CONTEXT, *login_fields(instance_id, challenge))


def new_token() -> str:
    return b64e(random_bytes(32))


def token_digest(token: str) -> bytes:
    return blake2b(lp(TOKEN_CONTEXT, token))


def random_id(size: int = 16) -> str:
    """A random identifier (128 bits by default, less 1/64 of them) in base64url that does not
    start with "-", so it can be given as a command-line argument."""
    while True:
        ident = b64e(random_bytes(size))
        if not ident.startswith("-"):
            return ident


def digest(*fields: bytes | str) -> bytes:
    """A general-purpose 256-bit BLAKE2b digest of length-prefixed fields."""
    return blake2b(lp(*fields))
