"""Audit checkpoints, auditors' countersignatures and restore approvals.

A checkpoint is the instance key's signature over ``safevoice-checkpoint-v1 ‖ instance id ‖ seq ‖
head`` (DESIGN.md, Contracts); an auditor countersigns the same fields under
``safevoice-countersign-v1``, so neither signature can be replayed as the other. A restore
approval is a member's or auditor's signature over ``safevoice-restore-approval-v1 ‖ instance id
‖ backup id ‖ backup seq ‖ backup head ‖ from seq ‖ from head``: the only way a log may
legitimately go back behind a checkpoint someone saw. Fields are length-prefixed and sequence
numbers are unsigned 64-bit big-endian integers.
"""

from __future__ import annotations

from safevoice.crypto.encoding import lp, u64
from safevoice.crypto.keys import sign, verify

CHECKPOINT_CONTEXT = "safevoice-checkpoint-v1"
COUNTERSIGN_CONTEXT = "safevoice-countersign-v1"
RESTORE_APPROVAL_CONTEXT = "safevoice-restore-approval-v1"


def _fields(instance_id: str, seq: int, head: bytes) -> tuple[bytes, ...]:
    return (instance_id.encode(), u64(seq), head)


def sign_checkpoint(instance_seed: bytes, *, instance_id: str, seq: int, head: bytes) -> bytes:
    return sign(instance_seed, CHECKPOINT_CONTEXT, *_fields(instance_id, seq, head))


def verify_checkpoint(
    instance_key: bytes, signature: bytes, *, instance_id: str, seq: int, head: bytes
) -> None:
    """Raise VerificationFailed unless the instance key signed this checkpoint."""
    verify(instance_key, signature, CHECKPOINT_CONTEXT, *_fields(instance_id, seq, head))


def countersign(auditor_seed: bytes, *, instance_id: str, seq: int, head: bytes) -> bytes:
    return sign(auditor_seed, COUNTERSIGN_CONTEXT, *_fields(instance_id, seq, head))


def verify_countersignature(
    auditor_key: bytes, signature: bytes, *, instance_id: str, seq: int, head: bytes
) -> None:
    verify(auditor_key, signature, COUNTERSIGN_CONTEXT, *_fields(instance_id, seq, head))


def _restore_fields(
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
    *,
    instance_id: str,
    backup_id: str,
    backup_seq: int,
    backup_head: bytes,
    from_seq: int,
    from_head: bytes,
) -> bytes:
    """The exact bytes a restore approval signs:
    ``lp("safevoice-restore-approval-v1", instance id, backup id, u64(M), backup head, u64(N),
    from head)`` — what an approver's client shows and a verifier rebuilds."""
    return lp(
        RESTORE_APPROVAL_CONTEXT,
        *_restore_fields(instance_id, backup_id, backup_seq, backup_head, from_seq, from_head),
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
    fields = _restore_fields(instance_id, backup_id, backup_seq, backup_head, from_seq, from_head)
    return sign(sign_seed, RESTORE_APPROVAL_CONTEXT, *fields)


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
    """Raise VerificationFailed unless ``sign_key`` approved exactly this restore."""
    fields = _restore_fields(instance_id, backup_id, backup_seq, backup_head, from_seq, from_head)
    verify(sign_key, signature, RESTORE_APPROVAL_CONTEXT, *fields)
