"""Restore approvals: written by ``safevoice audit approve-restore``, checked by a restore.

A member or an auditor approves rolling the audit log back from the checkpoint they saved to
the head a backup holds. The restore accepts an approval only if it verifies under that
person's key in the manifest, names exactly this backup (id and audit head) and starts from
the newest head the restore knows of (the live database's or the newest audit export's): an
approval given for an older state of the log does not cover entries written since.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from safevoice.backup.export import Head
from safevoice.crypto.backup import BackupHeader
from safevoice.crypto.checkpoint import sign_restore_approval, verify_restore_approval
from safevoice.crypto.encoding import b64d, b64e
from safevoice.crypto.keys import KeyPair
from safevoice.crypto.manifest import Manifest, principal_label
from safevoice.errors import BadEncoding, Forbidden, VerificationFailed

APPROVAL_FORMAT = "safevoice-restore-approval-v1"
APPROVER_KINDS = ("member", "auditor")


@dataclass(frozen=True)
class Approval:
    instance_id: str
    backup_id: str
    backup_seq: int
    backup_head: bytes
    from_seq: int
    from_head: bytes
    approver: str
    signature: bytes

    def to_json(self) -> dict[str, Any]:
        return {
            "format": APPROVAL_FORMAT,
            "instance_id": self.instance_id,
            "backup": self.backup_id,
            "backup_seq": self.backup_seq,
            "backup_head": b64e(self.backup_head),
            "from_seq": self.from_seq,
            "from_head": b64e(self.from_head),
            "approver": self.approver,
            "approval": b64e(self.signature),
        }

    @classmethod
    def from_json(cls, data: Any) -> Approval:
        try:
            if data["format"] != APPROVAL_FORMAT:
                raise BadEncoding("This is not a SafeVoice restore approval.")
            fields = {
                "instance_id": data["instance_id"],
                "backup_id": data["backup"],
                "approver": data["approver"],
            }
            seqs = {"backup_seq": data["backup_seq"], "from_seq": data["from_seq"]}
            if not all(isinstance(v, str) for v in fields.values()) or not all(
                isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in seqs.values()
            ):
                raise BadEncoding("The restore approval is malformed.")
            return cls(
                **fields,
                **seqs,
                backup_head=b64d(data["backup_head"], size=32, what="backup head"),
                from_head=b64d(data["from_head"], size=32, what="checkpoint head"),
                signature=b64d(data["approval"], size=64, what="approval signature"),
            )
        except (KeyError, TypeError):
            raise BadEncoding("The restore approval is malformed.") from None

    def detail(self) -> dict[str, str | int]:
        """The detail of the ``instance.restored`` audit entry (docs/protocol/backup.md 13.4)."""
        return {
            "backup": self.backup_id,
            "backup_seq": self.backup_seq,
            "backup_head": b64e(self.backup_head),
            "from_seq": self.from_seq,
            "from_head": b64e(self.from_head),
            "approver": self.approver,
            "approval": b64e(self.signature),
        }


def approve(header: BackupHeader, *, checkpoint: Head, instance_id: str, keys: KeyPair) -> Approval:
    """Sign the approval to roll the log back from ``checkpoint`` to the backup's head."""
    if keys.public.kind not in APPROVER_KINDS:
        raise Forbidden("Only a member or an auditor can approve a restore.")
    if header.instance_id != instance_id:
        raise Forbidden("This backup belongs to another SafeVoice instance.")
    if header.audit_seq < 0:
        raise Forbidden("This backup holds no audit entry, so there is nothing to approve.")
    if checkpoint.seq <= header.audit_seq:
        raise Forbidden(
            f"Your saved checkpoint (seq {checkpoint.seq}) is not newer than the backup's audit "
            f"head (seq {header.audit_seq}): restoring it rolls nothing back that you saw, so "
            "it needs no approval."
        )
    signature = sign_restore_approval(
        keys.sign_seed,
        instance_id=instance_id,
        backup_id=header.backup_id,
        backup_seq=header.audit_seq,
        backup_head=header.audit_head,
        from_seq=checkpoint.seq,
        from_head=checkpoint.hash,
    )
    return Approval(
        instance_id=instance_id,
        backup_id=header.backup_id,
        backup_seq=header.audit_seq,
        backup_head=header.audit_head,
        from_seq=checkpoint.seq,
        from_head=checkpoint.hash,
        approver=principal_label(keys.public),
        signature=signature,
    )


def check(approval: Approval, header: BackupHeader, *, manifest: Manifest, newest: Head) -> None:
    """Raise Forbidden unless ``approval`` allows restoring ``header``'s backup now."""
    if approval.instance_id != header.instance_id or approval.backup_id != header.backup_id:
        raise Forbidden("The approval is for another backup.")
    if (approval.backup_seq, approval.backup_head) != (header.audit_seq, header.audit_head):
        raise Forbidden("The approval names another audit head than the backup holds.")
    if (approval.from_seq, approval.from_head) != (newest.seq, newest.hash):
        raise Forbidden(
            f"The approval rolls back from audit seq {approval.from_seq}, but the newest audit "
            f"log reaches seq {newest.seq} with another head: the approver must save a current "
            "checkpoint and approve again."
        )
    if approval.approver.partition(":")[0] not in APPROVER_KINDS:
        raise Forbidden(f"The approver {approval.approver} is not a member or auditor.")
    # As audit clients do (docs/protocol/backup.md 13.4): the approver's current key, or a key of
    # theirs the manifest lists as retired since.
    keys = manifest.signing_keys(approval.approver)
    if not keys:
        raise Forbidden(f"The approver {approval.approver} is not in the manifest.")
    for key in keys:
        try:
            verify_restore_approval(
                key,
                approval.signature,
                instance_id=approval.instance_id,
                backup_id=approval.backup_id,
                backup_seq=approval.backup_seq,
                backup_head=approval.backup_head,
                from_seq=approval.from_seq,
                from_head=approval.from_head,
            )
        except VerificationFailed:
            continue
        return
    raise Forbidden(f"The approval's signature does not verify under {approval.approver}'s key.")
