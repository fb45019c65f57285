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

A redaction may also remove files attached to the object: the redacted version omits their
descriptors, and the record lists each removed file by its upload id (the server's handle, to
delete its chunks) and the digest of its descriptor (which holds the file's random key, so the
digest confirms no guess of the name or content). A record with files is signed under its own
context (``safevoice-redaction-v2``), so a server can neither add a removal to a record nor
hide one by dropping the list.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from safevoice.crypto.encoding import b64d, b64e, canonical_json, u32
from safevoice.crypto.envelope import HASH_BYTES, SIG_BYTES, Envelope, seal
from safevoice.crypto.keys import blake2b, sign, verify
from safevoice.errors import BadEncoding, BadEnvelope, VerificationFailed

REDACTION_CONTEXT = "safevoice-redaction-v1"
REDACTION_FILES_CONTEXT = "safevoice-redaction-v2"
DESCRIPTOR_CONTEXT = b"safevoice-file-descriptor-v1"
MAX_REMOVED_FILES = 20
"""As many files as a report or message carries (attachments/service.py)."""
_UPLOAD_ID = re.compile(r"^[A-Za-z0-9_-]{22}$")
REDACTABLE_KINDS = frozenset({"report", "message", "note"})
"""Objects whose text a person wrote; workflow records (status, epoch, triage, actions,
closure) carry what the committee decided and stay as they were signed."""


def descriptor_digest(descriptor: Any) -> bytes:
    """``BLAKE2b-256("safevoice-file-descriptor-v1" ‖ canonical JSON of the descriptor)``: which
    file a redaction removed, without its name (the descriptor's random key makes it
    unguessable)."""
    return blake2b(DESCRIPTOR_CONTEXT + canonical_json(descriptor))


@dataclass(frozen=True)
class RemovedFile:
    """A file a redaction removed: its upload id and the digest of its descriptor."""

    id: str
    digest: bytes

    def to_json(self) -> dict[str, str]:
        return {"id": self.id, "digest": b64e(self.digest)}

    @classmethod
    def from_json(cls, data: Any) -> RemovedFile:
        if not isinstance(data, dict) or set(data) != {"id", "digest"}:
            raise BadEnvelope("A removed file in the redaction record is malformed.")
        upload_id = data["id"]
        if not isinstance(upload_id, str) or not _UPLOAD_ID.match(upload_id):
            raise BadEnvelope("A removed file in the redaction record has a malformed id.")
        return cls(id=upload_id, digest=b64d(data["digest"], size=HASH_BYTES, what="digest"))

    @classmethod
    def of(cls, descriptor: dict[str, Any]) -> RemovedFile:
        upload_id = descriptor.get("upload_id")
        if not isinstance(upload_id, str) or not _UPLOAD_ID.match(upload_id):
            raise BadEnvelope("An attachment's description has no valid upload id.")
        return cls(id=upload_id, digest=descriptor_digest(descriptor))


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
    files: tuple[RemovedFile, ...] = ()
    """The attached files removed with it (none for a text-only redaction)."""

    @property
    def context(self) -> str:
        return REDACTION_FILES_CONTEXT if self.files else REDACTION_CONTEXT

    def fields(self, *, case_id: bytes, chain: str, seq: int) -> tuple[bytes | str, ...]:
        signed: tuple[bytes | str, ...] = (
            case_id,
            chain,
            u32(seq),
            self.hash,
            self.digest,
            self.on,
            self.by,
        )
        if self.files:
            signed += (u32(len(self.files)),)
            for removed in self.files:
                signed += (removed.id, removed.digest)
        return signed

    def verify(self, sign_key: bytes, *, case_id: bytes, chain: str, seq: int) -> None:
        verify(
            sign_key,
            self.sig,
            self.context,
            *self.fields(case_id=case_id, chain=chain, seq=seq),
        )

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "hash": b64e(self.hash),
            "digest": b64e(self.digest),
            "on": self.on,
            "by": self.by,
            "sig": b64e(self.sig),
        }
        if self.files:
            data["files"] = [removed.to_json() for removed in self.files]
        return data

    @classmethod
    def from_json(cls, data: Any) -> Redaction:
        expected = {"hash", "digest", "on", "by", "sig"}
        if not isinstance(data, dict) or set(data) - {"files"} != expected:
            raise BadEnvelope("The redaction record does not have the expected fields.")
        on, by = data["on"], data["by"]
        if not isinstance(on, str) or not isinstance(by, str) or len(on) != 10 or len(by) > 64:
            raise BadEnvelope("The redaction record has a malformed day or member.")
        listed = data.get("files", [])
        if "files" in data and (
            not isinstance(listed, list) or not 1 <= len(listed) <= MAX_REMOVED_FILES
        ):
            raise BadEnvelope(
                f"The redaction record lists from 1 to {MAX_REMOVED_FILES} removed files, "
                "or none at all."
            )
        try:
            files = tuple(RemovedFile.from_json(item) for item in listed)
            if len({removed.id for removed in files}) != len(files):
                raise BadEnvelope("The redaction record lists the same file twice.")
            return cls(
                hash=b64d(data["hash"], size=HASH_BYTES, what="hash"),
                digest=b64d(data["digest"], size=HASH_BYTES, what="digest"),
                on=on,
                by=by,
                sig=b64d(data["sig"], size=SIG_BYTES, what="signature"),
                files=files,
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
    removed: Sequence[dict[str, Any]] = (),
) -> tuple[Envelope, Redaction]:
    """Encrypt ``plaintext`` as the redacted version of ``original`` (same header, same key)
    and sign the record that replaces the original with it (and removes the files whose
    descriptors ``removed`` lists)."""
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
        hash=original_hash,
        digest=redacted.transcript_hash(),
        on=on,
        by=by,
        sig=b"",
        files=tuple(RemovedFile.of(descriptor) for descriptor in removed),
    )
    fields = unsigned.fields(case_id=original.case_id, chain=original.chain, seq=original.seq)
    signature = sign(sign_seed, unsigned.context, *fields)
    record = Redaction(**{**unsigned.__dict__, "sig": signature})
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
