"""The backup file: magic, cleartext header, then the encrypted stream of framed messages.

Layout: ``SAFEVOICE-BACKUP\\n``, the header's length (u32 big-endian) and its canonical JSON,
the secretstream header, then each encrypted message preceded by its length (u32). The file is
written to a temporary name and renamed when complete, readable only by its owner; the
temporary file stays locked while it is written, so the next run removes what a killed run left
(``remove_stale_archives``) and never what another run is still writing. Reading
checks the lengths against hard limits before allocating anything, so a damaged or hostile file
gets a clear refusal instead of exhausting memory.
"""

from __future__ import annotations

import contextlib
import os
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from safevoice.crypto.backup import (
    ABYTES,
    STREAM_HEADER_BYTES,
    BackupHeader,
    BackupOpener,
    BackupSealer,
)
from safevoice.crypto.encoding import lp, split_lp
from safevoice.errors import BadEncoding, VerificationFailed
from safevoice.storage.temporaries import INCOMING, create_locked, remove_stale

MAGIC = b"SAFEVOICE-BACKUP\n"
MAX_HEADER = 64 * 1024
MAX_MESSAGE = 256 * 1024 * 1024
FILE_SUFFIX = ".svbackup"


def _read_exact(handle: BinaryIO, size: int, what: str) -> bytes:
    data = handle.read(size)
    if len(data) != size:
        raise VerificationFailed(f"The backup is cut short (in its {what}).")
    return data


def _read_u32(handle: BinaryIO, what: str) -> int:
    (value,) = struct.unpack(">I", _read_exact(handle, 4, what))
    return int(value)


def _header_from(handle: BinaryIO) -> tuple[bytes, BackupHeader]:
    if handle.read(len(MAGIC)) != MAGIC:
        raise BadEncoding("This file is not a SafeVoice backup.")
    size = _read_u32(handle, "header")
    if size > MAX_HEADER:
        raise BadEncoding("The backup header is too large.")
    raw = _read_exact(handle, size, "header")
    return raw, BackupHeader.from_bytes(raw)


def read_header(path: Path) -> BackupHeader:
    """The cleartext header (authentic only once the first message decrypts under it)."""
    with path.open("rb") as handle:
        return _header_from(handle)[1]


class ArchiveWriter:
    """Writes one backup file; ``commit`` renames it into place, ``abort`` removes it."""

    def __init__(self, path: Path, key: bytes, header: BackupHeader) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._handle, self._temp = create_locked(path.parent, suffix=FILE_SUFFIX)
        try:
            raw = header.to_bytes()
            self._sealer = BackupSealer(key, raw)
            self._handle.write(MAGIC + struct.pack(">I", len(raw)) + raw)
            self._handle.write(self._sealer.stream_header)
        except BaseException:
            self.abort()
            raise
        self.bytes_written = 0

    def add(self, kind: str, *parts: bytes, last: bool = False) -> None:
        message = lp(kind, *parts)
        if len(message) + ABYTES > MAX_MESSAGE:
            raise ValueError("A backup message is larger than the format allows.")
        ciphertext = self._sealer.push(message, last=last)
        self._handle.write(struct.pack(">I", len(ciphertext)) + ciphertext)
        self.bytes_written += len(ciphertext) + 4

    def commit(self) -> None:
        if not self._sealer.finished:
            raise ValueError("The backup stream was not finished.")
        self._handle.flush()
        os.fsync(self._handle.fileno())
        # Renamed before the lock goes with the close, so no cleanup can take it in between.
        os.replace(self._temp, self.path)
        self._handle.close()

    def abort(self) -> None:
        self._temp.unlink(missing_ok=True)
        # Closing flushes what is buffered, which fails on a full disk; the file is gone anyway.
        with contextlib.suppress(OSError):
            self._handle.close()


def remove_stale_archives(folder: Path) -> int:
    """Remove the temporary files of backups that a killed run left in ``folder`` (those no
    running backup holds a lock on); return how many."""
    if not folder.is_dir():
        return 0
    return len(remove_stale(folder.glob(f"{INCOMING}*{FILE_SUFFIX}")))


def read_messages(path: Path, key: bytes) -> Iterator[tuple[str, list[bytes]]]:
    """Decrypt the messages of a backup in order, as ``(kind, parts)``.

    Raises VerificationFailed on any alteration, a wrong key, a truncation (no FINAL message)
    or bytes after the end.
    """
    with path.open("rb") as handle:
        raw, _ = _header_from(handle)
        opener = BackupOpener(key, raw, _read_exact(handle, STREAM_HEADER_BYTES, "header"))
        while not opener.finished:
            prefix = handle.read(4)
            if len(prefix) != 4:
                raise VerificationFailed("The backup is cut short: its last part is missing.")
            (size,) = struct.unpack(">I", prefix)
            if size < ABYTES or size > MAX_MESSAGE:
                raise VerificationFailed("The backup is damaged (a part has an invalid length).")
            message = opener.pull(_read_exact(handle, size, "data"))
            fields = split_lp(message)
            if not fields:
                raise VerificationFailed("The backup holds an empty part.")
            yield fields[0].decode("ascii", errors="replace"), fields[1:]
        if handle.read(1):
            raise VerificationFailed("The backup has data after its end.")
