"""Files and folders that only their owner may read.

Everything SafeVoice writes that holds keys, ciphertext or state (the database and its WAL, blob
chunks, key files, manifests, client state, the demo's files) is created mode 0600 inside
folders created mode 0700, whatever the process's umask, so another account on the same machine
never reads it. Modes are given when a file or folder is created, never fixed afterwards, so there
is no moment at which a file is readable by others; a file or folder that already exists with
looser modes is tightened.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

FILE_MODE = 0o600
FOLDER_MODE = 0o700


def private_dir(path: Path, *, owned: bool = False) -> Path:
    """Create ``path`` and every missing parent with mode 0700.

    Folders that already exist are left alone (they may be shared, such as ``/var`` or the
    working folder), unless ``owned`` says ``path`` belongs to SafeVoice alone: then it is
    tightened too.
    """
    missing = []
    current = path
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for folder in reversed(missing):
        # Another worker may create it in between; it is tightened below either way.
        with contextlib.suppress(FileExistsError):
            folder.mkdir(mode=FOLDER_MODE)
        # mkdir's mode is filtered by the umask; chmod is not.
        os.chmod(folder, FOLDER_MODE)
    if owned:
        _tighten(path, FOLDER_MODE)
    return path


def private_file(path: Path) -> Path:
    """Create ``path`` empty with mode 0600 if it does not exist; tighten it if it does."""
    private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, FILE_MODE)
    try:
        if _loose(os.fstat(fd).st_mode):
            os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)
    return path


def write_private_text(path: Path, content: str) -> None:
    """Write ``content`` to ``path`` (replacing it atomically), readable only by its owner."""
    private_dir(path.parent)
    temp = path.with_name(f".{path.name}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(content)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    os.replace(temp, path)


def tighten_file(path: Path) -> None:
    """Make an existing file of this account readable only by it (nothing if it is absent)."""
    _tighten(path, FILE_MODE)


def _loose(mode: int) -> bool:
    return bool(stat.S_IMODE(mode) & 0o077)


def _tighten(path: Path, mode: int) -> None:
    try:
        if _loose(path.stat().st_mode) and path.stat().st_uid == os.getuid():
            os.chmod(path, mode)
    except FileNotFoundError:
        pass
