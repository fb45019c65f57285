"""Small file systems a test mounts for itself: a full disk or a read-only one, for real.

tmpfs with ``size=`` gives a disk that fills up after a few megabytes, and remounting it
read-only makes even root unable to write (file modes do not stop root). Mounting needs the
privilege to mount (root, as on the development and CI machines); without it the tests that
use these fail rather than pass untested.
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


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
