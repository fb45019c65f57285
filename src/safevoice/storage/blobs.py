"""Blob stores for encrypted attachment chunks: a filesystem folder, the database, or S3.

Stores only ever see ciphertext chunks addressed by a random upload id and a chunk index. Every
operation handles one chunk (at most about 1 MiB), so the server's memory stays flat whatever
the size of a file. ``delete`` removes everything of an upload; it is what retention and the
expiry of unfinished uploads call.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, urlparse

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from safevoice.errors import ConfigError, NotFound
from safevoice.private_files import private_dir
from safevoice.storage.db import Database

DELETE_WORKERS = 8
# Every chunk file and folder of the filesystem store carries this access and modification
# time (the epoch), so the files never tell when a file was uploaded or its case written. The
# change time (ctime) cannot be set by an unprivileged process; SECURITY.md says what remains.
BLOB_TIME = 0
_UPLOAD_ID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]{21}$")


def _checked(upload_id: str) -> str:
    # Upload ids become file and object names: accept only our own random ids.
    if not _UPLOAD_ID.match(upload_id):
        raise NotFound("There is no such upload.")
    return upload_id


class BlobStore(Protocol):
    def put_chunk(self, upload_id: str, index: int, data: bytes) -> None: ...

    def get_chunk(self, upload_id: str, index: int) -> bytes: ...

    def delete(self, upload_id: str) -> None: ...


class FileBlobStore:
    """One folder per upload, one file per chunk; writes are atomic (temp file, fsync, rename)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _folder(self, upload_id: str) -> Path:
        return self.root / _checked(upload_id)

    def put_chunk(self, upload_id: str, index: int, data: bytes) -> None:
        folder = self._folder(upload_id)
        if not folder.is_dir():
            private_dir(self.root, owned=True)
            folder.mkdir(exist_ok=True, mode=0o700)
        fd, temp = tempfile.mkstemp(dir=folder, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, folder / f"{index:08d}")
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        self._blur_times(folder / f"{index:08d}", folder)

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


class DatabaseBlobStore:
    """Chunks as rows of ``blob_chunk`` (one transaction per chunk)."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def put_chunk(self, upload_id: str, index: int, data: bytes) -> None:
        from safevoice.storage.blob_models import BlobChunk

        with self.database.unit_of_work() as session:
            session.merge(BlobChunk(upload_id=_checked(upload_id), index=index, data=data))

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


class S3BlobStore:
    """Objects ``<prefix><upload id>/<index>`` in an S3-compatible bucket."""

    def __init__(self, client: Any, bucket: str, prefix: str = "") -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix

    def _key(self, upload_id: str, index: int) -> str:
        return f"{self.prefix}{_checked(upload_id)}/{index:08d}"

    def put_chunk(self, upload_id: str, index: int, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self._key(upload_id, index), Body=data)

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
