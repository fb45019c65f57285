"""What a killed server leaves mid-write in a blob store is removed at the next start, and
counted; a write still running in another worker is never touched."""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from safevoice.clock import utcnow
from safevoice.crypto.login import random_id
from safevoice.storage import blobs
from safevoice.storage.blobs import (
    INCOMING,
    DatabaseBlobStore,
    FileBlobStore,
    S3BlobStore,
    remove_stale_temporaries,
)
from safevoice.storage.db import Database
from tests.attachments.conftest import BUCKET
from tests.support.server import free_port

# A writer as the file store's: a locked temporary file, half written, then it waits to be
# killed (or to go on writing). It prints the temporary file's name once it holds the lock.
WRITER = """
import fcntl, os, sys, tempfile, time
fd, temp = tempfile.mkstemp(dir=sys.argv[1], prefix=sys.argv[2])
fcntl.flock(fd, fcntl.LOCK_EX)
os.write(fd, b"half a chunk")
print(temp, flush=True)
time.sleep(600)
"""


class Writer:
    def __init__(self, folder: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(folder), INCOMING],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.temp = Path(self.process.stdout.readline().strip())
        self.process.stdout.close()

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()


@pytest.fixture
def writers() -> Iterator[list[Writer]]:
    started: list[Writer] = []
    yield started
    for writer in started:
        if writer.process.poll() is None:
            writer.kill()


def stored_upload(store: FileBlobStore) -> str:
    upload_id = random_id()
    store.put_chunk(upload_id, 0, b"whole chunk")
    return upload_id


def test_a_temporary_of_a_killed_writer_is_removed_and_one_still_written_is_kept(
    tmp_path: Path, writers: list[Writer]
) -> None:
    store = FileBlobStore(tmp_path / "blobs")
    upload_id = stored_upload(store)
    folder = store.root / upload_id
    killed, running = Writer(folder), Writer(folder)
    writers += [killed, running]
    killed.kill()

    removed = store.remove_stale_temporaries(now=utcnow())

    assert removed == 1
    assert not killed.temp.exists()
    assert running.temp.exists(), "a write still running in another process was removed"
    assert store.get_chunk(upload_id, 0) == b"whole chunk"
    running.kill()
    assert store.remove_stale_temporaries(now=utcnow()) == 1
    assert sorted(path.name for path in folder.iterdir()) == ["00000000"]


def test_a_chunk_write_whose_temporary_was_just_removed_starts_again_and_stores_it_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = FileBlobStore(tmp_path / "blobs")
    upload_id = stored_upload(store)
    real_mkstemp = tempfile.mkstemp
    cleanups: list[int] = []

    def mkstemp_then_cleanup(*args: Any, **kwargs: Any) -> tuple[int, str]:
        made = real_mkstemp(*args, **kwargs)
        if not cleanups:
            # Another worker's start-up cleanup gets in between the creation and the lock.
            cleanups.append(store.remove_stale_temporaries(now=utcnow()))
        return made

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp_then_cleanup)
    store.put_chunk(upload_id, 1, b"second chunk")

    assert cleanups == [1]
    assert store.get_chunk(upload_id, 1) == b"second chunk"
    assert sorted(path.name for path in (store.root / upload_id).iterdir()) == [
        "00000000",
        "00000001",
    ]


def test_the_start_up_step_logs_the_count_and_nothing_about_the_uploads(
    tmp_path: Path, writers: list[Writer], caplog: pytest.LogCaptureFixture
) -> None:
    store = FileBlobStore(tmp_path / "blobs")
    upload_id = stored_upload(store)
    for _ in range(2):
        writers.append(Writer(store.root / upload_id))
        writers[-1].kill()

    with caplog.at_level(logging.INFO, logger="safevoice.storage"):
        assert remove_stale_temporaries(store, now=utcnow()) == 2

    assert [record.getMessage() for record in caplog.records] == [
        "Start-up maintenance: 2 stale temporary blob(s) removed."
    ]
    assert upload_id not in caplog.text
    assert str(tmp_path) not in caplog.text


def test_a_missing_blob_folder_has_nothing_to_remove(tmp_path: Path) -> None:
    assert FileBlobStore(tmp_path / "never-written").remove_stale_temporaries(now=utcnow()) == 0


def test_the_database_store_keeps_its_chunks_and_has_nothing_to_remove(database: Database) -> None:
    store = DatabaseBlobStore(database)
    upload_id = random_id()
    store.put_chunk(upload_id, 0, b"whole chunk")

    assert store.remove_stale_temporaries(now=utcnow() + timedelta(days=30)) == 0
    assert store.get_chunk(upload_id, 0) == b"whole chunk"


@pytest.fixture
def s3_client(s3_endpoint: str) -> Any:
    return boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")


def unfinished(client: Any, key: str) -> str:
    return str(client.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"])


def multipart_keys(client: Any) -> set[str]:
    return {item["Key"] for item in client.list_multipart_uploads(Bucket=BUCKET).get("Uploads", [])}


def test_s3_unfinished_multipart_uploads_are_aborted_only_when_old_and_only_under_the_prefix(
    s3_client: Any, tmp_path: Path
) -> None:
    prefix = f"{tmp_path.name}/"
    store = S3BlobStore(s3_client, BUCKET, prefix)
    upload_id = random_id()
    store.put_chunk(upload_id, 0, b"whole chunk")
    ours = f"{prefix}{upload_id}/00000001"
    others = f"other-{tmp_path.name}/{upload_id}/00000001"
    unfinished(s3_client, ours)
    unfinished(s3_client, others)

    # Ages count from the bucket's own clock (moto reports a fixed start time).
    started = max(
        item["Initiated"]
        for item in s3_client.list_multipart_uploads(Bucket=BUCKET)["Uploads"]
        if item["Key"] == ours
    )

    # Just started: it may be a write running on another host.
    assert store.remove_stale_temporaries(now=started + timedelta(minutes=5)) == 0
    assert {ours, others} <= multipart_keys(s3_client)

    later = started + blobs.S3_STALE_AFTER + timedelta(minutes=1)
    assert store.remove_stale_temporaries(now=later) == 1

    left = multipart_keys(s3_client)
    assert ours not in left
    assert others in left, "an upload outside the store's prefix was aborted"
    assert store.get_chunk(upload_id, 0) == b"whole chunk"
    s3_client.abort_multipart_upload(
        Bucket=BUCKET,
        Key=others,
        UploadId=next(
            item["UploadId"]
            for item in s3_client.list_multipart_uploads(Bucket=BUCKET)["Uploads"]
            if item["Key"] == others
        ),
    )


def test_an_unreachable_s3_bucket_does_not_keep_the_server_from_starting(
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{free_port()}",  # nothing listens there
        region_name="us-east-1",
        config=Config(retries={"max_attempts": 1}, connect_timeout=2),
    )
    store = S3BlobStore(client, BUCKET, "prefix/")

    with caplog.at_level(logging.INFO, logger="safevoice.storage"):
        assert remove_stale_temporaries(store, now=utcnow()) == 0

    assert "could not be checked" in caplog.text
