"""Redaction records: a committee member's signed word that an object of a case was replaced by
a redacted version (COMPLIANCE.md D9).

A redacted object keeps its place in its chain: the header of the original (case, kind,
sender, sequence number, previous hash, epoch) and its transcript hash, so the next object
still names it and the chain still verifies. Its ciphertext is replaced by the redacted
version: an envelope with the same header, encrypted under the same epoch's key of the same
chain (so exactly the original's readers can open it) and signed by the redacting member. The
record binds the two together: which object (case, chain, position, the original's transcript
hash), the transcript hash of the redacted version, the day and the member, signed by that
member. It says nothing about the removed content: the original's transcript hash covers only
its ciphertext, which is gone, so nothing stored can confirm a guess of what was removed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from safevoice.crypto.encoding import b64d, b64e, u32
from safevoice.crypto.envelope import HASH_BYTES, SIG_BYTES, Envelope, seal
from safevoice.crypto.keys import sign, verify
from safevoice.errors import BadEncoding, BadEnvelope, VerificationFailed

REDACTION_CONTEXT = "safevoice-redaction-v1"
REDACTABLE_KINDS = frozenset({"report", "message", "note"})
"""Objects whose text a person wrote; workflow records (status, epoch, triage, actions,
closure) carry what the committee decided and stay as they were signed."""


@dataclass(frozen=True)
class Redaction:
    """The signed record that an object's original ciphertext was replaced."""

    hash: bytes
    """The original object's transcript hash (still the ``prev`` of the next object)."""
    digest: bytes
    """The redacted version's transcript hash."""
    on: str
    by: str
    sig: bytes

    def fields(self, *, case_id: bytes, chain: str, seq: int) -> tuple[bytes | str, ...]:
        return (case_id, chain, u32(seq), self.hash, self.digest, self.on, self.by)

    def verify(self, sign_key: bytes, *, case_id: bytes, chain: str, seq: int) -> None:
        verify(
            sign_key,
            self.sig,
            REDACTION_CONTEXT,
            *self.fields(case_id=case_id, chain=chain, seq=seq),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "hash": b64e(self.hash),
            "digest": b64e(self.digest),
            "on": self.on,
            "by": self.by,
            "sig": b64e(self.sig),
        }

    @classmethod
    def from_json(cls, data: Any) -> Redaction:
        if not isinstance(data, dict) or set(data) != {"hash", "digest", "on", "by", "sig"}:
            raise BadEnvelope("The redaction record does not have the expected fields.")
        on, by = data["on"], data["by"]
        if not isinstance(on, str) or not isinstance(by, str) or len(on) != 10 or len(by) > 64:
            raise BadEnvelope("The redaction record has a malformed day or member.")
        try:
            return cls(
                hash=b64d(data["hash"], size=HASH_BYTES, what="hash"),
                digest=b64d(data["digest"], size=HASH_BYTES, what="digest"),
                on=on,
                by=by,
                sig=b64d(data["sig"], size=SIG_BYTES, what="signature"),
            )
        except BadEncoding as exc:
            raise BadEnvelope(f"The redaction record is malformed: {exc.message}") from exc


def redact(
    original: Envelope,
    *,
    original_hash: bytes,
    key: bytes,
    plaintext: bytes,
    by: str,
    on: str,
    sign_seed: bytes,
) -> tuple[Envelope, Redaction]:
    """Encrypt ``plaintext`` as the redacted version of ``original`` (same header, same key)
    and sign the record that replaces the original with it."""
    if original.kind not in REDACTABLE_KINDS:
        raise BadEnvelope("Only a report, a message or a note can be redacted.")
    redacted = seal(
        key,
        plaintext,
        case_id=original.case_id,
        kind=original.kind,
        sender=original.sender,
        seq=original.seq,
        prev=original.prev,
        epoch=original.epoch,
        sign_seed=sign_seed,
    )
    unsigned = Redaction(
        hash=original_hash, digest=redacted.transcript_hash(), on=on, by=by, sig=b""
    )
    fields = unsigned.fields(case_id=original.case_id, chain=original.chain, seq=original.seq)
    record = Redaction(**{**unsigned.__dict__, "sig": sign(sign_seed, REDACTION_CONTEXT, *fields)})
    return redacted, record


def check_redacted(
    redacted: Envelope, record: Redaction, *, sign_keys: list[bytes], chain: str, seq: int
) -> None:
    """Raise VerificationFailed unless the redacted version and its record are signed by one of
    the redacting member's keys and belong together at this position."""
    if redacted.kind not in REDACTABLE_KINDS or redacted.seq != seq or redacted.chain != chain:
        raise VerificationFailed("The redacted version is not for this position.")
    if record.digest != redacted.transcript_hash():
        raise VerificationFailed("The redaction record names another redacted version.")
    redacted.verify_signature_any(sign_keys)
    for sign_key in sign_keys:
        try:
            record.verify(sign_key, case_id=redacted.case_id, chain=chain, seq=seq)
        except VerificationFailed:
            continue
        return
    raise VerificationFailed("The redaction record is not signed by the member it names.")
