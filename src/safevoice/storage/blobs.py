"""Blob stores for encrypted attachment chunks: a filesystem folder, the database, or S3.

Stores only ever see ciphertext chunks addressed by a random upload id and a chunk index. Every
operation handles one chunk (at most about 1 MiB), so the server's memory stays flat whatever
the size of a file. A chunk may come as the pieces in which its request body arrived: the file
store writes them as they are (one ``writev``, no joined copy); the database and S3 need one
buffer and join them. ``delete`` removes everything of an upload; it is what retention and the
expiry of unfinished uploads call. ``remove_stale_temporaries`` clears, at start-up, what a
killed process left mid-write, without touching a write still running in another worker.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, urlparse

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from safevoice.errors import ConfigError, NotFound
from safevoice.private_files import private_dir
from safevoice.storage.db import Database
from safevoice.storage.temporaries import INCOMING as INCOMING  # where chunks are written first
from safevoice.storage.temporaries import create_locked, remove_stale

log = logging.getLogger("safevoice.storage")
DELETE_WORKERS = 8
# Every chunk file and folder of the filesystem store carries this access and modification
# time (the epoch), so the files never tell when a file was uploaded or its case written. The
# change time (ctime) cannot be set by an unprivileged process; SECURITY.md says what remains.
BLOB_TIME = 0
# An unfinished S3 multipart upload older than this is a leftover of a crash (see S3BlobStore).
S3_STALE_AFTER = timedelta(hours=1)
_UPLOAD_ID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]{21}$")
# The most buffers one writev takes (POSIX guarantees at least 16; Linux takes 1024).
_IOV_MAX = os.sysconf("SC_IOV_MAX")

# A chunk's bytes, whole or as the pieces its request body arrived in (in order).
Pieces = Sequence[bytes | bytearray]
ChunkData = bytes | bytearray | Pieces


def _pieces(data: ChunkData) -> Pieces:
    return [data] if isinstance(data, bytes | bytearray) else data


def chunk_size(data: ChunkData) -> int:
    return sum(len(piece) for piece in _pieces(data))


def _joined(data: ChunkData) -> bytes:
    """One buffer, for stores whose client takes nothing else (a copy unless already one)."""
    if isinstance(data, bytes):
        return data
    return b"".join(_pieces(data))


def _write_all(fd: int, data: ChunkData) -> None:
    """Write every piece to ``fd`` in order without joining them, however the kernel splits
    the writes."""
    pending = [memoryview(piece) for piece in _pieces(data) if len(piece)]
    first = 0
    while first < len(pending):
        written = os.writev(fd, pending[first : first + _IOV_MAX])
        while first < len(pending) and written >= len(pending[first]):
            written -= len(pending[first])
            first += 1
        if written:
            pending[first] = pending[first][written:]


def _checked(upload_id: str) -> str:
    # Upload ids become file and object names: accept only our own random ids.
    if not _UPLOAD_ID.match(upload_id):
        raise NotFound("There is no such upload.")
    return upload_id


class BlobStore(Protocol):
    def put_chunk(self, upload_id: str, index: int, data: ChunkData) -> None: ...

    def get_chunk(self, upload_id: str, index: int) -> bytes: ...

    def delete(self, upload_id: str) -> None: ...

    def remove_stale_temporaries(self, *, now: datetime) -> int: ...


class FileBlobStore:
    """One folder per upload, one file per chunk; writes are atomic (temp file, fsync, rename)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _folder(self, upload_id: str) -> Path:
        return self.root / _checked(upload_id)

    def put_chunk(self, upload_id: str, index: int, data: ChunkData) -> None:
        folder = self._folder(upload_id)
        if not folder.is_dir():
            private_dir(self.root, owned=True)
            folder.mkdir(exist_ok=True, mode=0o700)
        final = folder / f"{index:08d}"
        # The lock, held until the file has its final name, tells a start-up cleanup in
        # another worker that this temporary file is still being written.
        handle, temp = create_locked(folder)
        try:
            with handle:
                _write_all(handle.fileno(), data)
                # One fsync per chunk, before its name appears: an acknowledged chunk is on
                # the disk, and a crash leaves it whole or absent.
                os.fsync(handle.fileno())
                os.replace(temp, final)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        self._blur_times(final, folder)

    def _blur_times(self, *paths: Path) -> None:
        # Adding or removing an entry changes its folder's modification time as well.
        for path in (*paths, self.root):
            with contextlib.suppress(FileNotFoundError):  # deleted in between by a purge
                os.utime(path, (BLOB_TIME, BLOB_TIME))

    def get_chunk(self, upload_id: str, index: int) -> bytes:
        path = self._folder(upload_id) / f"{index:08d}"
        try:
            try:
                # Reading must not stamp the chunk with the time someone downloaded it.
                fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOATIME", 0))
            except PermissionError:  # O_NOATIME needs the file's owner; a reader may only read
                fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            raise NotFound("This chunk of the attachment is not stored.") from None
        with os.fdopen(fd, "rb") as handle:
            return handle.read()

    def delete(self, upload_id: str) -> None:
        shutil.rmtree(self._folder(upload_id), ignore_errors=True)
        self._blur_times()

    def remove_stale_temporaries(self, *, now: datetime) -> int:
        """Remove the temporary files of chunk writes that a crash interrupted; returns how many.

        A temporary file is stale when no process holds its lock: the writer locks it from
        before the first byte until the rename, and a killed process's locks go with it, so a
        write still running in another worker is never touched, however long it takes. (The
        file times say nothing here: they are blurred.)
        """
        del now  # the lock, not an age, decides
        removed = remove_stale(self.root.glob(f"*/{INCOMING}*"))
        self._blur_times(*{temp.parent for temp in removed})
        return len(removed)


