"""Several hosts share nothing but the database: two separately started servers (two workers
each, production mode) on one PostgreSQL database behave as one server. A challenge spent on
one is refused on the other, a session opened on one works on the other (and ends on both),
an idempotent retry on the other gets the first answer, and a difficulty change reaches both.

PostgreSQL only, by nature: it is the database several hosts share."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from safevoice.clock import utcnow
from safevoice.crypto.manifest import Manifest, SignedManifest, verify_manifest
from safevoice.instance import service as instance
from safevoice.storage.db import Database
from safevoice.web.bundle import Bundle
from tests.api.test_login import login_body
from tests.support.databases import DatabaseFactory
from tests.support.production import make_bundle, production_env
from tests.support.reporter import build_submission
from tests.support.server import ServerProcess
from tests.support.world import World


@dataclass
class Hosts:
    one: ServerProcess
    two: ServerProcess
    database_url: str
    manifest: Manifest

    def clients(self) -> tuple[httpx.Client, httpx.Client]:
        return (
            httpx.Client(base_url=self.one.url, timeout=60),
            httpx.Client(base_url=self.two.url, timeout=60),
        )


@pytest.fixture(scope="module")
def hosts(
    pg_factory: DatabaseFactory,
    world: World,
    web_bundle: Bundle,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Hosts]:
    url = pg_factory.clone()
    work = tmp_path_factory.mktemp("two-hosts")
    env = {**production_env(url, make_bundle(work, web_bundle)), "SAFEVOICE_SNAPSHOT_TTL_MS": "100"}
    # Two separate `safevoice serve` processes, started side by side as two hosts would be.
    with ThreadPoolExecutor(max_workers=2) as pool:
        starting = [
            pool.submit(ServerProcess.start, url, work / name, extra_env=env)
            for name in ("one", "two")
        ]
    started = [future.result() for future in starting if future.exception() is None]
    if len(started) < 2:
        for server in started:
            server.stop()
        pg_factory.drop(url)
        raise RuntimeError("a server did not start") from (
            starting[0].exception() or starting[1].exception()
        )
    one, two = started
    try:
        signed = SignedManifest.from_json(httpx.get(f"{one.url}/api/v1/manifest").json())
        manifest = verify_manifest(signed, pin=world.pin, now=utcnow()).manifest
        yield Hosts(one, two, url, manifest)
    finally:
        one.stop()
        two.stop()
        pg_factory.drop(url)


def test_both_hosts_are_separate_production_servers_on_one_database(hosts: Hosts) -> None:
    environments = []
    for server in (hosts.one, hosts.two):
        assert server.process.poll() is None
        raw = Path(f"/proc/{server.process.pid}/environ").read_bytes()
        environments.append(dict(v.split("=", 1) for v in raw.decode().split("\0") if "=" in v))

    assert hosts.one.process.pid != hosts.two.process.pid
    assert all(env["SAFEVOICE_PRODUCTION"] == "1" for env in environments)
    assert environments[0]["SAFEVOICE_DATABASE_URL"] == environments[1]["SAFEVOICE_DATABASE_URL"]
    assert environments[0]["SAFEVOICE_DATABASE_URL"].startswith("postgresql")


def test_a_login_challenge_spent_on_one_host_is_refused_on_the_other(
    hosts: Hosts, world: World
) -> None:
    one, two = hosts.clients()
    with one, two:
        token = two.post("/api/v1/challenges", json={"purpose": "member-login"}).json()
        body = login_body(world.members["alice"], hosts.manifest, token["challenge"])

        first = one.post("/api/v1/login", json=body)
        replay = two.post("/api/v1/login", json=body)

    assert first.status_code == 200, first.text
    assert replay.status_code == 400
    assert replay.json()["error"]["code"] == "challenge_rejected"


def test_a_session_from_one_host_works_on_the_other_and_a_logout_ends_it_on_both(
    hosts: Hosts, world: World
) -> None:
    one, two = hosts.clients()
    with one, two:
        token = one.post("/api/v1/challenges", json={"purpose": "member-login"}).json()
        body = login_body(world.members["bob"], hosts.manifest, token["challenge"])
        session = one.post("/api/v1/login", json=body).json()["token"]
        auth = {"Authorization": f"Bearer {session}"}

        on_two = two.get("/api/v1/cases", headers=auth)
        logout = two.post("/api/v1/logout", headers=auth)
        after_on_one = one.get("/api/v1/cases", headers=auth)

    assert on_two.status_code == 200, on_two.text
    assert logout.status_code == 204
    assert after_on_one.status_code == 401


def test_a_submission_challenge_and_its_idempotency_key_are_shared_by_both_hosts(
    hosts: Hosts,
) -> None:
    one, two = hosts.clients()
    with one, two:
        challenge = two.get("/api/v1/intake").json()["challenge"]["challenge"]
        first = build_submission(hosts.manifest, challenge)
        second = build_submission(hosts.manifest, challenge)
        key = uuid.uuid4().hex

        accepted = one.post("/api/v1/cases", json=first.body, headers={"Idempotency-Key": key})
        retried = two.post("/api/v1/cases", json=first.body, headers={"Idempotency-Key": key})
        reused = two.post(
            "/api/v1/cases", json=second.body, headers={"Idempotency-Key": uuid.uuid4().hex}
        )

    assert accepted.status_code == 201, accepted.text
    assert retried.status_code == 201
    assert retried.json() == accepted.json()
    assert reused.status_code == 400
    assert reused.json()["error"]["code"] == "challenge_rejected"
    assert case_count(hosts.database_url, first.case_id) == 1
    assert case_count(hosts.database_url, second.case_id) == 0


def test_a_difficulty_set_in_the_database_reaches_both_hosts(hosts: Hosts) -> None:
    database = Database.connect(hosts.database_url, pool_size=1)
    try:
        with database.unit_of_work() as session:
            instance.set_difficulty(session, 3)
        seen = {server.url: wait_for_difficulty(server.url, 3) for server in (hosts.one, hosts.two)}
    finally:
        with database.unit_of_work() as session:
            instance.set_difficulty(session, 1)
        database.dispose()

    assert seen == {hosts.one.url: 3, hosts.two.url: 3}


def wait_for_difficulty(url: str, wanted: int, timeout: float = 10.0) -> int:
    deadline = time.monotonic() + timeout
    difficulty = -1
    while time.monotonic() < deadline:
        answer = httpx.post(f"{url}/api/v1/challenges", json={"purpose": "submit"}, timeout=30)
        difficulty = int(answer.json()["difficulty"])
        if difficulty == wanted:
            break
        time.sleep(0.05)
    return difficulty


def case_count(url: str, case_id: str) -> int:
    database = Database.connect(url, pool_size=1)
    try:
        with database.reader.connect() as connection:
            return int(
                connection.execute(
                    text("SELECT count(*) FROM case_file WHERE id = :id"), {"id": case_id}
                ).scalar_one()
            )
    finally:
        database.dispose()
