"""What the chunk routes parse from outside (the upload id and chunk index in the path, the raw
body, the Authorization header) never gives a 5xx or an undeclared status, and a refused chunk
changes nothing of the upload it names.

Hypothesis sends bodies of any length (the exact chunk size among them), indexes in every
spelling and credentials of every shape to a real open upload. A short run by default;
SAFEVOICE_FUZZ_EXAMPLES raises the number of examples for a long one.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from safevoice.crypto.stream import CHUNK_CIPHERTEXT
from safevoice.settings import Settings
from safevoice.storage.db import Database
from safevoice.web.app import create_app
from tests.api.test_schema_fuzz import open_upload
from tests.crypto.test_untrusted_decoders import ANY_TEXT
from tests.support.asgi import client_for

EXAMPLES = settings(
    max_examples=int(os.environ.get("SAFEVOICE_FUZZ_EXAMPLES", "40")),
    deadline=None,
    # One app and one upload serve every example: a refused chunk must leave it as it was.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
PATH = "/api/v1/uploads/{upload_id}/chunks/{index}"


@pytest.fixture
def http(database: Database, database_url: str, blob_spec: str) -> Iterator[httpx.Client]:
    settings_ = Settings(database_url=database_url, snapshot_ttl_seconds=0, blob_store=blob_spec)
    with client_for(create_app(settings_, database=database)) as client:
        yield client


@pytest.fixture
def upload_id(http: httpx.Client) -> str:
    return open_upload(http)


def declared(http: httpx.Client, method: str) -> set[int]:
    document: dict[str, Any] = http.get("/api/v1/openapi.json").json()
    return {int(status) for status in document["paths"][PATH][method]["responses"]}


indexes = st.one_of(
    st.integers(min_value=-3, max_value=3).map(str),
    st.sampled_from(["01", "+1", "1.0", "1e3", "0x1", "999999", "1000000", "9" * 30, "%20"]),
    # Without "/": an index with one names another path (Starlette redirects ".../0/" to ".../0").
    ANY_TEXT.filter(lambda t: "/" not in t).map(
        lambda t: quote(t.encode("utf-8", "surrogatepass"), safe="")
    ),
)
bodies = st.one_of(
    st.binary(max_size=64),
    st.integers(min_value=-2, max_value=2).map(lambda d: bytes(CHUNK_CIPHERTEXT + d)),
)
authorizations = st.one_of(
    st.none(),
    st.sampled_from([b"Bearer", b"Bearer ", b"Basic abc", b"bearer x", b"Bearer " + b"A" * 43]),
    ANY_TEXT.map(lambda t: b"Bearer " + t.encode("utf-8", "surrogatepass")),
    st.binary(max_size=40),
)


@EXAMPLES
@given(indexes, bodies, authorizations, st.booleans())
def test_any_chunk_request_is_answered_as_declared_and_a_refused_one_changes_nothing(
    http: httpx.Client,
    upload_id: str,
    index: str,
    body: bytes,
    authorization: bytes | None,
    real: bool,
) -> None:
    target = upload_id if real else "A" * 22
    before = http.get(f"/api/v1/uploads/{upload_id}").json()
    headers = {b"Authorization": authorization} if authorization is not None else {}

    put = http.put(PATH.format(upload_id=target, index=index), content=body, headers=headers)
    get = http.get(PATH.format(upload_id=target, index=index), headers=headers)

    assert put.status_code in declared(http, "put") | {404}, (index, put.status_code, put.text)
    assert get.status_code in declared(http, "get") | {404}, (index, get.status_code, get.text)
    if put.status_code >= 400:
        assert put.json()["error"]["code"]
        assert http.get(f"/api/v1/uploads/{upload_id}").json() == before
