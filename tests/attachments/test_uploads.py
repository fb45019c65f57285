"""Attachments through the API, on every blob store: round trips at the chunk boundaries,
resuming, limits, and tampering with stored chunks."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from safevoice.attachments.models import Attachment, Upload
from safevoice.client.api import Api
from safevoice.client.files import Attachment as FileAttachment
from safevoice.client.files import download, upload_file
from safevoice.crypto import pow as powmod
from safevoice.crypto.code import ReporterKeys
from safevoice.crypto.encoding import b64e
from safevoice.crypto.envelope import new_case_id
from safevoice.crypto.manifest import Manifest
from safevoice.crypto.stream import CHUNK_PLAINTEXT
from safevoice.errors import TooLarge, VerificationFailed
from safevoice.settings import Settings
from safevoice.storage.blobs import open_blob_store
from safevoice.storage.db import Database
from safevoice.web.app import create_app
from tests.api.test_login import login
from tests.api.test_submission import challenge
from tests.dialogue.test_dialogue_api import bearer
from tests.support.asgi import SyncASGITransport
from tests.support.reporter import build_submission
from tests.support.world import World


class Flaky(SyncASGITransport):
    """Loses the answer to chosen chunk uploads once (the server did store them)."""

    def __init__(self, app: Any, lose: set[int]) -> None:
        super().__init__(app)
        self.lose = set(lose)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        parts = request.url.path.split("/")
        if request.method == "PUT" and parts[-2] == "chunks" and int(parts[-1]) in self.lose:
            self.lose.discard(int(parts[-1]))
            raise httpx.ReadError("connection dropped")
        return response


def make_api(
    database: Database, url: str, blob_spec: str, *, lose: set[int] | None = None, **limits: int
) -> Api:
    settings = Settings(database_url=url, snapshot_ttl_seconds=0, blob_store=blob_spec, **limits)
    return Api(
        "http://testserver", transport=Flaky(create_app(settings, database=database), lose or set())
    )


def start_for_new_case(api: Api, case_id: str) -> str:
    parsed = powmod.parse(api.challenge("upload").challenge)
    return api.start_upload(
        case_id, proof={"challenge": parsed.token, "solution": powmod.solve(parsed)}
    ).id


def submit_with_files(
    api: Api, manifest: Manifest, files: list[Path], **upload_args: Any
) -> tuple[str, list[dict[str, Any]]]:
    case_id, descriptors, _ = submit_as_reporter(api, manifest, files, **upload_args)
    return case_id, descriptors


def submit_as_reporter(
    api: Api, manifest: Manifest, files: list[Path], **upload_args: Any
) -> tuple[str, list[dict[str, Any]], ReporterKeys]:
    """A report carrying ``files``: its case id, the files' descriptors and the reporter."""
    case_bytes = new_case_id()
    case_id = b64e(case_bytes)
    descriptors = [
        upload_file(
            api,
            path,
            case_id=case_id,
            start=lambda: start_for_new_case(api, case_id),
            sleep=lambda _s: None,
            **upload_args,
        )
        for path in files
    ]
    sub = build_submission(manifest, api.challenge("submit").challenge)
    from safevoice.crypto.casefile import create_case

    case = create_case(
        manifest,
        sub.reporter,
        channel="general",
        text="See the files.",
        answers={"where": "HQ"},
        attachments=descriptors,
        case_id=case_bytes,
    )
    body = {
        "proof": sub.body["proof"],
        "case": case.submission(
            "general", sub.reporter, uploads=[d["upload_id"] for d in descriptors]
        ),
    }
    api.submit(body, idempotency_key=case_id + "-key")
    return case_id, descriptors, sub.reporter


def member_api(api: Api, client: httpx.Client, manifest: Manifest, world: World) -> Api:
    token = login(client, world.members["alice"], manifest)
    api.set_token(token)
    return api


SIZES = {
    "empty": 0,
    "one byte": 1,
    "exactly one chunk": CHUNK_PLAINTEXT,
    "one chunk and one byte": CHUNK_PLAINTEXT + 1,
}


def test_files_at_the_chunk_boundaries_come_back_bit_identical(
    client: httpx.Client,
    database: Database,
    database_url: str,
    blob_spec: str,
    manifest: Manifest,
    world: World,
    tmp_path: Path,
) -> None:
    files = []
    for name, size in SIZES.items():
        path = tmp_path / f"{name.replace(' ', '-')}.bin"
        path.write_bytes(os.urandom(size))
        files.append(path)
    api = make_api(database, database_url, blob_spec)
    _case_id, descriptors = submit_with_files(api, manifest, files)
    member = member_api(api, client, manifest, world)

    out = tmp_path / "out"
    for path, descriptor in zip(files, descriptors, strict=True):
        saved = download(member, FileAttachment.from_descriptor(descriptor, seq=0), out)
        assert saved.read_bytes() == path.read_bytes(), path.name


