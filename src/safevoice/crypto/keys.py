"""Long-term keys of members, auditors, the committee root and the instance.

A member holds an X25519 key (to unwrap case keys) and an Ed25519 key (to sign messages and log
in); auditors, the root and the instance hold only Ed25519 keys. Private halves live in key files
sealed with a passphrase (Argon2id, then XChaCha20-Poly1305 whose associated data is the public
half, so a key file cannot be spliced with another key's public part). Fingerprints are 160-bit
BLAKE2b digests. Every signature in SafeVoice is made through :func:`sign` over
``lp(context, *fields)`` so that no signature made for one purpose verifies for another.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

import nacl.bindings
import nacl.exceptions
import nacl.pwhash
import nacl.signing
import nacl.utils

from safevoice.crypto.encoding import b64d, b64e, lp, split_lp
from safevoice.errors import BadEncoding, VerificationFailed, WrongPassphrase

KEY_KINDS = ("member", "auditor", "root", "instance", "archive")
KINDS_WITH_BOX_KEY = ("member", "archive")
KEYFILE_FORMAT = "safevoice-key-v1"
PUBLIC_FORMAT = "safevoice-public-key-v1"
FINGERPRINT_CONTEXT = b"safevoice-fingerprint-v1"
KEYFILE_CONTEXT = b"safevoice-keyfile-v1"
FINGERPRINT_BYTES = 20
DEMO_KEY_CONTEXT = b"safevoice-demo-key-v1"

# Key files are opened rarely and protect keys that read every report: use libsodium's
# "moderate" Argon2id cost (256 MiB, 3 passes).
KEYFILE_OPSLIMIT = nacl.pwhash.argon2id.OPSLIMIT_MODERATE
KEYFILE_MEMLIMIT = nacl.pwhash.argon2id.MEMLIMIT_MODERATE
# Refuse to even try parameters no SafeVoice tool writes (a damaged or hostile key file).
KEYFILE_MAX_OPSLIMIT = 32
KEYFILE_MAX_MEMLIMIT = 4 * 1024 * 1024 * 1024

_ID = re.compile(r"[a-z0-9][a-z0-9._-]{0,31}")


def valid_key_id(value: str) -> bool:
    return isinstance(value, str) and _ID.fullmatch(value) is not None


def blake2b(data: bytes, *, size: int = 32, key: bytes = b"") -> bytes:
    """BLAKE2b (RFC 7693), as libsodium's crypto_generichash computes it.

    The standard library's implementation gives the same digests and costs a tenth of PyNaCl's
    wrapper per call, which matters on the intake's hot path.
    """
    return hashlib.blake2b(data, digest_size=size, key=key).digest()


def random_bytes(size: int) -> bytes:
    return nacl.utils.random(size)


def fingerprint(kind: str, box_key: bytes | None, sign_key: bytes) -> str:
    """160-bit fingerprint of a public key set, as 40 lowercase hex digits."""
    digest = blake2b(
        lp(FINGERPRINT_CONTEXT, kind, box_key or b"", sign_key), size=FINGERPRINT_BYTES
    )
    return digest.hex()


def format_fingerprint(fp: str) -> str:
    """Group a fingerprint in blocks of four for reading aloud: ``ab12-cd34-…``."""
    return "-".join(fp[i : i + 4] for i in range(0, len(fp), 4))


def parse_fingerprint(text: str) -> str:
    """Accept a fingerprint with or without separators; return the canonical hex form."""
    cleaned = re.sub(r"[\s:\-]", "", text).lower()
    if not re.fullmatch(f"[0-9a-f]{{{FINGERPRINT_BYTES * 2}}}", cleaned):
        raise BadEncoding(
            f"A fingerprint is {FINGERPRINT_BYTES * 2} hexadecimal digits, "
            "optionally grouped with dashes."
        )
    return cleaned


def sign(sign_seed: bytes, context: str, *fields: bytes | str) -> bytes:
    """Ed25519 signature over ``lp(context, *fields)``."""
    key = nacl.signing.SigningKey(sign_seed)
    return key.sign(lp(context, *fields)).signature


def verify(sign_key: bytes, signature: bytes, context: str, *fields: bytes | str) -> None:
    """Raise VerificationFailed unless ``signature`` is valid for ``lp(context, *fields)``."""
    try:
        nacl.signing.VerifyKey(sign_key).verify(lp(context, *fields), signature)
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError, TypeError) as exc:
        raise VerificationFailed("A signature did not verify.") from exc


def sign_public_key(sign_seed: bytes) -> bytes:
    return bytes(nacl.signing.SigningKey(sign_seed).verify_key)


def box_public_key(box_secret: bytes) -> bytes:
    return nacl.bindings.crypto_scalarmult_base(box_secret)


@dataclass(frozen=True)
class PublicKey:
    """The public half of a key: what a manifest lists and anyone may hold."""

    kind: str
    id: str
    name: str
    sign_key: bytes
    box_key: bytes | None = None

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.kind, self.box_key, self.sign_key)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "format": PUBLIC_FORMAT,
            "kind": self.kind,
            "id": self.id,
            "name": self.name,
            "sign_key": b64e(self.sign_key),
            "fingerprint": self.fingerprint,
        }
        if self.box_key is not None:
            data["box_key"] = b64e(self.box_key)
        return data

    @classmethod
    def from_json(cls, data: Any) -> PublicKey:
        try:
            if data["format"] != PUBLIC_FORMAT or data["kind"] not in KEY_KINDS:
                raise BadEncoding("This is not a SafeVoice public key file.")
            box = data.get("box_key")
            key = cls(
                kind=data["kind"],
                id=str(data["id"]),
                name=str(data["name"]),
                sign_key=b64d(data["sign_key"], size=32, what="signing key"),
                box_key=b64d(box, size=32, what="encryption key") if box is not None else None,
            )
        except (KeyError, TypeError) as exc:
            raise BadEncoding("This is not a SafeVoice public key file.") from exc
        if (key.box_key is not None) != (key.kind in KINDS_WITH_BOX_KEY):
            raise BadEncoding("This public key file does not have the keys its kind needs.")
        if "fingerprint" in data and data["fingerprint"] != key.fingerprint:
            raise BadEncoding("This public key file's fingerprint does not match its keys.")
        return key


@dataclass(frozen=True)
class KeyPair:
    """A private key set. ``box_secret`` is the X25519 scalar, ``sign_seed`` the Ed25519 seed."""

    public: PublicKey
    sign_seed: bytes
    box_secret: bytes | None = None

    def sign(self, context: str, *fields: bytes | str) -> bytes:
        return sign(self.sign_seed, context, *fields)


def generate(kind: str, key_id: str, name: str) -> KeyPair:
    if kind not in KEY_KINDS:
        raise ValueError(f"unknown key kind {kind!r}")
    sign_seed = random_bytes(32)
    box_secret = random_bytes(32) if kind in KINDS_WITH_BOX_KEY else None
    return keypair_from_secrets(kind, key_id, name, sign_seed=sign_seed, box_secret=box_secret)


def public_demo_keypair(kind: str, key_id: str, name: str) -> KeyPair:
    """A key pair derived from public constants only, for ``safevoice demo``.

    Dangerous by design: anyone can recompute it, so it protects nothing. That is what makes
    demo keys recognisable: production mode compares fingerprints against these and refuses
    to start wherever a demo key turns up, whichever database or file it came through.
    """
    if kind not in KEY_KINDS:
        raise ValueError(f"unknown key kind {kind!r}")
    sign_seed = blake2b(lp(DEMO_KEY_CONTEXT, "sign", kind, key_id))
    box_secret = (
        blake2b(lp(DEMO_KEY_CONTEXT, "box", kind, key_id)) if kind in KINDS_WITH_BOX_KEY else None
    )
    return keypair_from_secrets(kind, key_id, name, sign_seed=sign_seed, box_secret=box_secret)


def keypair_from_secrets(
    kind: str, key_id: str, name: str, *, sign_seed: bytes, box_secret: bytes | None
) -> KeyPair:
    public = PublicKey(
        kind=kind,
        id=key_id,
        name=name,
        sign_key=sign_public_key(sign_seed),
        box_key=box_public_key(box_secret) if box_secret is not None else None,
    )
    return KeyPair(public=public, sign_seed=sign_seed, box_secret=box_secret)


def _keyfile_ad(public: PublicKey) -> bytes:
    return lp(
        KEYFILE_CONTEXT,
        public.kind,
        public.id,
        public.name,
        public.box_key or b"",
        public.sign_key,
    )


def seal_keyfile(
    keys: KeyPair,
    passphrase: str,
    *,
    opslimit: int = KEYFILE_OPSLIMIT,
    memlimit: int = KEYFILE_MEMLIMIT,
) -> dict[str, Any]:
    """Serialise a key pair into a key file sealed with a passphrase."""
    salt = random_bytes(nacl.pwhash.argon2id.SALTBYTES)
    nonce = random_bytes(24)
    wrapping = nacl.pwhash.argon2id.kdf(
        32, passphrase.encode("utf-8"), salt, opslimit=opslimit, memlimit=memlimit
    )
    secrets = lp(keys.sign_seed, keys.box_secret or b"")
    sealed = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
        secrets, _keyfile_ad(keys.public), nonce, wrapping
    )
    return {
        "format": KEYFILE_FORMAT,
        "public": keys.public.to_json(),
        "sealed": {
            "kdf": "argon2id13",
            "opslimit": opslimit,
            "memlimit": memlimit,
            "salt": b64e(salt),
            "nonce": b64e(nonce),
            "ciphertext": b64e(sealed),
        },
    }


def keyfile_public(data: Any) -> PublicKey:
    """The public half of a key file, without asking for the passphrase."""
    try:
        if data["format"] != KEYFILE_FORMAT:
            raise BadEncoding("This is not a SafeVoice key file.")
        return PublicKey.from_json(data["public"])
    except (KeyError, TypeError) as exc:
        raise BadEncoding("This is not a SafeVoice key file.") from exc


def open_keyfile(data: Any, passphrase: str) -> KeyPair:
    """Open a sealed key file; raise WrongPassphrase if it does not open."""
    public = keyfile_public(data)
    try:
        sealed = data["sealed"]
        if sealed["kdf"] != "argon2id13":
            raise BadEncoding("This key file uses an unknown key derivation.")
        opslimit, memlimit = sealed["opslimit"], sealed["memlimit"]
        # JSON integers only: int("3"), int(3.0) and int(True) would all be accepted as 3.
        if not all(type(n) is int for n in (opslimit, memlimit)):
            raise BadEncoding("This key file's key derivation parameters are not integers.")
        salt = b64d(sealed["salt"], size=nacl.pwhash.argon2id.SALTBYTES, what="salt")
        nonce = b64d(sealed["nonce"], size=24, what="nonce")
        ciphertext = b64d(sealed["ciphertext"], what="ciphertext")
    except (KeyError, TypeError, ValueError) as exc:
        raise BadEncoding("This key file is damaged.") from exc
    if opslimit < nacl.pwhash.argon2id.OPSLIMIT_MIN or memlimit < nacl.pwhash.argon2id.MEMLIMIT_MIN:
        raise BadEncoding("This key file's key derivation parameters are too weak.")
    if opslimit > KEYFILE_MAX_OPSLIMIT or memlimit > KEYFILE_MAX_MEMLIMIT:
        raise BadEncoding("This key file is damaged (absurd key derivation parameters).")
    wrapping = nacl.pwhash.argon2id.kdf(
        32, passphrase.encode("utf-8"), salt, opslimit=opslimit, memlimit=memlimit
    )
    try:
        secrets = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
            ciphertext, _keyfile_ad(public), nonce, wrapping
        )
    except nacl.exceptions.CryptoError as exc:
        raise WrongPassphrase("The passphrase does not open this key file.") from exc
    sign_seed, box_secret = split_lp(secrets)
    keys = keypair_from_secrets(
        public.kind,
        public.id,
        public.name,
        sign_seed=sign_seed,
        box_secret=box_secret or None,
    )
    if keys.public != public:
        raise BadEncoding("This key file's secret does not match its public key.")
    return keys
