"""Restore approvals: a member's or auditor's signature that allows rolling the audit log back.

Restoring an older backup drops the audit entries written after it. A member or an auditor who
saved a checkpoint ``(N, from_head)`` signs, beforehand,
``safevoice-restore-approval-v1 ‖ instance id ‖ backup id ‖ M ‖ backup_head ‖ N ‖ from_head``
(length-prefixed fields, sequence numbers as 64-bit big-endian integers), where ``(M,
backup_head)`` is the audit head the backup holds. The restore writes the signature into its
``instance.restored`` audit entry, so audit clients see an approved restore instead of an
unexplained rollback.
"""

from __future__ import annotations

from safevoice.crypto.encoding import lp, u64
from safevoice.crypto.keys import sign, verify

RESTORE_APPROVAL_CONTEXT = "safevoice-restore-approval-v1"


def _fields(
    instance_id: str,
    backup_id: str,
    backup_seq: int,
    backup_head: bytes,
    from_seq: int,
    from_head: bytes,
) -> tuple[bytes, ...]:
    return (
        instance_id.encode(),
        backup_id.encode(),
        u64(backup_seq),
        backup_head,
        u64(from_seq),
        from_head,
    )


def restore_approval_message(
    instance_id: str,
    backup_id: str,
    backup_seq: int,
    backup_head: bytes,
    from_seq: int,
    from_head: bytes,
) -> bytes:
    """The exact bytes an approval signs."""
    return lp(
        RESTORE_APPROVAL_CONTEXT,
        *_fields(instance_id, backup_id, backup_seq, backup_head, from_seq, from_head),
    )


def sign_restore_approval(
    sign_seed: bytes,
    *,
    instance_id: str,
    backup_id: str,
    backup_seq: int,
    backup_head: bytes,
    from_seq: int,
    from_head: bytes,
) -> bytes:
    return sign(
        sign_seed,
        RESTORE_APPROVAL_CONTEXT,
        *_fields(instance_id, backup_id, backup_seq, backup_head, from_seq, from_head),
    )


def verify_restore_approval(
    sign_key: bytes,
    signature: bytes,
    *,
    instance_id: str,
    backup_id: str,
    backup_seq: int,
    backup_head: bytes,
    from_seq: int,
    from_head: bytes,
) -> None:
    """Raise VerificationFailed unless ``signature`` approves exactly this restore."""
    verify(
        sign_key,
        signature,
        RESTORE_APPROVAL_CONTEXT,
        *_fields(instance_id, backup_id, backup_seq, backup_head, from_seq, from_head),
    )
