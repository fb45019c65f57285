"""Every file that holds keys, ciphertext or state is created mode 0600 in folders of mode 0700,
whatever the umask: the demo, a server's SQLite database with its WAL, blob chunks, key files."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from safevoice.storage.blobs import FileBlobStore
from safevoice.storage.db import Database
from tests.conftest import Cli


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The usual default umask, under which plain ``open`` makes world-readable files."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def loose(root: Path, *, skip: tuple[Path, ...] = ()) -> list[str]:
    """Everything under ``root`` (itself included) that someone other than its owner may read."""
    found = []
    for path in [root, *root.rglob("*")]:
        if any(path == s or s in path.parents for s in skip):
            continue
        mode = stat.S_IMODE(path.lstat().st_mode)
        wanted = 0o700 if path.is_dir() else 0o600
        if mode & 0o077 or (path.is_dir() and mode != wanted):
            found.append(f"{path.relative_to(root.parent)} {oct(mode)}")
    return found


def test_the_demo_keeps_its_keys_database_and_state_to_its_owner(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, open_umask: None
) -> None:
    monkeypatch.chdir(tmp_path)

    cli.safevoice("demo", "--prepare-only")

    database = tmp_path / "var/demo/safevoice.sqlite"
    assert database.exists()
    assert list((tmp_path / "keys/demo").glob("*.key"))
    # The reporter pages' bundle is public by nature; it still sits inside the private folder.
    assert loose(tmp_path / "var", skip=(tmp_path / "var/demo/bundle",)) == []
    assert loose(tmp_path / "keys/demo") == []


def test_a_demo_made_by_an_earlier_version_is_tightened(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, open_umask: None
) -> None:
    monkeypatch.chdir(tmp_path)
    cli.safevoice("demo", "--prepare-only")
    for path in [tmp_path / "var", *(tmp_path / "var").rglob("*"), tmp_path / "keys/demo"]:
        path.chmod(0o755 if path.is_dir() else 0o644)

    cli.safevoice("demo", "--prepare-only")

    assert loose(tmp_path / "var/demo", skip=(tmp_path / "var/demo/bundle",)) == []
    assert loose(tmp_path / "keys/demo") == []
    assert loose(tmp_path / "var/demo/safevoice.sqlite") == []


def test_a_new_sqlite_database_and_its_wal_are_private(tmp_path: Path, open_umask: None) -> None:
    folder = tmp_path / "srv" / "safevoice"
    database = Database.connect(f"sqlite:///{folder / 'safevoice.sqlite'}", pool_size=1)
    try:
        with database.unit_of_work() as session:
            session.execute(text("CREATE TABLE state (value BLOB)"))
            session.execute(text("INSERT INTO state VALUES (x'00')"))
        assert (folder / "safevoice.sqlite-wal").exists()
        assert loose(tmp_path / "srv") == []
    finally:
        database.dispose()


def test_blob_chunks_and_their_folders_are_private(tmp_path: Path, open_umask: None) -> None:
    store = FileBlobStore(tmp_path / "blobs" / "chunks")

    store.put_chunk("A" * 22, 0, b"ciphertext")

    assert loose(tmp_path / "blobs") == []


def test_generated_key_files_are_private(cli: Cli, tmp_path: Path, open_umask: None) -> None:
    out = tmp_path / "keys" / "new"

    cli.safevoice("keys", "generate", "member", "Dora Lind", "--id", "dora", "--out", str(out))

    assert sorted(p.name for p in out.iterdir()) == ["dora.key", "dora.pub.json"]
    assert loose(tmp_path / "keys") == []
