"""Files that appear whole or not at all, and the removal of what a killed writer left behind.

A file that must never be read half-written (a blob chunk, a backup, a backup key) is written
under a temporary name beginning ``.incoming-`` in its final folder, synced, and renamed into
place. The writer holds an exclusive lock (``flock``) on the temporary file from before its first
byte until the rename, and a killed process's locks go with it. So a temporary file nobody holds
a lock on is stale, and one that is locked belongs to a write still running (in another worker,
or in another backup run) however long it takes; file times could not tell the two apart, since
a backup or a slow upload may run for hours. The lock works on a local file system, not across
hosts on a network share.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

INCOMING = ".incoming-"


def still_named(path: str | Path, fd: int) -> bool:
    """Whether ``path`` still names the open file ``fd`` (not removed or replaced meanwhile)."""
    try:
        named = os.stat(path)
    except FileNotFoundError:
        return False
    opened = os.fstat(fd)
    return (named.st_dev, named.st_ino) == (opened.st_dev, opened.st_ino)


def create_locked(folder: Path, *, suffix: str = "") -> tuple[BinaryIO, Path]:
    """A new temporary file in ``folder`` (mode 0600), open for writing and locked until its
    handle is closed; the caller renames it into place before closing it, or removes it."""
    while True:
        fd, name = tempfile.mkstemp(dir=folder, prefix=INCOMING, suffix=suffix)
        handle = os.fdopen(fd, "wb")
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            named = still_named(name, fd)
        except BaseException:
            handle.close()
            Path(name).unlink(missing_ok=True)
            raise
        if named:
            return handle, Path(name)
        handle.close()  # removed as stale between its creation and the lock: start again


def remove_stale(candidates: Iterable[Path], *, shred: bool = False) -> list[Path]:
    """Remove each temporary file of ``candidates`` that no process holds a lock on; return
    those removed. With ``shred`` each is overwritten with zeros and synced first (it may hold
    a key)."""
    removed = []
    for temp in candidates:
        try:
            fd = os.open(temp, os.O_RDWR if shred else os.O_RDONLY)
        except FileNotFoundError:
            continue  # renamed or removed in between
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # being written right now
            if not still_named(temp, fd):
                continue
            if shred:
                _zero(fd)
            temp.unlink(missing_ok=True)  # a purge may remove the folder meanwhile
            removed.append(temp)
        finally:
            os.close(fd)
    return removed


def _zero(fd: int) -> None:
    size = os.fstat(fd).st_size
    os.pwrite(fd, bytes(size), 0)
    os.fsync(fd)
