"""SQLite on a read-only file system and on a full disk, made for real with a small tmpfs.

Read-only: the server starts anyway, its readiness endpoint answers 503 saying it cannot accept
reports, its log says why in one line, the reporter page says so in words, and once the file
system is writable again it serves without a restart. Full disk: a submission is refused with
507 and a message (never a 500), everything acknowledged before is still there, and once space
is freed the same submission, retried with its idempotency key, lands once.
"""

from __future__ import annotations

import secrets
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from safevoice.intake.router import NOT_READY
from safevoice.storage.db import Database
from tests.support.databases import populate
from tests.support.filesystem import fill, remount, small_filesystem
from tests.support.reporter import build_submission
from tests.support.server import ServerProcess
from tests.support.world import World

START_SECONDS = 90.0


@dataclass
class Template:
    path: Path
    world: World
    instance_key: bytes


@pytest.fixture(scope="module")
def template(world: World, tmp_path_factory: pytest.TempPathFactory) -> Template:
    path = tmp_path_factory.mktemp("sqlite-faults") / "template.sqlite"
    return Template(path, world, populate(f"sqlite:///{path}", world))


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    with small_filesystem(tmp_path / "disk", size="3m") as where:
        yield where


def _start(database: Path, workdir: Path, blobs: Path) -> ServerProcess:
    """The server, waited for by its readiness endpoint (which may say "not ready")."""
    return ServerProcess.start(
        f"sqlite:///{database}",
        workdir,
        workers=1,
        extra_env={"SAFEVOICE_BLOB_DIR": str(blobs)},
        ready_path="/api/v1/ready",
        ready_timeout=START_SECONDS,
    )


def _submission(template: Template, http: httpx.Client) -> dict[str, Any]:
    manifest, _ = template.world.manifest(template.instance_key)
    challenge = http.post("/api/v1/challenges", json={"purpose": "submit"}).json()["challenge"]
    return build_submission(manifest, challenge).body


def _submit(http: httpx.Client, body: dict[str, Any], key: str) -> httpx.Response:
    return http.post("/api/v1/cases", json=body, headers={"Idempotency-Key": key})


def _case_ids(database: Path) -> set[str]:
    db = Database.connect(f"sqlite:///{database}", pool_size=1)
    try:
        with db.unit_of_work(write=False) as session:
            return {str(row[0]) for row in session.execute(text("SELECT id FROM case_file"))}
    finally:
        db.dispose()


def test_a_read_only_database_is_reported_not_ready_and_served_once_writable(
    template: Template, disk: Path, tmp_path: Path
) -> None:
    database = disk / "safevoice.sqlite"
    shutil.copyfile(template.path, database)
    remount(disk, writable=False)
    server = _start(database, tmp_path / "server", tmp_path / "blobs")
    try:
        with httpx.Client(base_url=server.direct_url, timeout=30) as http:
            ready = http.get("/api/v1/ready")
            assert ready.status_code == 503
            assert ready.headers["Retry-After"]
            assert ready.json()["error"]["message"] == NOT_READY
            page = http.get("/")
            assert page.status_code == 503
            assert "Reports cannot be accepted right now" in page.text

            remount(disk, writable=True)
            deadline = time.monotonic() + 30
            while http.get("/api/v1/ready").status_code != 200:
                assert time.monotonic() < deadline, "not ready after the disk became writable"
                time.sleep(0.5)
            body = _submission(template, http)
            assert _submit(http, body, secrets.token_urlsafe(16)).status_code == 201
    finally:
        server.stop()
    log = server.log()
    assert (
        f"SafeVoice cannot accept reports: the SQLite database {database} cannot be written" in log
    )
    assert "died" not in log
    assert "Traceback" not in log


def test_a_full_disk_refuses_with_507_loses_nothing_and_recovers(
    template: Template, disk: Path, tmp_path: Path
) -> None:
    database = disk / "safevoice.sqlite"
    shutil.copyfile(template.path, database)
    server = _start(database, tmp_path / "server", disk / "blobs")
    try:
        with httpx.Client(base_url=server.direct_url, timeout=30) as http:
            first = _submit(http, _submission(template, http), secrets.token_urlsafe(16))
            assert first.status_code == 201
            acknowledged = first.json()["case_id"]
            body, key = _submission(template, http), secrets.token_urlsafe(16)
            filler = fill(disk)

            refused = _submit(http, body, key)
            assert refused.status_code == 507, refused.text
            assert refused.headers["Retry-After"]
            assert "storage is full" in refused.json()["error"]["message"]

            filler.unlink()
            landed = _submit(http, body, key)
            assert landed.status_code == 201, landed.text
            assert _submit(http, body, key).json()["case_id"] == landed.json()["case_id"]
    finally:
        server.stop()
    assert _case_ids(database) == {acknowledged, landed.json()["case_id"]}
    assert "Traceback" not in server.log()
