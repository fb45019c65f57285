"""Backup, purge, save a countersigned checkpoint, restore the backup: the purged cases are gone
again, and `audit verify --checkpoint` passes only because of the approved restore entry."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from safevoice.attachments.models import Upload
from safevoice.audit import checkpoints
from safevoice.backup import approval as approvals
from safevoice.backup.archive import read_header
from safevoice.backup.export import Head
from safevoice.cases.models import Case
from safevoice.clock import utcnow
from safevoice.crypto.checkpoint import countersign
from safevoice.crypto.encoding import b64d, b64e, canonical_json
from safevoice.crypto.hashing import entry_hash
from safevoice.crypto.manifest import Manifest
from safevoice.instance import service as instance
from safevoice.protocol.audit import SignedCheckpoint, body_version
from safevoice.retention import service as retention
from safevoice.retention.models import LegalHold, Tombstone
from safevoice.storage.blobs import open_blob_store
from safevoice.storage.db import Database
from tests.audit.support import export_of
from tests.backup.conftest import Folders
from tests.backup.test_backup_restore import backup, cases, restore, restore_older, uploads
from tests.conftest import Cli
from tests.support.backups import submit_case_with_file, write_json
from tests.support.world import World


@pytest.fixture
def blob_spec(tmp_path: Path) -> str:
    return f"fs:{tmp_path / 'blobs'}"


def save_countersigned_checkpoint(
    database: Database, manifest: Manifest, world: World, path: Path
) -> SignedCheckpoint:
    """What an auditor keeps after `safevoice audit countersign --save FILE`."""
    with database.unit_of_work() as session:
        today = instance.snapshot(session).today(utcnow())
        view = instance.latest_checkpoint(session, manifest=manifest, today=today)
        signature = countersign(
            world.auditor.sign_seed, instance_id=view.instance_id, seq=view.seq, head=view.head
        )
        view = checkpoints.add_countersignature(
            session,
            manifest=manifest,
            auditor_id=world.auditor.public.id,
            seq=view.seq,
            signature=b64e(signature),
        )
    saved = SignedCheckpoint(
        instance_id=view.instance_id,
        seq=view.seq,
        head=view.head,
        signature=view.signature,
        countersignatures=view.countersignatures,
    )
    path.write_text(json.dumps(saved.to_json()))
    return saved


def verify(cli: Cli, export: Path, saved: Path, world: World, expect: int = 0) -> Any:
    return cli.safevoice(
        "audit",
        "verify",
        str(export),
        "--checkpoint",
        str(saved),
        "--pin",
        world.pin,
        expect=expect,
    )


def test_purged_cases_stay_gone_after_restoring_an_older_backup_with_an_approval(
    cli: Cli,
    database: Database,
    database_url: str,
    blob_spec: str,
    blank: Database,
    blank_url: str,
    manifest: Manifest,
    world: World,
    folders: Folders,
    tmp_path: Path,
) -> None:
    kept, _ = submit_case_with_file(database, database_url, blob_spec, manifest, tmp_path, 500)
    purged = [
        submit_case_with_file(database, database_url, blob_spec, manifest, tmp_path, 700)[0]
        for _ in range(2)
    ]
    with database.session(write=False) as session:
        purged_uploads = set(session.scalars(select(Upload.id).where(Upload.case_id.in_(purged))))
    assert len(purged_uploads) == 2
    path = backup(cli, database_url, blob_spec, folders)
    header = read_header(path)
    store = open_blob_store(blob_spec, database)
    with database.unit_of_work() as session:
        today = instance.snapshot(session).today(utcnow())
        for case_id in purged:
            assert retention.purge_case(session, store, case_id, today=today, policy="max_age")
    assert cases(database) == {kept}
    saved_path = tmp_path / "saved-checkpoint.json"
    saved = save_countersigned_checkpoint(database, manifest, world, saved_path)
    assert saved.countersignatures
    assert saved.seq > header.audit_seq
    newest_export = write_json(tmp_path / "newest-export.json", export_of(database))
    approval = approvals.approve(
        header,
        checkpoint=Head(seq=saved.seq, hash=saved.head),
        instance_id=manifest.instance_id,
        keys=world.auditor,
    )
    approval_path = write_json(tmp_path / "approval.json", approval.to_json())

    result = restore_older(
        cli,
        path,
        database_url,
        blob_spec,
        folders,
        approval=approval_path,
        export=newest_export,
    )

    assert "2 later purges applied again" in result.stdout
    assert cases(database) == {kept}
    with database.session(write=False) as session:
        assert set(session.scalars(select(Tombstone.case_id))) == set(purged)
    assert not purged_uploads & {u for u, _ in uploads(database)}
    for upload_id in purged_uploads:
        with pytest.raises(Exception, match="not stored"):
            store.get_chunk(upload_id, 0)
    after = export_of(database)
    bodies = [json.loads(_body(e)) for e in after["entries"]]
    restored_at = header.audit_seq + 1
    assert bodies[restored_at]["event"] == "instance.restored"
    again = [b["case_id"] for b in bodies[restored_at + 1 :] if b["event"] == "case.purged"]
    assert again == _purge_order(newest_export)
    restored_export = write_json(tmp_path / "restored-export.json", after)

    passed = verify(cli, restored_export, saved_path, world)
    assert f"through an approved restore from seq {saved.seq}" in passed.stdout

    # The same rollback with a forged approval (the chain re-hashed, as a server could): fails.
    forged = _with_restore_detail(after, restored_at, approval=b64e(bytes(64)))
    failed = verify(cli, write_json(tmp_path / "forged.json", forged), saved_path, world, 1)
    assert "without an approved restore" in failed.stderr

    # And a rollback with no restore entry at all: the backup restored on its own elsewhere.
    restore(cli, path, blank_url, f"fs:{tmp_path / 'other-blobs'}", folders, "--no-audit-export")
    bare = write_json(tmp_path / "bare.json", export_of(blank))
    failed = verify(cli, bare, saved_path, world, 1)
    assert f"saved checkpoint at seq {saved.seq}" in failed.stderr
    assert set(cases(blank)) == {kept, *purged}


def _body(entry: dict[str, object]) -> bytes:
    return b64d(str(entry["body"]))


def _purge_order(export: Path) -> list[str]:
    data = json.loads(export.read_text())
    return [
        json.loads(_body(e))["case_id"]
        for e in data["entries"]
        if json.loads(_body(e))["event"] == "case.purged"
    ]


def _with_restore_detail(export: dict[str, object], seq: int, **changes: str) -> dict[str, object]:
    """The export with the restore entry's detail changed and every later hash recomputed."""
    entries = [dict(e) for e in export["entries"]]
    head = b64d(entries[seq - 1]["hash"])
    for entry in entries[seq:]:
        body = _body(entry)
        if entry["seq"] == seq:
            data = json.loads(body)
            data["detail"].update(changes)
            body = canonical_json(data)
        head = entry_hash(head, body, version=body_version(body))
        entry["body"], entry["hash"] = b64e(body), b64e(head)
    return {**export, "entries": entries, "checkpoints": []}


