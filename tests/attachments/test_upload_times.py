"""Attachments keep no time of day: an upload's expiry is a whole day, and the filesystem store's
chunk files and folders carry a constant time instead of the moment they were written or read."""

from __future__ import annotations

import os
from datetime import time
from pathlib import Path

from sqlalchemy import select

from safevoice.attachments.models import Upload
from safevoice.clock import aware
from safevoice.crypto.manifest import Manifest
from safevoice.storage.blobs import open_blob_store
from safevoice.storage.db import Database
from tests.attachments.test_uploads import make_api, submit_with_files


def test_bound_uploads_and_their_chunk_files_tell_no_time_of_day(
    database: Database,
    database_url: str,
    manifest: Manifest,
    tmp_path: Path,
) -> None:
    blobs = tmp_path / "blobs"
    api = make_api(database, database_url, f"fs:{blobs}")
    files = []
    for n, size in enumerate((10, 1_100_000)):
        path = tmp_path / f"evidence-{n}.bin"
        path.write_bytes(os.urandom(size))
        files.append(path)

    case_id, _ = submit_with_files(api, manifest, files)

    with database.session(write=False) as session:
        uploads = list(session.scalars(select(Upload).where(Upload.case_id == case_id)))
    assert len(uploads) == 2
    for upload in uploads:
        assert aware(upload.expires_at).timetz().replace(tzinfo=None) == time(0)
    store = open_blob_store(f"fs:{blobs}", database)
    assert store.get_chunk(uploads[0].id, 0)  # a download leaves no access time either
    stamped = [blobs, *blobs.rglob("*")]
    assert len(stamped) == 1 + 2 + 3  # the store, two upload folders, three chunks
    for path in stamped:
        info = path.stat()
        assert info.st_mtime == 0, path
        if path.is_file():  # listing a folder (as this test does) sets the folder's access time
            assert info.st_atime == 0, path