class DatabaseBlobStore:
    """Chunks as rows of ``blob_chunk`` (one transaction per chunk)."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def put_chunk(self, upload_id: str, index: int, data: ChunkData) -> None:
        from safevoice.storage.blob_models import BlobChunk

        row = BlobChunk(upload_id=_checked(upload_id), index=index, data=_joined(data))
        with self.database.unit_of_work() as session:
            session.merge(row)

    def get_chunk(self, upload_id: str, index: int) -> bytes:
        from safevoice.storage.blob_models import BlobChunk

        with self.database.session(write=False) as session:
            data = session.scalar(
                select(BlobChunk.data).where(
                    BlobChunk.upload_id == _checked(upload_id), BlobChunk.index == index
                )
            )
        if data is None:
            raise NotFound("This chunk of the attachment is not stored.")
        return bytes(data)

    def delete(self, upload_id: str) -> None:
        from safevoice.storage.blob_models import BlobChunk

        with self.database.unit_of_work() as session:
            session.execute(delete(BlobChunk).where(BlobChunk.upload_id == _checked(upload_id)))

    def remove_stale_temporaries(self, *, now: datetime) -> int:
        """Nothing to remove: a chunk row is written in one transaction, whole or not at all."""
        del now
        return 0


class S3BlobStore:
    """Objects ``<prefix><upload id>/<index>`` in an S3-compatible bucket."""

    def __init__(self, client: Any, bucket: str, prefix: str = "") -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix

    def _key(self, upload_id: str, index: int) -> str:
        return f"{self.prefix}{_checked(upload_id)}/{index:08d}"

    def put_chunk(self, upload_id: str, index: int, data: ChunkData) -> None:
        self.client.put_object(
            Bucket=self.bucket, Key=self._key(upload_id, index), Body=_joined(data)
        )

    def get_chunk(self, upload_id: str, index: int) -> bytes:
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=self._key(upload_id, index))
        except self.client.exceptions.NoSuchKey:
            raise NotFound("This chunk of the attachment is not stored.") from None
        return bytes(answer["Body"].read())

    def delete(self, upload_id: str) -> None:
        prefix = f"{self.prefix}{_checked(upload_id)}/"
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if keys:
                self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": keys})

    def remove_stale_temporaries(self, *, now: datetime) -> int:
        """Abort the multipart uploads under the prefix that started before ``now`` minus
        ``S3_STALE_AFTER``; returns how many.

        A PutObject is whole or absent, so a crash leaves no half chunk to read; what an
        interrupted write can leave in a bucket is an unfinished multipart upload, invisible but
        stored (and billed) until it is aborted. The bucket has no locks and several hosts may
        write to it, so age decides: no chunk write lasts anywhere near that long.
        """
        from botocore.exceptions import BotoCoreError, ClientError

        cutoff = now - S3_STALE_AFTER
        aborted = 0
        paginator = self.client.get_paginator("list_multipart_uploads")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
                for upload in page.get("Uploads", []):
                    if upload["Initiated"] < cutoff:
                        self.client.abort_multipart_upload(
                            Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                        )
                        aborted += 1
        except (BotoCoreError, ClientError):
            # An unreachable bucket must not keep the server from starting; the next start
            # tries again.
            log.warning("Start-up maintenance: the S3 bucket could not be checked.")
        return aborted


def open_blob_store(spec: str, database: Database) -> BlobStore:
    """``fs:/path`` (or a plain path), ``db``, or ``s3://bucket/prefix?endpoint=URL&region=R``.

    S3 credentials come from the usual AWS environment variables or configuration files.
    """
    if spec == "db":
        return DatabaseBlobStore(database)
    if spec.startswith("s3://"):
        import boto3

        parsed = urlparse(spec)
        options = parse_qs(parsed.query)
        client = boto3.client(
            "s3",
            endpoint_url=options.get("endpoint", [None])[0],
            region_name=options.get("region", ["us-east-1"])[0],
        )
        prefix = parsed.path.lstrip("/")
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        return S3BlobStore(client, parsed.netloc, prefix)
    path = spec.removeprefix("fs:")
    if not path:
        raise ConfigError("The blob store needs a folder (fs:/path), db, or an s3:// address.")
    return FileBlobStore(Path(path))


def remove_stale_temporaries(store: BlobStore, *, now: datetime) -> int:
    """The start-up maintenance step: remove what interrupted chunk writes left in the store.

    Each worker runs it as it starts; it is safe while other workers write (see each store's
    method) and logs only the count.
    """
    removed = store.remove_stale_temporaries(now=now)
    log.info("Start-up maintenance: %d stale temporary blob(s) removed.", removed)
    return removed


def delete_uploads(store: BlobStore, session: Session, upload_ids: Sequence[str]) -> None:
    """Delete the chunks of several uploads as part of the caller's transaction where possible.

    The database store deletes in the caller's session (a second writer would wait for it on
    SQLite); folders and objects cannot be part of a transaction, so they go at once, which is
    safe because deleting is idempotent and the caller deletes only what it means to purge.
    """
    if isinstance(store, DatabaseBlobStore):
        from safevoice.storage.blob_models import BlobChunk

        checked = [_checked(upload_id) for upload_id in upload_ids]
        session.execute(
            delete(BlobChunk).where(BlobChunk.upload_id.in_(checked)),
            execution_options={"synchronize_session": False},
        )
        return
    if len(upload_ids) <= 1:
        for upload_id in upload_ids:
            store.delete(upload_id)
        return
    # Each deletion waits on the disk or the network, not on Python: a few at once.
    with ThreadPoolExecutor(max_workers=DELETE_WORKERS) as pool:
        list(pool.map(store.delete, upload_ids))
