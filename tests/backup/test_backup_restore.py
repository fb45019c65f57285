"""`safevoice admin backup` and `admin restore` on SQLite and PostgreSQL, with the blobs in a
folder or in the database: full round trips, all-or-nothing failures, and the refusals."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect, select

from safevoice.attachments.models import Upload
from safevoice.backup.archive import read_header
from safevoice.backup.service import backed_up_tables
from safevoice.cases.manifest import publish_manifest
from safevoice.cases.models import Case
from safevoice.clock import utcnow
from safevoice.crypto.manifest import Manifest
from safevoice.instance import service as instance
from safevoice.members.models import LoginSession
from safevoice.storage import migrate
from safevoice.storage.blobs import open_blob_store
from safevoice.storage.db import Database
from tests.backup.conftest import Folders
from tests.conftest import Cli
from tests.support.backups import (
    audit_chain,
    operator_event,
    submit_case_with_file,
    table_rows,
)
from tests.support.world import World


def backup_args(url: str, blob_spec: str, folders: Folders) -> list[str]:
    """The arguments of `safevoice admin backup` into ``folders``."""
    return [
        *("admin", "backup", "--database", url, "--blobs", blob_spec),
        *("--keys-dir", str(folders.keys), "--out", str(folders.backups)),
    ]


def backup(cli: Cli, url: str, blob_spec: str, folders: Folders) -> Path:
    before = set(folders.backups.glob("*.svbackup")) if folders.backups.exists() else set()
    result = cli.safevoice(*backup_args(url, blob_spec, folders))
    assert "Backup written" in result.stdout
    (path,) = set(folders.backups.glob("*.svbackup")) - before
    return path


def restore(
    cli: Cli, path: Path, url: str, blob_spec: str, folders: Folders, *extra: str, expect: int = 0
) -> Any:
    return cli.safevoice(
        "admin",
        "restore",
        str(path),
        "--database",
        url,
        "--blobs",
        blob_spec,
        "--keys-dir",
        str(folders.keys),
        *extra,
        expect=expect,
    )


def restore_older(
    cli: Cli,
    path: Path,
    url: str,
    blob_spec: str,
    folders: Folders,
    *,
    approval: Path,
    export: Path,
    expect: int = 0,
) -> Any:
    """Restore a backup older than the live audit log: approved, with the newest export."""
    return restore(
        cli,
        path,
        url,
        blob_spec,
        folders,
        "--yes",
        "--approval",
        str(approval),
        "--audit-export",
        str(export),
        expect=expect,
    )


def cases(database: Database) -> set[str]:
    with database.session(write=False) as session:
        return set(session.scalars(select(Case.id)))


def uploads(database: Database) -> list[tuple[str, int]]:
    with database.session(write=False) as session:
        return [(u, r) for u, r in session.execute(select(Upload.id, Upload.received))]


def blob_bytes(database: Database, blob_spec: str) -> dict[str, list[bytes]]:
    store = open_blob_store(blob_spec, database)
    return {u: [store.get_chunk(u, i) for i in range(r)] for u, r in uploads(database)}


def test_a_backup_restores_every_row_and_blob_into_a_blank_database(
    cli: Cli,
    database: Database,
    database_url: str,
    blob_spec: str,
    blank: Database,
    blank_url: str,
    manifest: Manifest,
    folders: Folders,
    tmp_path: Path,
) -> None:
    submit_case_with_file(database, database_url, blob_spec, manifest, tmp_path / "in", 3000)
    submit_case_with_file(database, database_url, blob_spec, manifest, tmp_path / "in", 1 << 20)
    original_rows = table_rows(database)
    original_blobs = blob_bytes(database, blob_spec)
    path = backup(cli, database_url, blob_spec, folders)

    target_blobs = "db" if blob_spec == "db" else f"fs:{tmp_path / 'restored-blobs'}"
    result = restore(cli, path, blank_url, target_blobs, folders, "--no-audit-export")

    assert table_rows(blank) == original_rows
    assert blob_bytes(blank, target_blobs) == original_blobs
    assert len(original_blobs) == 2
    assert "restored" in result.stdout
    assert "3 blob chunks of 2 uploads" in result.stdout
    assert migrate.is_current(blank.writer)


def test_the_backup_file_holds_no_plaintext_and_its_header_names_the_audit_head(
    cli: Cli,
    database: Database,
    database_url: str,
    blob_spec: str,
    manifest: Manifest,
    folders: Folders,
) -> None:
    path = backup(cli, database_url, blob_spec, folders)
    raw = path.read_bytes()
    header = read_header(path)

    seq, _body, head = audit_chain(database)[-1]
    assert (header.audit_seq, header.audit_head) == (seq, head)
    assert header.instance_id == manifest.instance_id
    assert header.revision == migrate.head_revision()
    for clear in (b"general", b"Ethical concerns", b"Depot", b"manifest.published"):
        assert clear not in raw
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    shown = cli.safevoice("admin", "backup-show", str(path), "--json").stdout
    assert header.backup_id in shown


def test_every_table_of_the_schema_is_backed_up_except_sessions_and_blob_rows(
    database: Database,
) -> None:
    tables = set(inspect(database.writer).get_table_names())

    assert {t.name for t in backed_up_tables()} == tables - {
        "alembic_version",
        "login_session",
        "blob_chunk",
    }


def test_restoring_over_a_live_database_needs_yes_and_removes_what_came_after(
    cli: Cli,
    database: Database,
    database_url: str,
    blob_spec: str,
    manifest: Manifest,
    folders: Folders,
    tmp_path: Path,
) -> None:
    kept, _ = submit_case_with_file(database, database_url, blob_spec, manifest, tmp_path, 10)
    path = backup(cli, database_url, blob_spec, folders)
    later, _ = submit_case_with_file(database, database_url, blob_spec, manifest, tmp_path, 10)
    with database.session(write=False) as session:
        later_uploads = set(session.scalars(select(Upload.id).where(Upload.case_id == later)))
    assert later_uploads

    refused = restore(cli, path, database_url, blob_spec, folders, expect=1)
    assert "--yes" in refused.stderr
    assert cases(database) == {kept, later}

    restore(cli, path, database_url, blob_spec, folders, "--yes")

    assert cases(database) == {kept}
    store = open_blob_store(blob_spec, database)
    for upload_id in later_uploads:
        with pytest.raises(Exception, match="not stored"):
            store.get_chunk(upload_id, 0)
    with database.session(write=False) as session:
        assert session.scalars(select(LoginSession)).first() is None


def test_a_damaged_or_truncated_backup_changes_nothing(
    cli: Cli,
    database: Database,
    database_url: str,
    blob_spec: str,
    blank: Database,
    blank_url: str,
    manifest: Manifest,
    folders: Folders,
    tmp_path: Path,
) -> None:
    submit_case_with_file(database, database_url, blob_spec, manifest, tmp_path, 2000)
    path = backup(cli, database_url, blob_spec, folders)
    raw = path.read_bytes()
    target_blobs = "db" if blob_spec == "db" else f"fs:{tmp_path / 'target-blobs'}"
    migrate.upgrade(blank.writer)

    truncated = tmp_path / "truncated.svbackup"
    truncated.write_bytes(raw[:-40])
    result = restore(
        cli, truncated, blank_url, target_blobs, folders, "--no-audit-export", expect=1
    )
    assert "altered" in result.stderr or "cut short" in result.stderr
    assert "Traceback" not in result.stderr
    assert all(not rows for rows in table_rows(blank).values())
    if blob_spec != "db":
        folder = tmp_path / "target-blobs"
        assert not folder.exists() or not any(folder.iterdir())

    altered_header = tmp_path / "header.svbackup"
    # An earlier day, the same length: the header still parses but no longer authenticates.
    day = read_header(path).created_on.isoformat().encode()
    earlier = (read_header(path).created_on - timedelta(days=1)).isoformat().encode()
    altered_header.write_bytes(raw.replace(day, earlier, 1))
    assert read_header(altered_header).created_on.isoformat().encode() == earlier
    result = restore(
        cli, altered_header, blank_url, target_blobs, folders, "--no-audit-export", expect=1
    )
    assert "header or its first part was altered" in result.stderr

    flipped = bytearray(raw)
    flipped[-100] ^= 1
    altered_body = tmp_path / "body.svbackup"
    altered_body.write_bytes(bytes(flipped))
    result = restore(
        cli, altered_body, blank_url, target_blobs, folders, "--no-audit-export", expect=1
    )
    assert "altered" in result.stderr
    assert all(not rows for rows in table_rows(blank).values())


def test_a_database_at_another_migration_is_refused(
    cli: Cli,
    database: Database,
    database_url: str,
    blob_spec: str,
    blank: Database,
    blank_url: str,
    folders: Folders,
) -> None:
    path = backup(cli, database_url, blob_spec, folders)
    migrate.upgrade(blank.writer, "0006_workflow")

    result = restore(cli, path, blank_url, blob_spec, folders, "--no-audit-export", expect=1)

    assert "migration 0006_workflow" in result.stderr
    assert migrate.current_revision(blank.writer) == "0006_workflow"


def test_a_restore_without_any_newer_audit_log_must_say_so(
    cli: Cli,
    database_url: str,
    blob_spec: str,
    blank: Database,
    blank_url: str,
    folders: Folders,
) -> None:
    path = backup(cli, database_url, blob_spec, folders)

    result = restore(cli, path, blank_url, blob_spec, folders, expect=1)

    assert "--audit-export" in result.stderr
    assert all(not rows for rows in table_rows(blank).values())


def test_an_older_backup_is_refused_without_an_approval(
    cli: Cli,
    database: Database,
    database_url: str,
    blob_spec: str,
    folders: Folders,
    tmp_path: Path,
) -> None:
    path = backup(cli, database_url, blob_spec, folders)
    operator_event(database, on=date.today())
    before = audit_chain(database)

    result = restore(cli, path, database_url, blob_spec, folders, "--yes", expect=1)

    assert "older than the audit log" in result.stderr
    assert audit_chain(database) == before


def test_a_backup_of_another_instance_or_of_an_unmigrated_database_is_refused(
    cli: Cli,
    database_url: str,
    blob_spec: str,
    blank: Database,
    blank_url: str,
    world: World,
    folders: Folders,
) -> None:
    refused = cli.safevoice(
        "admin", "backup", "--database", blank_url, "--keys-dir", str(folders.keys), expect=1
    )
    assert "not migrated" in refused.stderr
    assert not folders.keys.exists()

    path = backup(cli, database_url, blob_spec, folders)
    migrate.upgrade(blank.writer)
    now = utcnow()
    with blank.unit_of_work() as session:
        instance.initialise(session, timezone="UTC")
        _, signed = world.manifest(
            instance.instance_public_key(session), instance_id="another-instance"
        )
        publish_manifest(session, signed, today=now.date(), now=now)
    before = table_rows(blank)

    result = restore(cli, path, blank_url, blob_spec, folders, "--yes", expect=1)

    assert "belongs to instance another-instance" in result.stderr
    assert table_rows(blank) == before
