"""Offline verification of the audit log: the chain, checkpoints, countersignatures, restores.

Pure functions over what a client fetched or an export holds; nothing here trusts the server.
Every failure raises ``AuditViolation`` with a sentence naming the entry or checkpoint, so the
member and auditor clients and ``safevoice audit verify`` report the same thing.

A checkpoint *extends* an earlier one when re-hashing the entries after the earlier one,
starting from its head, reproduces the later head (DESIGN.md, Contracts). The only accepted
way back behind a checkpoint someone saw is an ``instance.restored`` entry that names that
checkpoint exactly and carries a restore approval signed by a member or auditor of the manifest.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from safevoice.crypto.checkpoint import (
    verify_checkpoint,
    verify_countersignature,
    verify_restore_approval,
)
from safevoice.crypto.encoding import b64d, b64e, loads
from safevoice.crypto.hashing import audit_hash_v2, entry_hash
from safevoice.crypto.manifest import Manifest
from safevoice.errors import AuditViolation, BadEncoding, ManifestError, VerificationFailed

EXPORT_FORMAT = "safevoice-audit-export-v1"
RESTORED = "instance.restored"
GENESIS = bytes(32)


def body_version(body: bytes) -> int:
    """An entry's format version: 2 when its stored JSON says ``"v": 2``, else 1."""
    try:
        value = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return 1
    return 2 if isinstance(value, dict) and value.get("v") == 2 else 1


@dataclass(frozen=True)
class Entry:
    """One entry as a reader got it: its stored bytes, or (withheld from a member who may not
    know the case it concerns) only the hash of those bytes, which v2 chains cover instead."""

    seq: int
    body: bytes | None
    hash: bytes
    body_hash: bytes | None = None

    @classmethod
    def from_json(cls, data: Any) -> Entry:
        try:
            withheld = data.get("body") is None
            return cls(
                seq=_int(data["seq"]),
                body=None if withheld else b64d(data["body"], what="audit entry body"),
                hash=b64d(data["hash"], size=32, what="audit entry hash"),
                body_hash=(
                    b64d(data["body_hash"], size=32, what="audit entry body hash")
                    if withheld
                    else None
                ),
            )
        except (KeyError, TypeError, AttributeError, BadEncoding) as exc:
            raise AuditViolation("An audit entry is malformed.") from exc

    @property
    def withheld(self) -> bool:
        return self.body is None

    @property
    def _body_hash(self) -> bytes:
        if self.body_hash is None:
            raise AuditViolation(f"Audit entry {self.seq} has neither its bytes nor their hash.")
        return self.body_hash

    def to_json(self) -> dict[str, Any]:
        if self.body is None:
            return {"seq": self.seq, "body_hash": b64e(self._body_hash), "hash": b64e(self.hash)}
        return {"seq": self.seq, "body": b64e(self.body), "hash": b64e(self.hash)}

    def chained(self, prev: bytes) -> bytes:
        """The hash this entry must carry after ``prev``."""
        if self.body is None:
            return audit_hash_v2(prev, self._body_hash)
        return entry_hash(prev, self.body, version=body_version(self.body))

    def parsed(self) -> dict[str, Any]:
        """The entry's JSON; a withheld entry shows only its seq."""
        if self.body is None:
            return {"seq": self.seq, "withheld": True}
        try:
            value = loads(self.body)
        except ValueError:
            raise AuditViolation(f"Audit entry {self.seq} is not valid JSON.") from None
        if not isinstance(value, dict):
            raise AuditViolation(f"Audit entry {self.seq} is not a JSON object.")
        return value


@dataclass(frozen=True)
class SignedCheckpoint:
    instance_id: str
    seq: int
    head: bytes
    signature: bytes
    countersignatures: tuple[tuple[str, bytes], ...] = ()

    @classmethod
    def from_json(cls, data: Any) -> SignedCheckpoint:
        try:
            return cls(
                instance_id=str(data["instance_id"]),
                seq=_int(data["seq"]),
                head=b64d(data["head"], size=32, what="checkpoint head"),
                signature=b64d(data["signature"], size=64, what="checkpoint signature"),
                countersignatures=tuple(
                    (str(c["auditor"]), b64d(c["signature"], size=64, what="countersignature"))
                    for c in data.get("countersignatures", [])
                ),
            )
        except (KeyError, TypeError, AttributeError, BadEncoding) as exc:
            raise AuditViolation("A checkpoint is malformed.") from exc

    def to_json(self) -> dict[str, Any]:
        return {
            "instance_id": self.instance_id,
            "seq": self.seq,
            "head": b64e(self.head),
            "signature": b64e(self.signature),
            "countersignatures": [
                {"auditor": a, "signature": b64e(s)} for a, s in self.countersignatures
            ],
        }


