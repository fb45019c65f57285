"""The reporter's follow-up code and the keys derived from it.

Invariant 4: a code carries 110 random bits from the CSPRNG, a KDF version and a two-character
checksum, written as 25 characters of Crockford's base32 in five groups (``1ABCD-EFGHJ-…``) so
it can be copied by hand. The checksum is a position-weighted sum modulo the prime 1021, which
catches every single wrong character and every swap of two characters before any network
request. The reporter's machine derives
``S = Argon2id(code, instance salt)`` with the manifest's parameters for the code's version, and
from ``S`` an X25519 reply key and an Ed25519 signing key under separate contexts. The server
only ever sees the two public keys; a stolen database therefore allows no faster guessing than
one memory-hard derivation per guess.
"""

from __future__ import annotations

from dataclasses import dataclass

import nacl.bindings
import nacl.pwhash
import nacl.signing

from safevoice.crypto.keys import blake2b, random_bytes
from safevoice.errors import BadCode

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
RANDOM_CHARS = 22  # 110 bits
CHECK_CHARS = 2  # 10 bits
CODE_CHARS = 1 + RANDOM_CHARS + CHECK_CHARS
RANDOM_BYTES = 14  # 112 bits drawn, the first 110 used
CHECK_MODULUS = 1021  # prime, below 32**2; larger than any weighted difference of two symbols
REPLY_KEY_CONTEXT = b"safevoice-reply-key-v1"
SIGN_KEY_CONTEXT = b"safevoice-reporter-sign-v1"
_CONFUSABLE = str.maketrans({"O": "0", "I": "1", "L": "1", "U": "V"})


def _bits_to_chars(data: bytes, count: int) -> str:
    value = int.from_bytes(data, "big")
    total_bits = len(data) * 8
    return "".join(ALPHABET[(value >> (total_bits - 5 * (i + 1))) & 31] for i in range(count))


def _checksum(body: str) -> str:
    """Two symbols for ``sum((i + 1) * value(body[i])) mod 1021``.

    A wrong symbol changes the sum by ``(i + 1) * d`` with ``0 < |d| < 32`` and ``i + 1 <= 23``,
    and swapping symbols i and j by ``(j - i) * d``; both are below 1021 in size and never 0.
    """
    total = sum((i + 1) * ALPHABET.index(ch) for i, ch in enumerate(body)) % CHECK_MODULUS
    return ALPHABET[total // 32] + ALPHABET[total % 32]


def _version_char(version: int) -> str:
    if not 1 <= version < len(ALPHABET):
        raise ValueError("code version out of range")
    return ALPHABET[version]


def generate_code(version: int, *, randomness: bytes | None = None) -> str:
    """A fresh follow-up code in its display form (five dash-separated groups of five)."""
    data = randomness if randomness is not None else random_bytes(RANDOM_BYTES)
    if len(data) != RANDOM_BYTES:
        raise ValueError("a code needs 14 random bytes")
    body = _version_char(version) + _bits_to_chars(data, RANDOM_CHARS)
    return display(body + _checksum(body))


def display(canonical: str) -> str:
    return "-".join(canonical[i : i + 5] for i in range(0, len(canonical), 5))


@dataclass(frozen=True)
class ParsedCode:
    canonical: str
    version: int


def parse_code(text: str) -> ParsedCode:
    """Normalise what a person typed; raise BadCode with a helpful sentence on a typo."""
    cleaned = "".join(ch for ch in text.upper() if not ch.isspace() and ch != "-")
    cleaned = cleaned.translate(_CONFUSABLE)
    if len(cleaned) != CODE_CHARS:
        raise BadCode(
            f"A follow-up code has {CODE_CHARS} characters in five groups; "
            f"this one has {len(cleaned)}."
        )
    if any(ch not in ALPHABET for ch in cleaned):
        raise BadCode("The follow-up code contains a character that codes never use.")
    if cleaned[0] == ALPHABET[0]:
        raise BadCode("The follow-up code does not start like a SafeVoice code.")
    body, check = cleaned[:-CHECK_CHARS], cleaned[-CHECK_CHARS:]
    if _checksum(body) != check:
        raise BadCode("The follow-up code has a typo; please compare it character by character.")
    return ParsedCode(canonical=cleaned, version=ALPHABET.index(cleaned[0]))


@dataclass(frozen=True)
class ReporterKeys:
    """Keys derived from a follow-up code; only the public halves ever leave the device."""

    reply_secret: bytes
    reply_public: bytes
    sign_seed: bytes
    sign_public: bytes


def derive_reporter_keys(
    code: ParsedCode, *, salt: bytes, opslimit: int, memlimit: int
) -> ReporterKeys:
    stretched = nacl.pwhash.argon2id.kdf(
        32, code.canonical.encode("ascii"), salt, opslimit=opslimit, memlimit=memlimit
    )
    reply_seed = blake2b(REPLY_KEY_CONTEXT, key=stretched)
    sign_seed = blake2b(SIGN_KEY_CONTEXT, key=stretched)
    reply_public, reply_secret = nacl.bindings.crypto_box_seed_keypair(reply_seed)
    sign_public = bytes(nacl.signing.SigningKey(sign_seed).verify_key)
    return ReporterKeys(
        reply_secret=reply_secret,
        reply_public=reply_public,
        sign_seed=sign_seed,
        sign_public=sign_public,
    )
