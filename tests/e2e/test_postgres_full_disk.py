"""PostgreSQL on a full disk, made for real: a clear 507, nothing half-written, then recovery.

The database lives in a tablespace on a small tmpfs that the test mounts inside the tests' own
cluster (the one the outage tests stop and freeze); the cluster's write-ahead log stays on its
own disk, as on a server whose data volume fills up. Once a file fills the tmpfs, PostgreSQL
cannot extend a table ("could not extend file … No space left on device", SQLSTATE 53100): a
submission must be refused with 507 ``storage_full`` and a message (never a 500), nothing of it
may be stored, what was acknowledged before stays, and once space is freed the same submission,
retried with its idempotency key, lands once, without restarting anything.
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy import text

from safevoice.settings import Settings
from safevoice.storage.db import Database
from safevoice.web.app import create_app
from safevoice.web.bundle import Bundle
from tests.support.asgi import client_for
from tests.support.cluster import Cluster
from tests.support.databases import populate
from tests.support.filesystem import fill, small_filesystem
from tests.support.reporter import build_submission
from tests.support.world import World
from tests.web.test_sealed_forms_once import form_token

# The report's ciphertext is larger than what a page of a table or an index has left, so
# storing it needs new pages: on a full disk it cannot fit in space PostgreSQL already holds.
REPORT = "The pressure valves on line 3 were bypassed to keep the line running. " * 200


@dataclass
class FullDisk:
    disk: Path
    url: str
    instance_key: bytes


@contextmanager
def _database_on_a_small_disk(cluster: Cluster, world: World) -> Iterator[FullDisk]:
    """A populated database whose every table lives on a tmpfs of its own."""
    name = f"sv_full_{secrets.token_hex(4)}"
    admin_url = f"postgresql://postgres@127.0.0.1:{cluster.port}/postgres"
    with small_filesystem(cluster.root / name, size="32m") as disk:
        location = disk / "tablespace"
        location.mkdir()
        shutil.chown(location, "postgres", "postgres")
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f"CREATE TABLESPACE {name} LOCATION '{location}'")
            admin.execute(f"CREATE DATABASE {name} TABLESPACE {name}")
        try:
            url = cluster.url(name)
            yield FullDisk(disk, url, populate(url, world))
        finally:
            with psycopg.connect(admin_url, autocommit=True) as admin:
                admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
                admin.execute(f"DROP TABLESPACE IF EXISTS {name}")


def _submission(world: World, instance_key: bytes, http: httpx.Client) -> dict[str, Any]:
    manifest, _ = world.manifest(instance_key)
    challenge = http.post("/api/v1/challenges", json={"purpose": "submit"}).json()["challenge"]
    return build_submission(manifest, challenge, text=REPORT).body


def _submit(http: httpx.Client, body: dict[str, Any], key: str) -> httpx.Response:
    return http.post("/api/v1/cases", json=body, headers={"Idempotency-Key": key})


def _case_ids(url: str) -> set[str]:
    database = Database.connect(url, pool_size=1)
    try:
        with database.unit_of_work(write=False) as session:
            return {str(row[0]) for row in session.execute(text("SELECT id FROM case_file"))}
    finally:
        database.dispose()


@contextmanager
def _app(url: str, blobs: Path, bundle: Bundle | None = None) -> Iterator[httpx.Client]:
    """The application in-process, with the server's own bounded database engine (and, given
    the pages' bundle, the pages with the no-JavaScript form)."""
    settings = Settings(
        database_url=url,
        snapshot_ttl_seconds=0,
        blob_store=f"fs:{blobs}",
        bundle_dir=bundle.folder if bundle is not None else None,
        nojs_enabled=bundle is not None,
    )
    app = create_app(settings)
    try:
        with client_for(app) as http:
            yield http
    finally:
        app.state.database.dispose()


def test_a_full_postgresql_disk_refuses_with_507_loses_nothing_and_recovers(
    own_cluster: Cluster, world: World, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with (
        _database_on_a_small_disk(own_cluster, world) as full,
        _app(full.url, tmp_path / "blobs") as http,
    ):
        acknowledged_body = _submission(world, full.instance_key, http)
        first = _submit(http, acknowledged_body, secrets.token_urlsafe(16))
        assert first.status_code == 201, first.text
        acknowledged = first.json()["case_id"]
        body, key = _submission(world, full.instance_key, http), secrets.token_urlsafe(16)
        filler = fill(full.disk)

        refused = _submit(http, body, key)
        assert refused.status_code == 507, refused.text
        assert refused.headers["Retry-After"]
        assert refused.json()["error"]["code"] == "storage_full"
        message = refused.json()["error"]["message"]
        assert "storage is full, so nothing was stored" in message
        assert _case_ids(full.url) == {acknowledged}

        filler.unlink()
        landed = _submit(http, body, key)
        assert landed.status_code == 201, landed.text
        assert _submit(http, body, key).json()["case_id"] == landed.json()["case_id"]
        assert _case_ids(full.url) == {acknowledged, landed.json()["case_id"]}
    said = (own_cluster.root / "log").read_text()
    assert "could not extend file" in said
    assert "No space left on device" in said
    assert "storage full (OperationalError)" in caplog.text
    assert "unexpected error" not in caplog.text


def test_the_no_javascript_form_on_a_full_postgresql_disk_says_so_and_stores_nothing(
    own_cluster: Cluster, world: World, web_bundle: Bundle, tmp_path: Path
) -> None:
    with (
        _database_on_a_small_disk(own_cluster, world) as full,
        _app(full.url, tmp_path / "blobs", web_bundle) as http,
    ):
        form = {"form_token": form_token(http.get("/report/general").text), "text": REPORT}
        form["answer.where"] = "Line 3"
        filler = fill(full.disk)

        refused = http.post("/report/general", data=form)
        assert refused.status_code == 507, refused.text[:500]
        assert refused.headers["content-type"].startswith("text/html")
        assert "nothing was stored" in refused.text
        assert "follow-up-code" not in refused.text
        assert _case_ids(full.url) == set()

        filler.unlink()
        form["form_token"] = form_token(http.get("/report/general").text)
        landed = http.post("/report/general", data=form)
        assert landed.status_code == 200, landed.text[:500]
        assert 'id="follow-up-code"' in landed.text
        assert len(_case_ids(full.url)) == 1
