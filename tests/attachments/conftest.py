"""Blob stores for the attachment tests: a folder, the database, and a real S3-compatible
server (moto's server mode, started once for the session)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

BUCKET = "safevoice-test"


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    ).create_bucket(Bucket=BUCKET)
    yield endpoint
    server.stop()


@pytest.fixture(autouse=True)
def _s3_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")


@pytest.fixture(params=["fs", "db", "s3"])
def blob_spec(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "fs":
        return f"fs:{tmp_path / 'blobs'}"
    if request.param == "db":
        return "db"
    endpoint = request.getfixturevalue("s3_endpoint")
    return f"s3://{BUCKET}/{tmp_path.name}?endpoint={endpoint}"
