"""Envelope format v1: every encrypted object of a case (report, message, note, epoch record).

An object is XChaCha20-Poly1305 ciphertext of padded plaintext. Its associated data binds the
suite, the case id, the object kind, the sender, the sequence number in its chain, the hash of
the previous object of that chain and the key epoch, each u32-BE length-prefixed (DESIGN.md,
Contracts), so an object moved to another case, position, kind or epoch fails to decrypt
(invariant 7). The header also carries a commitment to the key, checked before decryption, and
the sender's Ed25519 signature over everything; the transcript hash of an object is the ``prev``
of the next one. Plaintext is padded with ``sodium_pad`` to fixed buckets so that ciphertext
sizes leak only the bucket (invariant 2).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import nacl.bindings
import nacl.exceptions

from safevoice.crypto.encoding import b64d, b64e, lp, split_lp, u32
from safevoice.crypto.keys import blake2b, random_bytes, sign, verify
from safevoice.errors import BadEncoding, BadEnvelope, TooLarge, VerificationFailed

ENVELOPE_VERSION = 1
SUITE = "safevoice-xchacha20poly1305-ed25519-blake2b-v1"
SIGN_CONTEXT = "safevoice-message-v1"
TRANSCRIPT_CONTEXT = "safevoice-transcript-v1"
COMMIT_CONTEXT = "safevoice-key-commit-v1"
WRAP_CONTEXT = "safevoice-keys-v1"
HISTORY_CONTEXT = "safevoice-key-history-v1"

KEY_BYTES = 32
NONCE_BYTES = 24
TAG_BYTES = 16
HASH_BYTES = 32
SIG_BYTES = 64
CASE_ID_BYTES = 16
GENESIS = bytes(HASH_BYTES)

# Padded plaintext sizes. Each bucket is four times the previous one, so an observer of sizes
# learns only a rough order of magnitude.
PAD_BUCKETS = (512, 2048, 8192, 32768, 131072, 524288)
MAX_PLAINTEXT = PAD_BUCKETS[-1] - 1
CIPHERTEXT_SIZES = frozenset(b + TAG_BYTES for b in PAD_BUCKETS)

# Which chain each object kind belongs to. The thread is readable with K_thread (reporter and
# recipients); the committee chain only with K_committee (recipients, never the reporter).
KIND_CHAIN = {
    "report": "thread",
    "message": "thread",
    "status": "thread",
    "epoch": "thread",
    "note": "committee",
    "triage": "committee",
    "action": "committee",
    "closure": "committee",
}


def chain_of(kind: str) -> str:
    try:
        return KIND_CHAIN[kind]
    except KeyError:
        raise BadEnvelope("The object kind is unknown.") from None


def new_key() -> bytes:
    return random_bytes(KEY_BYTES)


def new_case_id() -> bytes:
    """16 random bytes whose base64url form does not start with "-" (so a case id never looks
    like a command-line option); this leaves 127.9 bits of randomness."""
    while True:
        case_id = random_bytes(CASE_ID_BYTES)
        if case_id[0] >> 2 != 62:  # 62 is "-" in base64url
            return case_id


def bucket_for(size: int) -> int:
    """The padded size for ``size`` bytes of plaintext (at least one byte of padding)."""
    for bucket in PAD_BUCKETS:
        if size < bucket:
            return bucket
    raise TooLarge("The message is too long; attach long documents as files instead.")


def pad(plaintext: bytes) -> bytes:
    return nacl.bindings.sodium_pad(plaintext, bucket_for(len(plaintext)))


def unpad(padded: bytes) -> bytes:
    if len(padded) not in PAD_BUCKETS:
        raise BadEnvelope("The padded plaintext has an unexpected size.")
    try:
        return nacl.bindings.sodium_unpad(padded, len(padded))
    except (nacl.exceptions.CryptoError, ValueError) as exc:
        raise BadEnvelope("The padding is invalid.") from exc


def key_commitment(key: bytes, nonce: bytes) -> bytes:
    return blake2b(lp(COMMIT_CONTEXT, key, nonce))


@dataclass(frozen=True)
class Envelope:
    """One encrypted, signed, chained object as it travels and is stored."""

    case_id: bytes
    kind: str
    sender: str
    seq: int
    prev: bytes
    epoch: int
    key_commit: bytes
    nonce: bytes
    ct: bytes
    sig: bytes
    version: int = ENVELOPE_VERSION

    @property
    def chain(self) -> str:
        return chain_of(self.kind)

    def associated_data(self) -> bytes:
        return lp(
            SUITE,
            self.case_id,
            self.kind,
            self.sender,
            u32(self.seq),
            self.prev,
            u32(self.epoch),
        )

    def signed_fields(self) -> tuple[bytes, ...]:
        return (self.associated_data(), self.key_commit, self.nonce, self.ct)

    def transcript_hash(self) -> bytes:
        """The hash the next object of the chain names as ``prev``."""
        return blake2b(lp(TRANSCRIPT_CONTEXT, *self.signed_fields(), self.sig))

    def verify_signature(self, sign_key: bytes) -> None:
        verify(sign_key, self.sig, SIGN_CONTEXT, *self.signed_fields())

    def verify_signature_any(self, sign_keys: Sequence[bytes]) -> None:
        """Accept a signature by any of the keys (a sender's current key or one it was
        validly using earlier); refuse if none verifies or none is given."""
        for sign_key in sign_keys:
            try:
                self.verify_signature(sign_key)
            except VerificationFailed:
                continue
            return
        raise VerificationFailed("A signature did not verify.")

    def to_json(self) -> dict[str, Any]:
        return {
            "v": self.version,
            "case_id": b64e(self.case_id),
            "kind": self.kind,
            "sender": self.sender,
            "seq": self.seq,
            "prev": b64e(self.prev),
            "epoch": self.epoch,
            "key_commit": b64e(self.key_commit),
            "nonce": b64e(self.nonce),
            "ct": b64e(self.ct),
            "sig": b64e(self.sig),
        }

    @classmethod
    def from_json(cls, data: Any) -> Envelope:
        """Parse the wire form strictly: exact field set, canonical encodings, exact sizes."""
        fields = {
            "v",
            "case_id",
            "kind",
            "sender",
            "seq",
            "prev",
            "epoch",
            "key_commit",
            "nonce",
            "ct",
            "sig",
        }
        if not isinstance(data, dict) or set(data) != fields:
            raise BadEnvelope("The envelope does not have the expected fields.")
        try:
            version, seq, epoch = data["v"], data["seq"], data["epoch"]
            for number in (version, seq, epoch):
                if not isinstance(number, int) or isinstance(number, bool):
                    raise BadEnvelope("The envelope has a malformed number.")
                if not 0 <= number < 2**32:
                    raise BadEnvelope("The envelope has a number out of range.")
            if version != ENVELOPE_VERSION:
                raise BadEnvelope("The envelope version is not supported.")
            kind, sender = data["kind"], data["sender"]
            if not isinstance(kind, str) or not isinstance(sender, str):
                raise BadEnvelope("The envelope has a malformed kind or sender.")
            chain_of(kind)
            if len(sender) > 64:
                raise BadEnvelope("The envelope's sender is too long.")
            ct = b64d(data["ct"], what="ciphertext")
            if len(ct) not in CIPHERTEXT_SIZES:
                raise BadEnvelope("The ciphertext is not of a padded size.")
            return cls(
                version=version,
                case_id=b64d(data["case_id"], size=CASE_ID_BYTES, what="case id"),
                kind=kind,
                sender=sender,
                seq=seq,
                prev=b64d(data["prev"], size=HASH_BYTES, what="previous hash"),
                epoch=epoch,
                key_commit=b64d(data["key_commit"], size=HASH_BYTES, what="key commitment"),
                nonce=b64d(data["nonce"], size=NONCE_BYTES, what="nonce"),
                ct=ct,
                sig=b64d(data["sig"], size=SIG_BYTES, what="signature"),
            )
        except BadEncoding as exc:
            raise BadEnvelope(f"The envelope is malformed: {exc.message}") from exc


def seal(
    key: bytes,
    plaintext: bytes,
    *,
    case_id: bytes,
    kind: str,
    sender: str,
    seq: int,
    prev: bytes,
    epoch: int,
    sign_seed: bytes,
) -> Envelope:
    """Pad, encrypt and sign ``plaintext`` as the object at ``seq`` of its chain."""
    chain_of(kind)
    nonce = random_bytes(NONCE_BYTES)
    unsigned = Envelope(
        case_id=case_id,
        kind=kind,
        sender=sender,
        seq=seq,
        prev=prev,
        epoch=epoch,
        key_commit=key_commitment(key, nonce),
        nonce=nonce,
        ct=b"",
        sig=bytes(SIG_BYTES),
    )
    ct = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
        pad(plaintext), unsigned.associated_data(), nonce, key
    )
    with_ct = Envelope(**{**unsigned.__dict__, "ct": ct})
    sig = sign(sign_seed, SIGN_CONTEXT, *with_ct.signed_fields())
    return Envelope(**{**with_ct.__dict__, "sig": sig})


def decrypt(key: bytes, envelope: Envelope) -> bytes:
    """Check the key commitment, decrypt and unpad, without checking the signature.

    Only for the first report, whose signing key is found inside it; callers must then verify
    the signature with that key. Everything else goes through :func:`open_envelope`.
    """
    if key_commitment(key, envelope.nonce) != envelope.key_commit:
        raise VerificationFailed("The object was not encrypted under this case key.")
    try:
        padded = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
            envelope.ct, envelope.associated_data(), envelope.nonce, key
        )
    except nacl.exceptions.CryptoError as exc:
        raise VerificationFailed("The object does not decrypt; it was altered or moved.") from exc
    return unpad(padded)


def open_envelope(key: bytes, envelope: Envelope, *, sign_key: bytes) -> bytes:
    """Verify the sender's signature, then the key commitment; decrypt and unpad."""
    envelope.verify_signature(sign_key)
    return decrypt(key, envelope)


