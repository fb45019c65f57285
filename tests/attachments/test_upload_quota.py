"""A flood of uploads is refused before the disk fills.

The client picks the case id of a report it has not submitted yet, so a per-case limit alone
binds nothing: each fresh case id would buy another file. The instance therefore caps how many
uploads are open at once and how many bytes they hold together; a case holds at most as many
open uploads as a report carries. Each refusal is a clear 4xx, and nothing of it is written.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from safevoice.attachments.models import Upload
from safevoice.attachments.service import MAX_ATTACHMENTS
from safevoice.crypto import pow as powmod
from safevoice.crypto.encoding import b64e
from safevoice.crypto.envelope import new_case_id
from safevoice.crypto.stream import CHUNK_CIPHERTEXT
from safevoice.settings import Settings
from safevoice.storage.db import Database
from safevoice.web.app import create_app
from tests.api.test_submission import challenge
from tests.support.asgi import SyncASGITransport


@pytest.fixture
def blob_dir(tmp_path: Path) -> Path:
    return tmp_path / "blobs"


def app_client(database: Database, url: str, blob_dir: Path, **limits: int) -> httpx.Client:
    settings = Settings(
        database_url=url, snapshot_ttl_seconds=0, blob_store=f"fs:{blob_dir}", **limits
    )
    return httpx.Client(
        transport=SyncASGITransport(create_app(settings, database=database)),
        base_url="http://testserver",
    )


@pytest.fixture
def quota(database: Database, database_url: str, blob_dir: Path) -> Iterator[httpx.Client]:
    """A server whose open uploads may hold three chunks in all."""
    with app_client(
        database, database_url, blob_dir, max_pending_upload_bytes=3 * CHUNK_CIPHERTEXT
    ) as client:
        yield client


def start(client: httpx.Client, case_id: str) -> httpx.Response:
    token = challenge(client, "upload")
    proof = {"challenge": token, "solution": powmod.solve(powmod.parse(token))}
    return client.post("/api/v1/uploads", json={"case_id": case_id, "proof": proof})


def put(client: httpx.Client, upload_id: str, index: int) -> httpx.Response:
    return client.put(
        f"/api/v1/uploads/{upload_id}/chunks/{index}", content=os.urandom(CHUNK_CIPHERTEXT)
    )


def stored_files(folder: Path) -> int:
    return sum(1 for p in folder.rglob("*") if p.is_file()) if folder.exists() else 0


def uploads(database: Database) -> int:
    with database.session(write=False) as session:
        return session.scalar(select(func.count()).select_from(Upload)) or 0


def test_uploads_for_fresh_case_ids_fill_a_small_quota_and_the_next_chunk_is_refused_unwritten(
    quota: httpx.Client, blob_dir: Path
) -> None:
    first = start(quota, b64e(new_case_id())).json()["id"]
    second = start(quota, b64e(new_case_id())).json()["id"]
    assert [put(quota, first, 0).status_code, put(quota, first, 1).status_code] == [200, 200]
    assert put(quota, second, 0).status_code == 200
    written = stored_files(blob_dir)

    refused = put(quota, second, 1)
    also_refused = put(quota, start(quota, b64e(new_case_id())).json()["id"], 0)

    assert refused.status_code == also_refused.status_code == 429
    assert "Retry-After" in refused.headers
    assert "as many unsent files as it has room for" in refused.json()["error"]["message"]
    assert stored_files(blob_dir) == written
    resumed = quota.get(f"/api/v1/uploads/{second}").json()
    assert resumed["received"] == 1  # the upload stays, to resume once there is room


def test_the_number_of_open_uploads_on_the_instance_is_capped(
    database: Database, database_url: str, blob_dir: Path
) -> None:
    with app_client(database, database_url, blob_dir, max_open_uploads=2) as client:
        accepted = [start(client, b64e(new_case_id())).status_code for _ in range(2)]
        refused = start(client, b64e(new_case_id()))

    assert accepted == [201, 201]
    assert refused.status_code == 429
    assert "Too many files are being uploaded" in refused.json()["error"]["message"]
    assert uploads(database) == 2


def test_one_case_id_holds_no_more_open_uploads_than_a_report_carries(
    database: Database, database_url: str, blob_dir: Path
) -> None:
    case_id = b64e(new_case_id())
    with app_client(database, database_url, blob_dir) as client:
        accepted = [start(client, case_id).status_code for _ in range(MAX_ATTACHMENTS)]
        refused = start(client, case_id)

    assert accepted == [201] * MAX_ATTACHMENTS
    assert refused.status_code == 413
    assert "send them first" in refused.json()["error"]["message"]
    assert uploads(database) == MAX_ATTACHMENTS


def test_the_per_case_byte_limit_binds_across_uploads_of_one_case(
    database: Database, database_url: str, blob_dir: Path
) -> None:
    case_id = b64e(new_case_id())
    with app_client(
        database, database_url, blob_dir, max_case_bytes=2 * CHUNK_CIPHERTEXT
    ) as client:
        first = start(client, case_id).json()["id"]
        second = start(client, case_id).json()["id"]
        kept = [put(client, first, 0).status_code, put(client, second, 0).status_code]
        refused = put(client, second, 1)

    assert kept == [200, 200]
    assert refused.status_code == 413
    assert uploads(database) == 1  # the file that crossed the limit left nothing
