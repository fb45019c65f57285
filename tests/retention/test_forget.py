"""After a purge the database's own files keep no copy of the purged case: SQLite's write-ahead
log is emptied or the run fails naming what is left, and PostgreSQL's index on the reporter's
key is rebuilt so the key is not left in a B-tree page's free space. Both are about one
database's files by nature, so each test runs on that database only."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, text

from safevoice.cases.models import Case
from safevoice.cli import retention as retention_cli
from safevoice.crypto.manifest import Manifest
from safevoice.storage import dialect
from safevoice.storage.db import Database
from tests.conftest import Cli
from tests.retention.support import app_api, later, stored_secrets, submit_with_file


def reporter_key(database: Database, case_id: str) -> bytes:
    with database.session(write=False) as session:
        key = session.scalar(select(Case.sign_key).where(Case.id == case_id))
    assert key is not None
    return bytes(key)


def on_disk(database: Database) -> bytes:
    path = database.sqlite_path
    assert path is not None
    wal = Path(f"{path}-wal")
    return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


@pytest.mark.parametrize("db_kind", ["sqlite"], indirect=True)
def test_a_purge_whose_wal_a_reader_holds_exits_non_zero_naming_what_is_left(
    database: Database,
    database_url: str,
    client: httpx.Client,
    manifest: Manifest,
    cli: Cli,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    blob_spec = f"fs:{tmp_path / 'blobs'}"
    case_id = submit_with_file(app_api(database, database_url, blob_spec), manifest, tmp_path)
    secrets = [*stored_secrets(database, case_id), reporter_key(database, case_id)]
    database.checkpoint()
    monkeypatch.setattr(retention_cli, "utcnow", lambda: later(100))
    monkeypatch.setattr(dialect, "CHECKPOINT_WAIT_SECONDS", 0.01)
    monkeypatch.setattr(dialect, "CHECKPOINT_PAUSE_SECONDS", 0.01)
    env = {"SAFEVOICE_BLOB_STORE": blob_spec}
    path = database.sqlite_path
    assert path is not None
    # A reader (a backup tool, a stuck request) keeps a snapshot from before the purge.
    reader = sqlite3.connect(path, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM case_file").fetchone()
    try:
        blocked = cli.safevoice("retention", "run", "--database", database_url, env=env, expect=1)

        assert "purged 1 case(s)" in blocked.stderr
        assert f"{path}-wal" in " ".join(blocked.stderr.split())
        assert "read transaction" in blocked.stderr
        assert "Traceback" not in blocked.stderr + blocked.stdout
        assert database.wal_bytes() > 0
    finally:
        reader.execute("COMMIT")
        reader.close()

    cli.safevoice("retention", "run", "--database", database_url, env=env, expect=0)

    assert database.wal_bytes() == 0
    contents = on_disk(database)
    assert all(secret not in contents for secret in secrets)


@pytest.mark.parametrize("db_kind", ["postgresql"], indirect=True)
def test_a_purged_reporters_key_is_not_left_in_any_index_page(
    database: Database,
    database_url: str,
    client: httpx.Client,
    manifest: Manifest,
    tmp_path: Path,
) -> None:
    api = app_api(database, database_url, f"fs:{tmp_path / 'blobs'}")
    case_id = submit_with_file(api, manifest, tmp_path)
    key = reporter_key(database, case_id)

    retention_cli.purge_all(database, f"fs:{tmp_path / 'blobs'}", now=later(100))

    with database.writer.connect() as connection:
        connection.execute(text("CREATE EXTENSION IF NOT EXISTS pageinspect"))
        indexes = list(
            connection.execute(
                text("SELECT indexname FROM pg_indexes WHERE tablename = 'case_file'")
            ).scalars()
        )
        assert len(indexes) >= 2  # the primary key and the reporter's key
        pages = b""
        for index in indexes:
            blocks = connection.execute(
                text("SELECT pg_relation_size(CAST(:i AS regclass)) / 8192"), {"i": index}
            ).scalar_one()
            for block in range(int(blocks)):
                pages += bytes(
                    connection.execute(
                        text("SELECT get_raw_page(:i, :b)"), {"i": index, "b": block}
                    ).scalar_one()
                )
        connection.rollback()
    assert pages
    assert key not in pages