def _int(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError("not an integer")
    return value


def check_checkpoint(checkpoint: SignedCheckpoint, manifest: Manifest) -> None:
    """The instance key the manifest names for the checkpoint's seq signed it."""
    if checkpoint.instance_id != manifest.instance_id:
        raise AuditViolation(f"Checkpoint {checkpoint.seq} belongs to another instance.")
    try:
        key = manifest.audit_key_for(checkpoint.seq)
        verify_checkpoint(
            key,
            checkpoint.signature,
            instance_id=manifest.instance_id,
            seq=checkpoint.seq,
            head=checkpoint.head,
        )
    except (ManifestError, VerificationFailed):
        raise AuditViolation(
            f"Checkpoint {checkpoint.seq} is not signed by the instance key the manifest names "
            "for that part of the log."
        ) from None


def check_countersignatures(checkpoint: SignedCheckpoint, manifest: Manifest) -> None:
    for auditor, signature in checkpoint.countersignatures:
        for key in manifest.signing_keys(f"auditor:{auditor}"):
            try:
                verify_countersignature(
                    key,
                    signature,
                    instance_id=manifest.instance_id,
                    seq=checkpoint.seq,
                    head=checkpoint.head,
                )
                break
            except VerificationFailed:
                continue
        else:
            raise AuditViolation(
                f"The countersignature of auditor {auditor} on checkpoint {checkpoint.seq} does "
                "not verify: the log up to it was rewritten, or the countersignature was forged."
            )


def rehash(start_seq: int, start_head: bytes, entries: Iterable[Entry]) -> tuple[int, bytes]:
    """Re-hash ``entries`` after (start_seq, start_head); refuse gaps and altered entries."""
    seq, head = start_seq, start_head
    for entry in entries:
        if entry.seq != seq + 1:
            if entry.seq <= seq:
                raise AuditViolation(f"Audit entry {entry.seq} appears twice or out of order.")
            raise AuditViolation(
                f"Audit entries {seq + 1} to {entry.seq - 1} are missing (the log jumps from "
                f"{seq} to {entry.seq})."
            )
        if entry.parsed().get("seq") != entry.seq:
            raise AuditViolation(f"Audit entry {entry.seq} carries another sequence number.")
        head = entry.chained(head)
        if head != entry.hash:
            raise AuditViolation(
                f"Audit entry {entry.seq} does not match its hash: it, or an entry before it, "
                "was changed after it was written."
            )
        seq = entry.seq
    return seq, head


def check_extends(
    saved: SignedCheckpoint,
    new: SignedCheckpoint,
    between: Sequence[Entry],
    manifest: Manifest,
) -> None:
    """``new`` extends ``saved``: re-hashing the entries after ``saved`` reproduces ``new``."""
    check_checkpoint(new, manifest)
    if new.seq < saved.seq:
        raise AuditViolation(
            f"The log now ends at seq {new.seq}, before the checkpoint at seq {saved.seq} seen "
            "earlier: entries were dropped or the log was rolled back."
        )
    if new.seq == saved.seq:
        if new.head != saved.head:
            raise AuditViolation(
                f"The checkpoint at seq {saved.seq} differs from the one seen earlier: the log "
                "was rewritten."
            )
        return
    try:
        end, head = rehash(saved.seq, saved.head, between)
    except AuditViolation as exc:
        raise AuditViolation(
            f"The log after the checkpoint at seq {saved.seq} does not verify: {exc.message}"
        ) from None
    if end != new.seq:
        raise AuditViolation(
            f"The server sent entries up to seq {end}, not up to its checkpoint at seq {new.seq}."
        )
    if head != new.head:
        raise AuditViolation(
            f"The log no longer extends the checkpoint at seq {saved.seq}: an entry at or before "
            "it was rewritten."
        )


def approved_restore(entry: Entry, saved: SignedCheckpoint, manifest: Manifest) -> dict[str, Any]:
    """The restore entry's detail if it names ``saved`` exactly under a valid approval."""
    body = entry.parsed()
    detail = body.get("detail")
    if body.get("event") != RESTORED or not isinstance(detail, dict):
        raise AuditViolation(f"Audit entry {entry.seq} is not a restore entry.")
    try:
        from_seq = _int(detail["from_seq"])
        from_head = b64d(detail["from_head"], size=32, what="restore head")
        backup_seq = _int(detail["backup_seq"])
        backup_head = b64d(detail["backup_head"], size=32, what="backup head")
        approval = b64d(detail["approval"], size=64, what="restore approval")
        approver = str(detail["approver"])
        backup_id = str(detail["backup"])
    except (KeyError, TypeError, BadEncoding):
        raise AuditViolation(f"The restore entry {entry.seq} is malformed.") from None
    if (from_seq, from_head) != (saved.seq, saved.head):
        raise AuditViolation(
            f"The restore entry {entry.seq} does not name the checkpoint at seq {saved.seq}."
        )
    if approver.partition(":")[0] not in ("member", "auditor"):
        raise AuditViolation(f"The restore entry {entry.seq} names no member or auditor.")
    for key in manifest.signing_keys(approver):
        try:
            verify_restore_approval(
                key,
                approval,
                instance_id=manifest.instance_id,
                backup_id=backup_id,
                backup_seq=backup_seq,
                backup_head=backup_head,
                from_seq=from_seq,
                from_head=from_head,
            )
            return dict(detail)
        except VerificationFailed:
            continue
    raise AuditViolation(
        f"The log was rolled back past the saved checkpoint at seq {saved.seq} without an "
        f"approved restore (the approval in entry {entry.seq} does not verify)."
    )


@dataclass(frozen=True)
class Verified:
    entries: int
    checkpoints: int
    countersigned: int
    head_seq: int
    restored_from: int | None = None


def verify_export(
    data: Any, *, manifest: Manifest, saved: SignedCheckpoint | None = None
) -> Verified:
    """Verify a whole export (``safevoice-audit-export-v1``) and, optionally, that it extends a
    saved checkpoint."""
    if not isinstance(data, dict) or data.get("format") != EXPORT_FORMAT:
        raise AuditViolation("The file is not a SafeVoice audit export.")
    if data.get("instance_id") != manifest.instance_id:
        raise AuditViolation("The export belongs to another instance than its manifest.")
    try:
        entries = [Entry.from_json(e) for e in data["entries"]]
        checkpoints = [SignedCheckpoint.from_json(c) for c in data["checkpoints"]]
    except (KeyError, TypeError):
        raise AuditViolation("The export is malformed.") from None
    heads: dict[int, bytes] = {}
    seq, head = -1, GENESIS
    for entry in entries:
        seq, head = rehash(seq, head, [entry])
        heads[seq] = head
    for checkpoint in checkpoints:
        check_checkpoint(checkpoint, manifest)
        if checkpoint.seq > seq:
            raise AuditViolation(
                f"Checkpoint {checkpoint.seq} lies beyond the end of the log at seq {seq}: "
                f"entries {seq + 1} to {checkpoint.seq} were removed."
            )
        if heads[checkpoint.seq] != checkpoint.head:
            raise AuditViolation(
                f"The log does not reproduce checkpoint {checkpoint.seq}: entries up to seq "
                f"{checkpoint.seq} were rewritten."
            )
        check_countersignatures(checkpoint, manifest)
    restored_from = None
    if saved is not None:
        check_checkpoint(saved, manifest)
        check_countersignatures(saved, manifest)
        if heads.get(saved.seq) != saved.head:
            restores = [e for e in entries if e.parsed().get("event") == RESTORED]
            named = [
                e
                for e in restores
                if isinstance(e.parsed().get("detail"), dict)
                and e.parsed()["detail"].get("from_seq") == saved.seq
                and e.parsed()["detail"].get("from_head") == b64e(saved.head)
            ]
            if not named:
                raise AuditViolation(_saved_failure(saved, seq))
            detail = approved_restore(named[-1], saved, manifest)
            backup_seq = int(detail["backup_seq"])
            if named[-1].seq <= backup_seq or heads.get(backup_seq) != b64d(
                detail["backup_head"], size=32
            ):
                raise AuditViolation(
                    f"The log up to the restored backup's seq {backup_seq} does not match the "
                    f"head the restore approval names (entry {named[-1].seq})."
                )
            restored_from = saved.seq
    return Verified(
        entries=len(entries),
        checkpoints=len(checkpoints),
        countersigned=sum(1 for c in checkpoints if c.countersignatures),
        head_seq=seq,
        restored_from=restored_from,
    )


def _saved_failure(saved: SignedCheckpoint, last: int) -> str:
    if saved.seq > last:
        return (
            f"The log ends at seq {last}, before the saved checkpoint at seq {saved.seq}: "
            "entries were dropped (truncation or rollback without an approved restore)."
        )
    return (
        f"The log does not reproduce the saved checkpoint at seq {saved.seq}: an entry at or "
        "before it was changed, removed or rewritten."
    )
