"""Small file systems a test mounts for itself: a full disk or a read-only one, for real.

tmpfs with ``size=`` gives a disk that fills up after a few megabytes, and remounting it
read-only makes even root unable to write (file modes do not stop root). Mounting needs the
privilege to mount; ``can_mount`` says whether this machine grants it.
"""

from __future__ import annotations

import contextlib
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def can_mount() -> bool:
    with tempfile.TemporaryDirectory() as folder:
        mounted = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", folder],
            capture_output=True,
            check=False,
        )
        if mounted.returncode != 0:
            return False
        subprocess.run(["umount", folder], check=True)
        return True


@contextmanager
def small_filesystem(where: Path, *, size: str) -> Iterator[Path]:
    where.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], check=True)
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def remount(where: Path, *, writable: bool) -> None:
    mode = "rw" if writable else "ro"
    subprocess.run(["mount", "-o", f"remount,{mode}", str(where)], check=True)


def fill(where: Path) -> Path:
    """Write a file until the file system is full; return it (delete it to free the space)."""
    filler = where / "filler"
    block = b"\0" * 65536
    with filler.open("wb", buffering=0) as handle, contextlib.suppress(OSError):
        while True:
            handle.write(block)
    return filler
