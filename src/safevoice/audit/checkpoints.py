"""Signed checkpoints of the audit chain and auditors' countersignatures.

A checkpoint is issued when someone asks for the latest one and the head moved since the last:
the staged reporter events of complete days are folded first, then the head is signed by the
instance key that the manifest names for that sequence number (``audit_keys`` with
``from_seq``). While an instance-key rotation is pending, checkpoints stop just before the
sequence number the new key will start at, so the old key never signs a checkpoint the new key
should cover. Countersignatures are checked against the auditor's key in the manifest before
they are stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from safevoice.audit import service as audit
from safevoice.audit.models import AuditCheckpoint, AuditCountersignature, AuditEntry
from safevoice.crypto import checkpoint as cpcrypto
from safevoice.crypto.encoding import b64d
from safevoice.crypto.keys import sign_public_key
from safevoice.crypto.manifest import Manifest
from safevoice.errors import BadEncoding, ConfigError, Forbidden, NotFound, VerificationFailed


@dataclass(frozen=True)
class Checkpoint:
    instance_id: str
    seq: int
    head: bytes
    signature: bytes
    countersignatures: tuple[tuple[str, bytes], ...] = ()


def _view(row: AuditCheckpoint, instance_id: str, session: Session) -> Checkpoint:
    counters = session.scalars(
        select(AuditCountersignature)
        .where(AuditCountersignature.seq == row.seq)
        .order_by(AuditCountersignature.auditor)
    )
    return Checkpoint(
        instance_id=instance_id,
        seq=row.seq,
        head=row.head,
        signature=row.signature,
        countersignatures=tuple((c.auditor, c.signature) for c in counters),
    )


def latest(
    session: Session,
    *,
    manifest: Manifest,
    today: date,
    instance_seed: bytes | None,
    pending_rotation: int | None,
) -> Checkpoint:
    """The newest checkpoint, issuing one first if the head moved (after folding).

    The instance's signing seed and the first sequence number of a pending key rotation come
    from ``safevoice.instance`` as arguments (``instance.service.latest_checkpoint``), so the
    audit domain never imports the instance's state.
    """
    audit.fold_staged(session, today=today)
    seq, digest = audit.head(session)
    pending = pending_rotation
    if pending is not None and seq >= pending:
        seq = pending - 1
        if seq >= 0:
            entry = session.get(AuditEntry, seq)
            if entry is None:
                raise ConfigError(f"The audit log has no entry {seq}; it was tampered with.")
            digest = entry.hash
    if seq < 0:
        raise NotFound("The audit log has no entry yet.")
    row = session.get(AuditCheckpoint, seq)
    if row is None:
        seed = instance_seed
        if seed is None:
            raise ConfigError("This instance is not initialised; run `safevoice admin init`.")
        if sign_public_key(seed) != manifest.audit_key_for(seq):
            raise ConfigError(
                "The manifest does not name this server's instance key for the current part of "
                "the audit log; no checkpoint can be issued until the committee publishes one "
                "that does."
            )
        row = AuditCheckpoint(
            seq=seq,
            head=digest,
            signature=cpcrypto.sign_checkpoint(
                seed, instance_id=manifest.instance_id, seq=seq, head=digest
            ),
            issued_on=today,
        )
        session.add(row)
        session.flush()
    return _view(row, manifest.instance_id, session)


def all_checkpoints(session: Session, *, manifest: Manifest) -> list[Checkpoint]:
    rows = session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.seq))
    return [_view(row, manifest.instance_id, session) for row in rows]


def add_countersignature(
    session: Session, *, manifest: Manifest, auditor_id: str, seq: int, signature: str
) -> Checkpoint:
    """Store an auditor's countersignature after checking it against the manifest."""
    auditor = manifest.auditor(auditor_id)
    if auditor is None:
        raise Forbidden("Only an auditor enrolled in the manifest may countersign.")
    row = session.get(AuditCheckpoint, seq)
    if row is None:
        raise NotFound(f"There is no checkpoint at seq {seq}.")
    try:
        sig = b64d(signature, size=64, what="countersignature")
        cpcrypto.verify_countersignature(
            auditor.sign_key, sig, instance_id=manifest.instance_id, seq=seq, head=row.head
        )
    except (BadEncoding, VerificationFailed):
        raise Forbidden(
            f"The countersignature does not verify for checkpoint {seq} under your key."
        ) from None
    existing = session.get(AuditCountersignature, (seq, auditor_id))
    if existing is None:
        session.add(AuditCountersignature(seq=seq, auditor=auditor_id, signature=sig))
    else:
        existing.signature = sig
    session.flush()
    return _view(row, manifest.instance_id, session)
