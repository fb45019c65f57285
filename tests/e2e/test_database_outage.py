"""PostgreSQL stopped, then frozen, in the middle of a run: quick 503s, then recovery.

The test runs its own cluster on another port, so stopping or freezing it (SIGSTOP on every
process of the cluster: what a hung disk or a network partition looks like) harms nothing
else. While the database is away every endpoint must answer within 5 s — 503 with Retry-After
where it needs the database, never a 500 and never a hang; once the database is back the same
server, not restarted, serves again, and a submission retried with its idempotency key lands
exactly once, and the reporter CLI started during the outage keeps trying, says so, and
delivers its report once the database is back.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from safevoice.client.api import Api
from safevoice.crypto.encoding import b64e
from safevoice.crypto.envelope import new_case_id
from safevoice.settings import Settings
from safevoice.storage.db import Database
from tests.attachments.test_uploads import start_for_new_case
from tests.support.cluster import Cluster
from tests.support.databases import populate
from tests.support.reporter import build_submission
from tests.support.server import ServerProcess
from tests.support.world import World

BIN = Path(sys.executable).parent
ANSWER_WITHIN_SECONDS = 5.0
RECOVERY_SECONDS = 30.0
SOME_ID = "AAAAAAAAAAAAAAAAAAAAAA"


@dataclass
class Outage:
    cluster: Cluster
    server: ServerProcess
    world: World
    instance_key: bytes
    url: str


@pytest.fixture(scope="module")
def outage(
    own_cluster: Cluster, world: World, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Outage]:
    url = own_cluster.create_database("safevoice")
    instance_key = populate(url, world)
    server = ServerProcess.start(url, tmp_path_factory.mktemp("outage") / "server")
    try:
        yield Outage(own_cluster, server, world, instance_key, url)
    finally:
        server.stop()


def _requests(schema: dict[str, Any]) -> list[tuple[str, str]]:
    """Every operation of the API (placeholders for its path parameters) and the pages."""
    wanted = [("GET", "/"), ("GET", "/follow-up")]
    for path, operations in schema["paths"].items():
        for method in operations:
            filled = path
            while "{" in filled:
                start, end = filled.index("{"), filled.index("}")
                filled = (
                    filled[:start]
                    + ("0" if "index" in filled[start:end] else SOME_ID)
                    + filled[end + 1 :]
                )
            wanted.append((method.upper(), filled))
    return wanted


def _every_endpoint_answers_quickly(http: httpx.Client, schema: dict[str, Any]) -> dict[str, int]:
    statuses = {}
    for method, path in _requests(schema):
        body: dict[str, Any] | None = {} if method in ("POST", "PUT", "PATCH") else None
        started = time.monotonic()
        response = http.request(method, path, json=body, headers={"Authorization": "Bearer x" * 8})
        took = time.monotonic() - started
        where = f"{method} {path}"
        assert took < ANSWER_WITHIN_SECONDS, f"{where} took {took:.1f} s"
        assert response.status_code < 500 or response.status_code == 503, where
        if response.status_code == 503:
            assert response.headers.get("Retry-After"), where
        statuses[where] = response.status_code
    return statuses


def _submission(outage: Outage, http: httpx.Client) -> dict[str, Any]:
    manifest, _ = outage.world.manifest(outage.instance_key)
    challenge = http.post("/api/v1/challenges", json={"purpose": "submit"}).json()["challenge"]
    return build_submission(manifest, challenge).body


def _needs_database(http: httpx.Client, body: dict[str, Any], key: str) -> None:
    """What a reporter and a member do first answers 503 with Retry-After, within 5 s."""
    for method, path, kwargs in (
        ("GET", "/api/v1/intake", {}),
        ("POST", "/api/v1/cases", {"json": body, "headers": {"Idempotency-Key": key}}),
        ("GET", "/api/v1/cases", {"headers": {"Authorization": "Bearer " + "x" * 43}}),
    ):
        started = time.monotonic()
        response = http.request(method, path, **kwargs)
        assert time.monotonic() - started < ANSWER_WITHIN_SECONDS, path
        assert response.status_code == 503, (path, response.text)
        assert response.headers["Retry-After"]
        assert "nothing was lost" in response.json()["error"]["message"]


def _recovers(http: httpx.Client) -> None:
    deadline = time.monotonic() + RECOVERY_SECONDS
    while http.get("/api/v1/intake").status_code != 200:
        assert time.monotonic() < deadline, "the server did not recover once the database was back"
        time.sleep(0.5)


def _cases(url: str) -> int:
    database = Database.connect(url, pool_size=1)
    try:
        with database.unit_of_work(write=False) as session:
            return int(session.execute(text("SELECT count(*) FROM case_file")).scalar_one())
    finally:
        database.dispose()


def _reporter_cli(outage: Outage, folder: Path) -> subprocess.Popen[str]:
    """``safevoice-report submit`` in the background, patient for two minutes."""
    folder.mkdir(parents=True, exist_ok=True)
    answers = folder / "answers.json"
    answers.write_text(json.dumps({"where": "Depot"}))
    report = folder / "report.txt"
    report.write_text("The forklift brakes were disabled.")
    with (folder / "stderr.txt").open("w") as stderr:
        return subprocess.Popen(
            [
                str(BIN / "safevoice-report"),
                "submit",
                "--server",
                outage.server.direct_url,
                "--pin",
                outage.world.pin,
                "--channel",
                "general",
                "--text-file",
                str(report),
                "--answers-file",
                str(answers),
                "--state",
                str(folder / "state"),
                "--retry-for",
                "120",
                "--json",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )


def _says_it_is_retrying(folder: Path) -> str:
    """Wait until the reporter CLI tells its user it is trying again; return what it said."""
    deadline = time.monotonic() + 60
    while "Trying again" not in (said := (folder / "stderr.txt").read_text()):
        assert time.monotonic() < deadline, said
        time.sleep(0.2)
    return said


def _lands_once(
    outage: Outage, http: httpx.Client, body: dict[str, Any], key: str, before: int
) -> None:
    first = http.post("/api/v1/cases", json=body, headers={"Idempotency-Key": key})
    assert first.status_code == 201, first.text
    again = http.post("/api/v1/cases", json=body, headers={"Idempotency-Key": key})
    assert again.json()["case_id"] == first.json()["case_id"]
    assert _cases(outage.url) == before + 1


@pytest.mark.parametrize("fault", ["stopped", "frozen"])
def test_an_unavailable_database_gives_quick_503s_and_the_server_recovers(
    outage: Outage, fault: str, tmp_path: Path
) -> None:
    with httpx.Client(base_url=outage.server.direct_url, timeout=60) as http:
        schema = http.get("/api/v1/openapi.json").json()
        body = _submission(outage, http)
        key = secrets.token_urlsafe(16)
        before = _cases(outage.url)
        frozen: list[int] = []
        if fault == "stopped":
            outage.cluster.stop()
        else:
            frozen = outage.cluster.freeze()
        reporter = _reporter_cli(outage, tmp_path / "reporter")
        try:
            _needs_database(http, body, key)
            statuses = _every_endpoint_answers_quickly(http, schema)
            assert sum(status == 503 for status in statuses.values()) >= len(statuses) // 2, (
                statuses
            )
            said = _says_it_is_retrying(tmp_path / "reporter")
        finally:
            if fault == "stopped":
                outage.cluster.start()
            else:
                outage.cluster.thaw(frozen)
        _recovers(http)
        try:
            stdout, _ = reporter.communicate(timeout=180)
        finally:
            reporter.kill()
        assert reporter.returncode == 0, (tmp_path / "reporter" / "stderr.txt").read_text()
        assert "The server is temporarily unavailable. Trying again" in said
        assert json.loads(stdout)["code"]
        assert not (tmp_path / "reporter" / "state" / "pending-report.json").exists()
        _lands_once(outage, http, body, key, before + 1)
    assert "Traceback" not in outage.server.log()


def test_a_slow_upload_is_not_cut_by_the_database_timeouts(outage: Outage) -> None:
    """Only database waits are bounded: a chunk trickling in over Tor for longer than every
    database timeout together is still stored."""
    limits = Settings()
    slow_for = limits.db_connect_timeout + limits.db_pool_timeout + limits.db_statement_timeout + 1
    pieces = 8

    with Api(outage.server.direct_url) as api:
        upload = start_for_new_case(api, b64e(new_case_id()))
        chunk = bytes(api.upload_status(upload).chunk_bytes)

    def trickle() -> Iterator[bytes]:
        step = -(-len(chunk) // pieces)
        for start in range(0, len(chunk), step):
            yield chunk[start : start + step]
            time.sleep(slow_for / pieces)

    with httpx.Client(base_url=outage.server.direct_url, timeout=60) as http:
        started = time.monotonic()
        response = http.put(
            f"/api/v1/uploads/{upload}/chunks/0",
            content=trickle(),
            headers={"Content-Type": "application/octet-stream"},
        )
        took = time.monotonic() - started
    assert response.status_code == 200, response.text
    assert took >= slow_for
