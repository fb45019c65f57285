"""A chunk's body is stored as it arrived, in pieces of any size, byte for byte; a body longer
than a chunk is refused before it is read to its end, and nothing of it is stored."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from safevoice.crypto import pow as powmod
from safevoice.crypto.encoding import b64e
from safevoice.crypto.envelope import new_case_id
from safevoice.crypto.stream import CHUNK_CIPHERTEXT
from safevoice.errors import NotFound
from safevoice.settings import Settings
from safevoice.storage.blobs import open_blob_store
from safevoice.storage.db import Database
from safevoice.web.app import create_app
from tests.support.asgi import run_async

# Tiny pieces (gathered by the server), odd ones, and large ones, as a slow link delivers them.
PIECES = [1, 7, 4096, 100, 300_000, 16_384, 5, 600_000]


def sliced(data: bytes, sizes: list[int]) -> list[bytes]:
    pieces, at = [], 0
    for size in sizes:
        pieces.append(data[at : at + size])
        at += size
    return [*pieces, data[at:]]


async def trickled(pieces: list[bytes]) -> AsyncIterator[bytes]:
    for piece in pieces:
        yield piece


async def put_in_pieces(app: FastAPI, data: bytes) -> tuple[str, httpx.Response, httpx.Response]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        token = (await client.post("/api/v1/challenges", json={"purpose": "upload"})).json()
        proof = {
            "challenge": token["challenge"],
            "solution": powmod.solve(powmod.parse(token["challenge"])),
        }
        started = await client.post(
            "/api/v1/uploads", json={"case_id": b64e(new_case_id()), "proof": proof}
        )
        upload_id = started.json()["id"]
        path = f"/api/v1/uploads/{upload_id}/chunks/0"
        put = await client.put(path, content=trickled(sliced(data, PIECES)))
        status = await client.get(f"/api/v1/uploads/{upload_id}")
    return upload_id, put, status


def test_a_chunk_sent_in_pieces_of_any_size_is_stored_byte_for_byte(
    database: Database, database_url: str, blob_spec: str
) -> None:
    app = create_app(
        Settings(database_url=database_url, snapshot_ttl_seconds=0, blob_store=blob_spec),
        database=database,
    )
    chunk = os.urandom(CHUNK_CIPHERTEXT)

    upload_id, put, status = run_async(lambda: put_in_pieces(app, chunk))

    assert put.status_code == 200, put.text
    assert status.json()["received"] == 1
    assert open_blob_store(blob_spec, database).get_chunk(upload_id, 0) == chunk


def test_a_body_longer_than_a_chunk_is_refused_and_nothing_is_stored(
    database: Database, database_url: str, blob_spec: str
) -> None:
    app = create_app(
        Settings(database_url=database_url, snapshot_ttl_seconds=0, blob_store=blob_spec),
        database=database,
    )

    upload_id, put, status = run_async(lambda: put_in_pieces(app, os.urandom(CHUNK_CIPHERTEXT + 1)))

    assert put.status_code == 400
    assert put.json()["error"]["message"] == f"Every chunk is exactly {CHUNK_CIPHERTEXT} bytes."
    assert status.json()["received"] == 0
    with pytest.raises(NotFound, match="not stored"):
        open_blob_store(blob_spec, database).get_chunk(upload_id, 0)
