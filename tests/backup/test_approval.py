"""Restoring a backup older than the audit log: only with a member's or auditor's approval, which
the restore writes into an ``instance.restored`` entry; forged, foreign or stale approvals fail."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from safevoice.backup import approval as approvals
from safevoice.backup.archive import read_header
from safevoice.backup.export import Head
from safevoice.client.state import State
from safevoice.crypto.encoding import b64e
from safevoice.crypto.hashing import entry_hash
from safevoice.crypto.keys import generate
from safevoice.crypto.manifest import Manifest, parse_payload
from safevoice.instance import service as instance
from safevoice.protocol.audit import body_version
from safevoice.storage.db import Database
from tests.audit.support import export_of
from tests.backup.conftest import Folders
from tests.backup.test_backup_restore import backup, restore, restore_older
from tests.conftest import Cli
from tests.support.backups import audit_chain, operator_event, write_json
from tests.support.server import ServerProcess
from tests.support.world import World


@pytest.fixture
def blob_spec(tmp_path: Path) -> str:
    return f"fs:{tmp_path / 'blobs'}"


def head(database: Database) -> Head:
    seq, _body, digest = audit_chain(database)[-1]
    return Head(seq=seq, hash=digest)


def test_an_approved_restore_of_an_older_backup_appends_the_restore_entry(
    cli: Cli,
    database: Database,
    database_url: str,
    blob_spec: str,
    manifest: Manifest,
    world: World,
    folders: Folders,
    tmp_path: Path,
) -> None:
    path = backup(cli, database_url, blob_spec, folders)
    header = read_header(path)
    before = audit_chain(database)
    operator_event(database)
    operator_event(database)
    live = head(database)
    approval = approvals.approve(
        header, checkpoint=live, instance_id=manifest.instance_id, keys=world.auditor
    )
    export = write_json(tmp_path / "export.json", export_of(database))

    result = restore_older(
        cli,
        path,
        database_url,
        blob_spec,
        folders,
        approval=write_json(tmp_path / "approval.json", approval.to_json()),
        export=export,
    )

    assert f"rolled back from seq {live.seq} to {header.audit_seq}" in result.stdout
    assert "approved by auditor:audrey" in result.stdout
    chain = audit_chain(database)
    assert chain[: len(before)] == before
    seq, body, digest = chain[len(before)]
    assert seq == header.audit_seq + 1
    assert digest == entry_hash(header.audit_head, body, version=body_version(body))
    entry = json.loads(body)
    assert entry["event"] == "instance.restored"
    assert entry["actor"] == "operator"
    assert entry["case_id"] is None
    assert entry["detail"] == {
        "backup": header.backup_id,
        "backup_seq": header.audit_seq,
        "backup_head": b64e(header.audit_head),
        "from_seq": live.seq,
        "from_head": b64e(live.hash),
        "approver": "auditor:audrey",
        "approval": b64e(approval.signature),
    }


def test_forged_foreign_stale_or_missing_approvals_are_refused(
    cli: Cli,
    database: Database,
    database_url: str,
    blob_spec: str,
    manifest: Manifest,
    world: World,
    folders: Folders,
    tmp_path: Path,
) -> None:
    path = backup(cli, database_url, blob_spec, folders)
    other = backup(cli, database_url, blob_spec, folders)
    header = read_header(path)
    operator_event(database)
    stale = head(database)
    operator_event(database)
    live = head(database)
    export = write_json(tmp_path / "export.json", export_of(database))
    alice = world.members["alice"]
    good = approvals.approve(header, checkpoint=live, instance_id=manifest.instance_id, keys=alice)
    stranger = generate("member", "alice", "Not enrolled")
    cases: dict[str, tuple[Any, str]] = {
        "forged": (
            {**good.to_json(), "approval": b64e(bytes(64))},
            "does not verify under member:alice's key",
        ),
        "another signer": (
            {**good.to_json(), "approver": "member:bob"},
            "does not verify under member:bob's key",
        ),
        "not enrolled": (
            approvals.approve(
                header, checkpoint=live, instance_id=manifest.instance_id, keys=stranger
            ).to_json(),
            "does not verify",
        ),
        "stale checkpoint": (
            approvals.approve(
                header, checkpoint=stale, instance_id=manifest.instance_id, keys=alice
            ).to_json(),
            "save a current checkpoint",
        ),
        "another backup": (
            approvals.approve(
                read_header(other), checkpoint=live, instance_id=manifest.instance_id, keys=alice
            ).to_json(),
            "another backup",
        ),
        "not an approval": ({"format": "something else"}, "not a SafeVoice restore approval"),
    }
    before = audit_chain(database)
    for name, (data, message) in cases.items():
        file = tmp_path / f"{name}.json"
        file.write_text(json.dumps(data))
        result = restore_older(
            cli, path, database_url, blob_spec, folders, approval=file, export=export, expect=1
        )
        assert message in result.stderr, name
        assert "Traceback" not in result.stderr
        assert audit_chain(database) == before, name

    missing_export = restore(
        cli,
        path,
        database_url,
        blob_spec,
        folders,
        "--yes",
        "--approval",
        str(write_json(tmp_path / "good.json", good.to_json())),
        expect=1,
    )
    assert "--audit-export" in missing_export.stderr
    assert audit_chain(database) == before


def test_an_export_that_does_not_chain_is_refused(
    cli: Cli,
    database: Database,
    database_url: str,
    blob_spec: str,
    manifest: Manifest,
    world: World,
    folders: Folders,
    tmp_path: Path,
) -> None:
    path = backup(cli, database_url, blob_spec, folders)
    operator_event(database)
    approval = approvals.approve(
        read_header(path),
        checkpoint=head(database),
        instance_id=manifest.instance_id,
        keys=world.auditor,
    )
    export = write_json(tmp_path / "export.json", export_of(database))
    data = json.loads(export.read_text())
    data["entries"][-1]["body"] = b64e(b'{"event":"case.purged"}')
    export.write_text(json.dumps(data))

    result = restore_older(
        cli,
        path,
        database_url,
        blob_spec,
        folders,
        approval=write_json(tmp_path / "approval.json", approval.to_json()),
        export=export,
        expect=1,
    )

    assert "chain is broken at seq" in result.stderr


def saved_checkpoint(home: Path, server: ServerProcess, at: Head, instance_id: str) -> None:
    """Put a checkpoint into the member's local state, as a verified login leaves it."""
    state = State.load(home)
    state.server(server.url).checkpoint = {
        "instance_id": instance_id,
        "seq": at.seq,
        "head": b64e(at.hash),
        "signature": b64e(bytes(64)),
        "countersignatures": [],
    }
    state.save()


