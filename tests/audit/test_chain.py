"""The audit chain in the database: the daily fold, checkpoints, offline verification, restores
and the instance-key rotation (both databases)."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import date, timedelta

import pytest
from sqlalchemy import delete, func, select, update

from safevoice.audit import service as audit
from safevoice.audit.models import AuditCheckpoint, AuditEntry, AuditHead, AuditStaging
from safevoice.cases.manifest import publish_manifest
from safevoice.clock import utcnow
from safevoice.crypto.checkpoint import sign_checkpoint, sign_restore_approval
from safevoice.crypto.encoding import b64e
from safevoice.crypto.manifest import AuditKey, Manifest, sign_manifest, successor
from safevoice.errors import AuditViolation, ManifestError
from safevoice.instance import service as instance
from safevoice.protocol.audit import SignedCheckpoint, check_checkpoint, verify_export
from safevoice.storage.db import Database
from tests.audit.support import delete_entry, export_of, flip_byte, rewrite, truncate
from tests.support.world import World

TODAY = date(2026, 3, 10)
YESTERDAY = TODAY - timedelta(days=1)


def activity(database: Database, n: int = 6) -> None:
    with database.unit_of_work() as session:
        for i in range(n):
            audit.record(
                session,
                event="case.status",
                case_id=f"case{i:018d}",
                actor="member:alice",
                on=TODAY,
            )


def latest(database: Database, manifest: Manifest) -> SignedCheckpoint:
    with database.unit_of_work() as session:
        view = instance.latest_checkpoint(session, manifest=manifest, today=TODAY)
    return SignedCheckpoint(
        instance_id=view.instance_id, seq=view.seq, head=view.head, signature=view.signature
    )


def reporter_entries(database: Database) -> list[dict[str, object]]:
    with database.session(write=False) as session:
        bodies = session.scalars(select(AuditEntry.body).order_by(AuditEntry.seq)).all()
    return [d for d in (json.loads(b) for b in bodies) if d["actor"] == audit.REPORTER]


def test_reporter_events_of_a_day_are_folded_in_an_order_that_is_not_their_arrival(
    database: Database,
) -> None:
    arrival = [f"case{i:018d}" for i in range(24)]
    with database.unit_of_work() as session:
        for case_id in arrival:
            audit.record(
                session, event="case.created", case_id=case_id, actor=audit.REPORTER, on=YESTERDAY
            )
        audit.record(
            session, event="case.created", case_id="today" * 4 + "xx", actor="reporter", on=TODAY
        )

    with database.unit_of_work() as session:
        folded = audit.fold_staged(session, today=TODAY)
    with database.unit_of_work() as session:
        again = audit.fold_staged(session, today=TODAY)

    order = [str(e["case_id"]) for e in reporter_entries(database)]
    assert folded == 24
    assert again == 0
    assert sorted(order) == sorted(arrival)
    assert order not in (arrival, arrival[::-1])
    for entry in reporter_entries(database):
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(entry["on"]))
        assert not re.search(r"\d{2}:\d{2}", json.dumps(entry))
    with database.session(write=False) as session:
        # Today's event waits until its day is complete.
        assert session.scalar(select(func.count()).select_from(AuditStaging)) == 1


def test_a_checkpoint_is_issued_when_the_head_moved_and_signed_by_the_instance_key(
    database: Database, manifest: Manifest
) -> None:
    first = latest(database, manifest)
    same = latest(database, manifest)
    activity(database)
    moved = latest(database, manifest)

    assert same == first
    assert moved.seq == first.seq + 6
    check_checkpoint(moved, manifest)
    forged = SignedCheckpoint(manifest.instance_id, moved.seq, bytes(32), moved.signature)
    with pytest.raises(AuditViolation, match=f"Checkpoint {moved.seq} is not signed"):
        check_checkpoint(forged, manifest)


def _saved(database: Database, manifest: Manifest) -> SignedCheckpoint:
    activity(database)
    saved = latest(database, manifest)
    activity(database)
    latest(database, manifest)
    return saved


def test_an_untouched_log_verifies_with_the_saved_checkpoint(
    database: Database, manifest: Manifest
) -> None:
    saved = _saved(database, manifest)

    result = verify_export(export_of(database), manifest=manifest, saved=saved)

    assert result.head_seq == saved.seq + 6
    assert result.checkpoints == 2


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        (lambda db, s, m: flip_byte(db, s.seq - 2), r"Audit entry {x} does not match its hash"),
        (lambda db, s, m: delete_entry(db, s.seq - 2), r"Audit entries {x} to {x} are missing"),
        (lambda db, s, m: truncate(db, s.seq - 2), r"ends at seq {x}, before the saved checkpoint"),
        (lambda db, s, m: rewrite(db, s.seq - 2, m), r"reproduce the saved checkpoint at seq {s}"),
    ],
    ids=["one-byte", "deleted", "truncated", "rewritten"],
)
def test_a_tampered_log_fails_verification_naming_where(
    database: Database, manifest: Manifest, tamper: object, expected: str
) -> None:
    saved = _saved(database, manifest)
    tamper(database, saved, manifest)  # type: ignore[operator]  # the parametrised tamper function is typed as object in the parameter list

    with pytest.raises(AuditViolation, match=expected.format(x=saved.seq - 2, s=saved.seq)):
        verify_export(export_of(database), manifest=manifest, saved=saved)


def restore_to(
    database: Database,
    world: World,
    manifest: Manifest,
    *,
    backup_seq: int,
    saved: SignedCheckpoint,
    approver: str = "alice",
    signer: str = "alice",
) -> None:
    """Roll the log back to ``backup_seq`` as a restore from backup does, with an approval."""
    with database.session(write=False) as session:
        backup_head = session.get_one(AuditEntry, backup_seq).hash
    truncate(database, backup_seq)
    approval = sign_restore_approval(
        world.members[signer].sign_seed,
        instance_id=manifest.instance_id,
        backup_id="backup-1",
        backup_seq=backup_seq,
        backup_head=backup_head,
        from_seq=saved.seq,
        from_head=saved.head,
    )
    with database.unit_of_work() as session:
        audit.record(
            session,
            event="instance.restored",
            case_id=None,
            actor="operator",
            on=TODAY,
            detail={
                "backup": "backup-1",
                "backup_seq": backup_seq,
                "backup_head": b64e(backup_head),
                "from_seq": saved.seq,
                "from_head": b64e(saved.head),
                "approver": f"member:{approver}",
                "approval": b64e(approval),
            },
        )


def test_a_rollback_through_an_approved_restore_passes_and_without_approval_fails(
    database: Database, manifest: Manifest, world: World
) -> None:
    saved = _saved(database, manifest)
    restore_to(database, world, manifest, backup_seq=saved.seq - 3, saved=saved)
    activity(database, 2)

    result = verify_export(export_of(database), manifest=manifest, saved=saved)

    assert result.restored_from == saved.seq
    with database.unit_of_work() as session:
        session.execute(delete(AuditEntry).where(AuditEntry.seq > saved.seq - 3))
        session.execute(delete(AuditCheckpoint).where(AuditCheckpoint.seq > saved.seq - 3))
        last = session.get_one(AuditEntry, saved.seq - 3)
        session.execute(update(AuditHead).values(seq=last.seq, hash=last.hash))
    restore_to(database, world, manifest, backup_seq=saved.seq - 3, saved=saved, signer="bob")
    with pytest.raises(AuditViolation, match="without an approved restore"):
        verify_export(export_of(database), manifest=manifest, saved=saved)


def test_a_rollback_without_any_restore_entry_fails_naming_the_saved_seq(
    database: Database, manifest: Manifest
) -> None:
    saved = _saved(database, manifest)
    truncate(database, saved.seq - 3)
    activity(database, 10)

    with pytest.raises(AuditViolation, match=f"saved checkpoint at seq {saved.seq}"):
        verify_export(export_of(database), manifest=manifest, saved=saved)


def rotated_manifest(
    world: World, manifest: Manifest, key: bytes, from_seq: int, **changes: object
) -> tuple[Manifest, object]:
    new = successor(manifest, root=manifest.root, now=utcnow(), days=30)
    keys = (*manifest.audit_keys, AuditKey(key=key, from_seq=from_seq))
    new = replace(new, audit_keys=changes.get("audit_keys", keys))  # type: ignore[arg-type]  # the changed fields come from a parametrised dict; the callee checks them at run time
    return new, sign_manifest(new, [world.root])


def test_after_an_instance_key_rotation_old_and_new_checkpoints_verify_under_their_own_keys(
    database: Database, manifest: Manifest, world: World
) -> None:
    before = latest(database, manifest)
    with database.unit_of_work() as session:
        old_seed = instance.get_state(session, instance.INSTANCE_SEED)
        key, from_seq = instance.begin_key_rotation(session)
    activity(database)
    capped = latest(database, manifest)
    assert capped.seq == from_seq - 1  # the old key signs nothing the new key should cover

    _wrong, wrong_signed = rotated_manifest(world, manifest, key, from_seq + 1)
    _dropped, dropped_signed = rotated_manifest(
        world, manifest, key, from_seq, audit_keys=(AuditKey(key=key, from_seq=from_seq),)
    )
    new, signed = rotated_manifest(world, manifest, key, from_seq)
    now = utcnow()
    for refused, reason in ((wrong_signed, "--from-seq"), (dropped_signed, "drops or changes")):
        with database.unit_of_work() as session, pytest.raises(ManifestError, match=reason):
            publish_manifest(session, refused, today=TODAY, now=now)  # type: ignore[arg-type]  # the test publishes a deliberately wrong manifest object to see it refused
    with database.unit_of_work() as session:
        publish_manifest(session, signed, today=TODAY, now=now)  # type: ignore[arg-type]  # the test publishes a deliberately wrong manifest object to see it refused
    after = latest(database, new)

    assert after.seq >= from_seq
    check_checkpoint(before, new)
    check_checkpoint(capped, new)
    check_checkpoint(after, new)
    assert old_seed is not None
    forged = SignedCheckpoint(
        new.instance_id,
        after.seq,
        after.head,
        sign_checkpoint(old_seed, instance_id=new.instance_id, seq=after.seq, head=after.head),
    )
    with pytest.raises(AuditViolation, match=f"Checkpoint {after.seq} is not signed"):
        check_checkpoint(forged, new)
    verify_export(export_of(database), manifest=new, saved=before)