def test_a_hold_or_a_closure_after_the_backup_does_not_stop_a_purge_being_applied_again(
    cli: Cli,
    database: Database,
    database_url: str,
    blob_spec: str,
    manifest: Manifest,
    world: World,
    folders: Folders,
    tmp_path: Path,
) -> None:
    held, _ = submit_case_with_file(database, database_url, blob_spec, manifest, tmp_path, 10)
    closed, _ = submit_case_with_file(database, database_url, blob_spec, manifest, tmp_path, 10)
    with database.unit_of_work() as session:
        today = instance.snapshot(session).today(utcnow())
        retention.place_hold(
            session, label="member:alice", case_id=held, reason="litigation", today=today
        )
    path = backup(cli, database_url, blob_spec, folders)
    store = open_blob_store(blob_spec, database)
    with database.unit_of_work() as session:
        retention.release_hold(session, label="member:alice", case_id=held, today=today)
        assert retention.purge_case(session, store, held, today=today, policy="max_age")
        case = session.get_one(Case, closed)
        case.status, case.closed_on = "closed", today - timedelta(days=90)
        session.flush()
        assert retention.purge_case(session, store, closed, today=today, policy="after_closure")
    saved = save_countersigned_checkpoint(database, manifest, world, tmp_path / "saved.json")
    approval = approvals.approve(
        read_header(path),
        checkpoint=Head(seq=saved.seq, hash=saved.head),
        instance_id=manifest.instance_id,
        keys=world.members["bob"],
    )

    restore_older(
        cli,
        path,
        database_url,
        blob_spec,
        folders,
        approval=write_json(tmp_path / "approval.json", approval.to_json()),
        export=write_json(tmp_path / "export.json", export_of(database)),
    )

    assert not cases(database) & {held, closed}
    with database.session(write=False) as session:
        policies = dict(session.execute(select(Tombstone.case_id, Tombstone.policy)).all())
        assert session.scalars(select(LegalHold)).first() is None
    assert policies == {held: "max_age", closed: "after_closure"}
