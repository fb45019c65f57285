"""Building audit exports straight from a database, and tampering with it as an operator could."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import delete, select, update

from safevoice.audit.checkpoints import all_checkpoints
from safevoice.audit.models import AuditCheckpoint, AuditCountersignature, AuditEntry, AuditHead
from safevoice.audit.router import checkpoint_out, entry_out
from safevoice.crypto.checkpoint import sign_checkpoint
from safevoice.crypto.hashing import entry_hash
from safevoice.crypto.manifest import Manifest, parse_payload
from safevoice.instance import service as instance
from safevoice.protocol.audit import EXPORT_FORMAT, body_version
from safevoice.storage.db import Database


def export_of(database: Database) -> dict[str, Any]:
    with database.session(write=False) as session:
        signed = instance.current_signed_manifest(session)
        assert signed is not None
        manifest = parse_payload(signed.payload)
        entries = session.scalars(select(AuditEntry).order_by(AuditEntry.seq)).all()
        return {
            "format": EXPORT_FORMAT,
            "instance_id": manifest.instance_id,
            "manifest": signed.to_json(),
            "entries": [entry_out(e).model_dump() for e in entries],
            "checkpoints": [
                checkpoint_out(c).model_dump() for c in all_checkpoints(session, manifest=manifest)
            ],
        }


def flip_byte(database: Database, seq: int) -> None:
    """Change one byte of an entry's stored body (its hash left as it was)."""
    with database.unit_of_work() as session:
        entry = session.get_one(AuditEntry, seq)
        body = bytearray(entry.body)
        index = body.index(b'"on":"') + 7  # a digit of the day
        body[index] = ord("1") if body[index] != ord("1") else ord("2")
        entry.body = bytes(body)


def delete_entry(database: Database, seq: int) -> None:
    with database.unit_of_work() as session:
        session.execute(delete(AuditEntry).where(AuditEntry.seq == seq))


def truncate(database: Database, keep_upto: int) -> None:
    """Drop every entry and checkpoint after ``keep_upto`` and move the head back."""
    with database.unit_of_work() as session:
        session.execute(delete(AuditEntry).where(AuditEntry.seq > keep_upto))
        session.execute(delete(AuditCountersignature).where(AuditCountersignature.seq > keep_upto))
        session.execute(delete(AuditCheckpoint).where(AuditCheckpoint.seq > keep_upto))
        last = session.get_one(AuditEntry, keep_upto)
        session.execute(update(AuditHead).values(seq=keep_upto, hash=last.hash))


def rewrite(database: Database, seq: int, manifest: Manifest) -> None:
    """Rewrite an old entry as a determined operator would: recompute every later hash, move
    the head, re-sign every checkpoint with the instance key and drop the countersignatures
    that no longer fit."""
    with database.unit_of_work() as session:
        entries = session.scalars(
            select(AuditEntry).where(AuditEntry.seq >= seq).order_by(AuditEntry.seq)
        ).all()
        previous = session.get(AuditEntry, seq - 1)
        head = previous.hash if previous is not None else bytes(32)
        for entry in entries:
            if entry.seq == seq:
                data = json.loads(entry.body)
                data["actor"] = "member:nobody"
                entry.body = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
            head = entry_hash(head, entry.body, version=body_version(entry.body))
            entry.hash = head
        session.execute(update(AuditHead).values(seq=entries[-1].seq, hash=head))
        session.execute(delete(AuditCountersignature))
        seed = instance.get_state(session, instance.INSTANCE_SEED)
        assert seed is not None
        for checkpoint in session.scalars(select(AuditCheckpoint)):
            fresh = session.get_one(AuditEntry, checkpoint.seq).hash
            checkpoint.head = fresh
            checkpoint.signature = sign_checkpoint(
                seed, instance_id=manifest.instance_id, seq=checkpoint.seq, head=fresh
            )