def test_approve_restore_signs_the_backup_against_the_saved_checkpoint(
    cli: Cli,
    server: ServerProcess,
    database: Database,
    database_url: str,
    blob_spec: str,
    manifest: Manifest,
    world: World,
    folders: Folders,
    tmp_path: Path,
) -> None:
    path = backup(cli, database_url, blob_spec, folders)
    header = read_header(path)
    cli.safevoice(
        "login",
        "--server",
        server.url,
        "--key",
        str(world.key_file("carol")),
        "--pin",
        world.pin,
    )
    state = State.load(cli.home)
    state.server(server.url).checkpoint = None
    state.save()

    missing = cli.safevoice("audit", "approve-restore", str(path), expect=1)
    assert "no saved checkpoint" in missing.stderr

    saved_checkpoint(
        cli.home, server, Head(seq=header.audit_seq, hash=header.audit_head), manifest.instance_id
    )
    same = cli.safevoice("audit", "approve-restore", str(path), expect=1)
    assert "needs no approval" in same.stderr

    operator_event(database, on=date.today())
    live = head(database)
    saved_checkpoint(cli.home, server, live, manifest.instance_id)
    out = tmp_path / "approval.json"
    result = cli.safevoice("audit", "approve-restore", str(path), "--out", str(out))

    assert f"from seq {live.seq} to {header.audit_seq}" in result.stdout
    approval = approvals.Approval.from_json(json.loads(out.read_text()))
    assert approval.approver == "member:carol"
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    approvals.check(approval, header, manifest=manifest, newest=live)


def test_approve_restore_signs_from_the_checkpoint_the_login_verified(
    cli: Cli, server: ServerProcess, world: World, folders: Folders, tmp_path: Path
) -> None:
    live = Database.connect(server.database_url, pool_size=1)
    try:
        # Reading the shared server's database and appending one entry leaves it usable.
        path = backup(cli, server.database_url, f"fs:{server.workdir / 'blobs'}", folders)
        header = read_header(path)
        operator_event(live)
        cli.safevoice(
            "login",
            "--server",
            server.url,
            "--key",
            str(world.key_file(world.auditor.public.id)),
            "--pin",
            world.pin,
        )
        saved = State.load(cli.home).server(server.url).checkpoint
        assert saved is not None
        assert saved["seq"] > header.audit_seq
        out = tmp_path / "approval.json"

        cli.safevoice("audit", "approve-restore", str(path), "--out", str(out))

        approval = approvals.Approval.from_json(json.loads(out.read_text()))
        assert approval.approver == "auditor:audrey"
        assert (approval.from_seq, b64e(approval.from_head)) == (saved["seq"], saved["head"])
        with live.session(write=False) as session:
            signed = instance.current_signed_manifest(session)
        assert signed is not None
        approvals.check(
            approval,
            header,
            manifest=parse_payload(signed.payload),
            newest=Head(seq=approval.from_seq, hash=approval.from_head),
        )
    finally:
        live.dispose()