def open_envelope_any(key: bytes, envelope: Envelope, *, sign_keys: Sequence[bytes]) -> bytes:
    """:func:`open_envelope` for a sender who may have signed with one of several keys."""
    envelope.verify_signature_any(sign_keys)
    return decrypt(key, envelope)


@dataclass(frozen=True)
class CaseKeys:
    thread: bytes
    committee: bytes | None


def wrap_case_keys(
    box_key: bytes,
    *,
    case_id: bytes,
    epoch: int,
    recipient: str,
    keys: CaseKeys,
) -> bytes:
    """Seal a case's keys of one epoch to one recipient (crypto_box_seal)."""
    plaintext = lp(WRAP_CONTEXT, case_id, u32(epoch), recipient, keys.thread, keys.committee or b"")
    return nacl.bindings.crypto_box_seal(plaintext, box_key)


def unwrap_case_keys(
    box_secret: bytes,
    sealed: bytes,
    *,
    case_id: bytes,
    epoch: int,
    recipient: str,
) -> CaseKeys:
    """Open a wrapped key and check it was made for this case, epoch and recipient."""
    public = nacl.bindings.crypto_scalarmult_base(box_secret)
    try:
        plaintext = nacl.bindings.crypto_box_seal_open(sealed, public, box_secret)
    except (nacl.exceptions.CryptoError, nacl.exceptions.ValueError, TypeError) as exc:
        raise VerificationFailed("This wrapped key is not for this private key.") from exc
    try:
        context, got_case, got_epoch, got_recipient, thread, committee = split_lp(plaintext)
    except (BadEncoding, ValueError) as exc:
        raise VerificationFailed("The wrapped key is malformed.") from exc
    if (
        context != WRAP_CONTEXT.encode()
        or got_case != case_id
        or got_epoch != u32(epoch)
        or got_recipient != recipient.encode()
        or len(thread) != KEY_BYTES
        or len(committee) not in (0, KEY_BYTES)
    ):
        raise VerificationFailed("The wrapped key was made for another case, epoch or person.")
    return CaseKeys(thread=thread, committee=committee or None)


