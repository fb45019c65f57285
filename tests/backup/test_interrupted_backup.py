"""A backup run killed mid-write leaves nothing the next run does not remove, and a run still
writing is never disturbed.

The killed run is a real ``safevoice admin backup`` process. To kill it mid-write at a moment the
test chooses, one chunk of the file blob store is a named pipe: the run writes the header and
every table into its temporary file, then waits on the pipe until SIGKILL. Key files are
written the same way, and one a killed run left may hold a key: it is destroyed (overwritten
with zeros, then removed), never merely unlinked.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

from safevoice.backup.keys import KeyDirectory
from safevoice.crypto.manifest import Manifest
from safevoice.storage.db import Database
from safevoice.storage.temporaries import INCOMING
from tests.attachments.test_stale_temporaries import Writer
from tests.backup.conftest import Folders
from tests.backup.test_backup_restore import backup_args, blob_bytes, restore
from tests.conftest import Cli
from tests.support.backups import submit_case_with_file, table_rows

BIN = Path(sys.executable).parent
WAIT_SECONDS = 60.0


def _leftovers(*folders: Path) -> list[str]:
    return [p.name for folder in folders for p in folder.iterdir() if p.name.startswith(INCOMING)]


def _backup_process(
    url: str, blob_spec: str, folders: Folders, home: Path
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [str(BIN / "safevoice"), *backup_args(url, blob_spec, folders)],
        env={**os.environ, "SAFEVOICE_HOME": str(home)},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@contextmanager
def _stuck_on(pipe: Path, process: subprocess.Popen[bytes]) -> Iterator[None]:
    """Wait until ``process`` opens the named pipe, then keep it waiting for data that never
    comes (a writer is open, so its read blocks instead of ending) until the block exits."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        try:
            fd = os.open(pipe, os.O_WRONLY | os.O_NONBLOCK)  # fails while no one reads it
            break
        except OSError as exc:
            if exc.errno != errno.ENXIO:
                raise
        assert process.poll() is None, "the backup ended before it reached the blob chunk"
        assert time.monotonic() < deadline, "the backup never reached the blob chunk"
        time.sleep(0.05)
    try:
        yield
    finally:
        os.close(fd)


def _run_backup(cli: Cli, url: str, blob_spec: str, folders: Folders) -> tuple[str, Path]:
    """``safevoice admin backup`` in-process; what it printed and the backup it wrote."""
    before = set(folders.backups.glob("*.svbackup"))
    result = cli.safevoice(*backup_args(url, blob_spec, folders))
    (path,) = set(folders.backups.glob("*.svbackup")) - before
    return str(result.stdout), path


def test_a_backup_killed_mid_write_is_cleaned_up_by_the_next_run_and_never_a_running_one(
    cli: Cli,
    database: Database,
    database_url: str,
    blank: Database,
    blank_url: str,
    manifest: Manifest,
    folders: Folders,
    tmp_path: Path,
) -> None:
    blob_spec = f"fs:{tmp_path / 'blobs'}"
    submit_case_with_file(database, database_url, blob_spec, manifest, tmp_path / "in", 3000)
    (chunk,) = (tmp_path / "blobs").glob("*/00000000")
    content = chunk.read_bytes()
    chunk.unlink()
    os.mkfifo(chunk, 0o600)

    killed = _backup_process(database_url, blob_spec, folders, tmp_path / "home")
    try:
        with _stuck_on(chunk, killed):
            (running,) = _leftovers(folders.backups)
            restored = chunk.with_name("restored")
            restored.write_bytes(content)
            os.replace(restored, chunk)  # the stuck run keeps waiting on the pipe it opened

            during, _ = _run_backup(cli, database_url, blob_spec, folders)
            assert "removed" not in during
            assert _leftovers(folders.backups) == [running]
            assert killed.poll() is None

            killed.kill()
            killed.wait()
    finally:
        killed.kill()
        killed.wait()

    again, path = _run_backup(cli, database_url, blob_spec, folders)
    assert "removed 1 unfinished file(s) an interrupted backup left" in again
    assert _leftovers(folders.backups, folders.keys) == []

    target = f"fs:{tmp_path / 'restored'}"
    restore(cli, path, blank_url, target, folders, "--no-audit-export")
    assert table_rows(blank) == table_rows(database)
    assert blob_bytes(blank, target) == blob_bytes(database, blob_spec)


def test_a_key_file_a_killed_run_left_is_destroyed_and_one_being_written_is_kept(
    cli: Cli, tmp_path: Path
) -> None:
    keys = KeyDirectory(tmp_path / "keys")
    key = keys.current(today=date(2026, 12, 1), rotation_days=30)
    stale, writing = Writer(keys.path), Writer(keys.path)
    try:
        stale.kill()
        copy = tmp_path / "second-name-of-the-stale-file"
        os.link(stale.temp, copy)  # shows what became of its content once it is removed
        size = copy.stat().st_size

        pruned = cli.safevoice("admin", "backup-keys", "prune", "--keys-dir", str(keys.path))

        assert "Destroyed 1 unfinished key file(s) an interrupted backup left." in pruned.stdout
        assert not stale.temp.exists()
        assert copy.read_bytes() == bytes(size)
        assert writing.temp.exists()
        assert keys.stored() == [key]
    finally:
        for writer in (stale, writing):
            if writer.process.poll() is None:
                writer.kill()
