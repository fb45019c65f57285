"""Objects encrypted to every committee member of the manifest, outside any case.

Survey answers and lessons-learned summaries are read by the whole committee and by nobody
else. Such an object is padded to the envelope's size buckets and encrypted with
XChaCha20-Poly1305 under a fresh key, with associated data ``lp(suite, *binding)``; the key is
sealed (``crypto_box_seal``) to each member as ``lp(key_context, *binding, recipient, key)``.
The binding (instance id, object id, …) means an object moved elsewhere fails to open, and the
recipient inside each wrap means a wrap cannot be handed to someone else.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import nacl.bindings
import nacl.exceptions

from safevoice.crypto.encoding import b64d, b64e, lp, split_lp
from safevoice.crypto.envelope import (
    CIPHERTEXT_SIZES,
    KEY_BYTES,
    NONCE_BYTES,
    new_key,
    pad,
    unpad,
)
from safevoice.crypto.keys import KeyPair, random_bytes
from safevoice.crypto.manifest import Manifest
from safevoice.errors import BadEncoding, BadEnvelope, BadRequest, VerificationFailed

MEMBER_PREFIX = "member:"


@dataclass(frozen=True)
class Binding:
    """What an object is bound to: its suite, its key context and the fields naming it."""

    suite: str
    key_context: str
    fields: tuple[str, ...]

    def associated_data(self) -> bytes:
        return lp(self.suite, *self.fields)

    def key_plaintext(self, recipient: str, key: bytes) -> bytes:
        return lp(self.key_context, *self.fields, recipient, key)

    def wrapped_size(self, recipient: str) -> int:
        """The exact size of one sealed key, so the server can refuse anything else."""
        plain = len(self.key_plaintext(recipient, bytes(KEY_BYTES)))
        return plain + int(nacl.bindings.crypto_box_SEALBYTES)


@dataclass(frozen=True)
class Sealed:
    nonce: bytes
    ct: bytes
    wraps: tuple[tuple[str, bytes], ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "nonce": b64e(self.nonce),
            "ct": b64e(self.ct),
            "wraps": [{"recipient": r, "sealed": b64e(s)} for r, s in self.wraps],
        }

    @classmethod
    def from_json(cls, data: Any) -> Sealed:
        try:
            wraps = tuple(
                (str(w["recipient"]), b64d(w["sealed"], what="wrapped key")) for w in data["wraps"]
            )
            return cls(
                nonce=b64d(data["nonce"], size=NONCE_BYTES, what="nonce"),
                ct=b64d(data["ct"], what="ciphertext"),
                wraps=wraps,
            )
        except (KeyError, TypeError) as exc:
            raise BadEncoding("The encrypted object is malformed.") from exc


def recipients_of(manifest: Manifest) -> dict[str, bytes]:
    """Every committee member of the manifest, by label, with their encryption key."""
    return {f"{MEMBER_PREFIX}{m.id}": m.box_key for m in manifest.members if m.box_key is not None}


def seal(plaintext: bytes, manifest: Manifest, binding: Binding) -> Sealed:
    """Pad and encrypt ``plaintext`` to every committee member of the manifest."""
    key = new_key()
    nonce = random_bytes(NONCE_BYTES)
    ct = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
        pad(plaintext), binding.associated_data(), nonce, key
    )
    wraps = tuple(
        (label, nacl.bindings.crypto_box_seal(binding.key_plaintext(label, key), box_key))
        for label, box_key in sorted(recipients_of(manifest).items())
    )
    return Sealed(nonce=nonce, ct=ct, wraps=wraps)


def check_shape(sealed: Sealed, recipients: Sequence[str], binding: Binding) -> None:
    """What the server can check without reading: one key per member, sizes of the buckets."""
    labels = [label for label, _ in sealed.wraps]
    if sorted(labels) != sorted(recipients):
        raise BadRequest("The object must carry one sealed key for each committee member.")
    for label, blob in sealed.wraps:
        if len(blob) != binding.wrapped_size(label):
            raise BadRequest("A sealed key has the wrong length.")
    if len(sealed.ct) not in CIPHERTEXT_SIZES:
        raise BadRequest("The ciphertext is not of a padded size.")


def open_sealed(sealed: Sealed, keys: KeyPair, binding: Binding) -> bytes:
    """Decrypt with a member's key; anything altered or moved fails to open."""
    if keys.box_secret is None:
        raise VerificationFailed("This key cannot decrypt.")
    label = f"{MEMBER_PREFIX}{keys.public.id}"
    blob = next((s for r, s in sealed.wraps if r == label), None)
    if blob is None:
        raise VerificationFailed("This object holds no key for you.")
    public = nacl.bindings.crypto_scalarmult_base(keys.box_secret)
    expected = [binding.key_context.encode(), *(f.encode() for f in binding.fields), label.encode()]
    try:
        fields = split_lp(nacl.bindings.crypto_box_seal_open(blob, public, keys.box_secret))
        if len(fields) != len(expected) + 1 or fields[:-1] != expected:
            raise VerificationFailed("The key was made for another object or person.")
        padded = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
            sealed.ct, binding.associated_data(), sealed.nonce, fields[-1]
        )
        return unpad(padded)
    except (
        nacl.exceptions.CryptoError,
        nacl.exceptions.ValueError,
        BadEncoding,
        BadEnvelope,
    ) as exc:
        raise VerificationFailed("The object does not decrypt; it was altered or moved.") from exc