def wrapped_size(recipient: str, *, with_committee: bool) -> int:
    """Exact size of a wrapped key, so the server can refuse anything else."""
    plain = 4 * 6 + len(WRAP_CONTEXT) + CASE_ID_BYTES + 4 + len(recipient.encode()) + KEY_BYTES
    if with_committee:
        plain += KEY_BYTES
    return plain + nacl.bindings.crypto_box_SEALBYTES


def seal_key_history(key: bytes, earlier: dict[int, bytes], *, case_id: bytes, epoch: int) -> bytes:
    """Encrypt earlier epochs' keys under the new epoch's key (nonce ‖ ciphertext).

    Epoch records carry the committee keys of earlier epochs this way, so that only holders of
    the new committee key (never the reporter) can read the committee's whole history.
    """
    nonce = random_bytes(NONCE_BYTES)
    plaintext = lp(*(lp(u32(e), k) for e, k in sorted(earlier.items())))
    ad = lp(HISTORY_CONTEXT, case_id, u32(epoch))
    return nonce + nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
        plaintext, ad, nonce, key
    )


def open_key_history(key: bytes, sealed: bytes, *, case_id: bytes, epoch: int) -> dict[int, bytes]:
    ad = lp(HISTORY_CONTEXT, case_id, u32(epoch))
    try:
        plaintext = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
            sealed[NONCE_BYTES:], ad, sealed[:NONCE_BYTES], key
        )
        history: dict[int, bytes] = {}
        for entry in split_lp(plaintext):
            raw_epoch, old_key = split_lp(entry)
            if len(raw_epoch) != 4 or len(old_key) != KEY_BYTES:
                raise VerificationFailed("The key history is malformed.")
            history[int.from_bytes(raw_epoch, "big")] = old_key
    except (nacl.exceptions.CryptoError, BadEncoding, ValueError) as exc:
        raise VerificationFailed("The key history does not open with this case key.") from exc
    return history