def test_an_upload_whose_answers_get_lost_resumes_and_completes(
    client: httpx.Client,
    database: Database,
    database_url: str,
    blob_spec: str,
    manifest: Manifest,
    world: World,
    tmp_path: Path,
) -> None:
    path = tmp_path / "evidence.bin"
    path.write_bytes(os.urandom(4 * CHUNK_PLAINTEXT + 123))
    api = make_api(database, database_url, blob_spec, lose={1, 3})

    _case_id, (descriptor,) = submit_with_files(api, manifest, [path])

    saved = download(
        member_api(api, client, manifest, world),
        FileAttachment.from_descriptor(descriptor, seq=0),
        tmp_path / "out",
    )
    assert saved.read_bytes() == path.read_bytes()


def test_a_file_over_the_limit_is_refused_and_leaves_nothing(
    database: Database, database_url: str, blob_spec: str, manifest: Manifest, tmp_path: Path
) -> None:
    path = tmp_path / "big.bin"
    path.write_bytes(os.urandom(3 * CHUNK_PLAINTEXT))
    api = make_api(database, database_url, blob_spec, max_file_bytes=2 * CHUNK_PLAINTEXT - 1)
    store = open_blob_store(blob_spec, database)
    started: list[str] = []

    def start() -> str:
        started.append(start_for_new_case(api, b64e(new_case_id())))
        return started[-1]

    with pytest.raises(TooLarge) as refused:
        upload_file(api, path, case_id="unused", start=start, sleep=lambda _s: None)

    assert "larger than this server accepts" in refused.value.message
    with database.session(write=False) as session:
        assert session.scalar(select(func.count()).select_from(Upload)) == 0
    with pytest.raises(Exception, match="not stored"):
        store.get_chunk(started[0], 0)


@pytest.mark.parametrize("tamper", ["alter", "replay", "reorder", "truncate"])
def test_tampered_chunks_are_detected_and_no_partial_file_is_left(
    client: httpx.Client,
    database: Database,
    database_url: str,
    blob_spec: str,
    manifest: Manifest,
    world: World,
    tmp_path: Path,
    tamper: str,
) -> None:
    path = tmp_path / "ledger.bin"
    path.write_bytes(os.urandom(3 * CHUNK_PLAINTEXT + 9))
    api = make_api(database, database_url, blob_spec)
    _case_id, (descriptor,) = submit_with_files(api, manifest, [path])
    store = open_blob_store(blob_spec, database)
    upload_id = descriptor["upload_id"]
    chunks = [store.get_chunk(upload_id, i) for i in range(4)]
    if tamper == "alter":
        store.put_chunk(upload_id, 1, chunks[1][:-1] + bytes([chunks[1][-1] ^ 1]))
    elif tamper == "replay":
        store.put_chunk(upload_id, 2, chunks[1])
    elif tamper == "reorder":
        store.put_chunk(upload_id, 1, chunks[2])
        store.put_chunk(upload_id, 2, chunks[1])
    else:
        store.put_chunk(upload_id, 3, chunks[2])
    out = tmp_path / "out"

    with pytest.raises(VerificationFailed):
        download(
            member_api(api, client, manifest, world),
            FileAttachment.from_descriptor(descriptor, seq=0),
            out,
        )

    assert list(out.iterdir()) == []


def test_uploads_need_a_proof_of_work_or_the_cases_session_and_bind_once(
    client: httpx.Client, database: Database, manifest: Manifest, world: World
) -> None:
    case_id = b64e(new_case_id())
    bare = client.post("/api/v1/uploads", json={"case_id": case_id})
    assert bare.status_code == 401
    member = bearer(login(client, world.members["alice"], manifest))
    foreign = client.post("/api/v1/uploads", json={"case_id": case_id}, headers=member)
    assert foreign.status_code == 404
    token = challenge(client, "upload")
    parsed = powmod.parse(token)
    created = client.post(
        "/api/v1/uploads",
        json={"case_id": case_id, "proof": {"challenge": token, "solution": powmod.solve(parsed)}},
    )
    assert created.status_code == 201
    upload_id = created.json()["id"]
    unfinished = client.get(f"/api/v1/uploads/{upload_id}/chunks/0", headers=member)
    assert unfinished.status_code == 404
    wrong_size = client.put(f"/api/v1/uploads/{upload_id}/chunks/0", content=b"x" * 10)
    assert wrong_size.status_code == 400
    ahead = client.put(f"/api/v1/uploads/{upload_id}/chunks/5", content=b"x" * 10)
    assert ahead.status_code == 409
    with database.session(write=False) as session:
        assert session.scalar(select(func.count()).select_from(Attachment)) == 0
