"""End to end, against the real server with two workers: a report typed by a reporter reaches
a committee member readable, and leaves no readable trace anywhere in between."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import httpx
from sqlalchemy import text

from safevoice.crypto.casefile import REPORTER, member_label, parse_report
from safevoice.crypto.encoding import b64d
from safevoice.crypto.envelope import Envelope, decrypt, unwrap_case_keys
from safevoice.errors import VerificationFailed
from safevoice.storage.db import Database
from tests.conftest import Cli
from tests.support.canary import new_canary, occurrences, scan_paths
from tests.support.databases import data_paths
from tests.support.server import ServerProcess
from tests.support.world import PASSPHRASE, World

BIN = Path(sys.executable).parent


def submit_with_cli(
    cli: Cli,
    server: ServerProcess,
    world: World,
    text_: str,
    *extra: str,
    answers: Path | None = None,
) -> dict[str, str]:
    args = [
        "submit",
        "--server",
        server.url,
        "--pin",
        world.pin,
        "--channel",
        "general",
        "--text-file",
        "-",
        "--json",
        *extra,
    ]
    if answers is not None:
        args += ["--answers-file", str(answers)]
    result = cli.report(*args, stdin=text_)
    return dict(json.loads(result.stdout))


def test_a_canary_report_reaches_the_member_and_nowhere_else(
    server: ServerProcess, world: World, tmp_path: Path
) -> None:
    canary = new_canary()
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps({"where": f"Depot {canary}-where"}))
    server.proxy.clear()
    env = {
        **os.environ,
        "SAFEVOICE_HOME": str(tmp_path / "home"),
        "SAFEVOICE_PASSPHRASE": PASSPHRASE,
        "TMPDIR": str(server.tmp_dir),
    }

    submitted = subprocess.run(
        [
            str(BIN / "safevoice-report"),
            "submit",
            "--server",
            server.url,
            "--pin",
            world.pin,
            "--channel",
            "general",
            "--text-file",
            "-",
            "--answers-file",
            str(answers),
            "--json",
        ],
        input=f"The fire exits are chained shut. {canary}".encode(),
        capture_output=True,
        env=env,
        timeout=120,
        check=True,
    )
    case_id = json.loads(submitted.stdout)["case_id"]
    subprocess.run(
        [
            str(BIN / "safevoice"),
            "login",
            "--server",
            server.url,
            "--key",
            str(world.key_file("alice")),
            "--pin",
            world.pin,
        ],
        capture_output=True,
        env=env,
        timeout=60,
        check=True,
    )
    shown = subprocess.run(
        [str(BIN / "safevoice"), "cases", "show", case_id, "--json"],
        capture_output=True,
        env=env,
        timeout=60,
        check=True,
    )

    read = json.loads(shown.stdout)
    assert canary in read["report"]["text"]
    assert read["report"]["answers"]["where"] == f"Depot {canary}-where"
    assert read["problems"] == []

    requests = server.proxy.requests()
    submissions = [r for r in requests if r.method == "POST" and r.target == "/api/v1/cases"]
    assert len(submissions) == 1
    assert case_id.encode() in submissions[0].body
    for request in requests:
        assert not occurrences(request.raw, canary), request.target

    paths = data_paths(server.database_url)
    assert scan_paths(paths, case_id), "the scan does not reach the stored data"
    assert scan_paths(paths, canary) == []
    assert scan_paths([server.tmp_dir], canary) == []
    assert not occurrences(server.log_path.read_bytes(), canary)
    assert scan_paths([tmp_path / "home"], canary) == []


def raw_rows(database_url: str, case_id: str) -> tuple[list[tuple[int, str, bytes]], bytes]:
    database = Database.connect(database_url, pool_size=1)
    try:
        with database.reader.connect() as connection:
            wraps = connection.execute(
                text("SELECT epoch, recipient, sealed FROM wrapped_key WHERE case_id = :id"),
                {"id": case_id},
            ).all()
            envelope = connection.execute(
                text("SELECT envelope FROM case_object WHERE case_id = :id AND seq = 0"),
                {"id": case_id},
            ).scalar_one()
    finally:
        database.dispose()
    return [(int(e), str(r), bytes(s)) for e, r, s in wraps], bytes(envelope)


def try_read(
    box_secret: bytes, case_id: str, wraps: list[tuple[int, str, bytes]], envelope: bytes
) -> str | None:
    """The harness: try a private key on every wrapped-key row; read the report if one opens."""
    case_bytes = b64d(case_id, size=16)
    for epoch, recipient, sealed in wraps:
        for label in {recipient, *(member_label(m) for m in ("alice", "bob", "carol")), REPORTER}:
            try:
                keys = unwrap_case_keys(
                    box_secret, sealed, case_id=case_bytes, epoch=epoch, recipient=label
                )
            except VerificationFailed:
                continue
            env = Envelope.from_json(json.loads(envelope))
            return parse_report(decrypt(keys.thread, env), case_id=case_bytes).text
    return None


def test_an_excluded_member_cannot_decrypt_from_the_raw_rows_but_an_included_one_can(
    server: ServerProcess, world: World, cli: Cli
) -> None:
    canary = new_canary()
    answers = cli.home.parent / "answers.json"
    answers.write_text(json.dumps({"where": "HQ"}))
    case_id = submit_with_cli(
        cli, server, world, f"Conflict of interest. {canary}", "--exclude", "bob", answers=answers
    )["case_id"]

    wraps, envelope = raw_rows(server.database_url, case_id)

    assert {r for _, r, _ in wraps} == {"member:alice", "member:carol", REPORTER}
    bob, alice = world.members["bob"], world.members["alice"]
    assert bob.box_secret is not None
    assert alice.box_secret is not None
    assert try_read(bob.box_secret, case_id, wraps, envelope) is None
    read = try_read(alice.box_secret, case_id, wraps, envelope)
    assert read is not None
    assert canary in read


def test_concurrent_retries_with_one_idempotency_key_leave_exactly_one_case(
    server: ServerProcess, world: World
) -> None:
    from safevoice.clock import utcnow
    from safevoice.crypto.manifest import SignedManifest, verify_manifest
    from tests.support.reporter import build_submission

    with httpx.Client(base_url=server.url, timeout=60) as http:
        intake = http.get("/api/v1/intake").json()
        manifest = verify_manifest(
            SignedManifest.from_json(intake["manifest"]), pin=world.pin, now=utcnow()
        ).manifest
        submission = build_submission(manifest, intake["challenge"]["challenge"])
    answers: list[httpx.Response] = []
    barrier = threading.Barrier(8)

    def send() -> None:
        with httpx.Client(base_url=server.direct_url, timeout=60) as http:
            barrier.wait()
            answers.append(
                http.post(
                    "/api/v1/cases",
                    json=submission.body,
                    headers={"Idempotency-Key": "concurrent-key-00001"},
                )
            )

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [r.status_code for r in answers] == [201] * 8, [r.text for r in answers]
    assert len({r.text for r in answers}) == 1
    database = Database.connect(server.database_url, pool_size=1)
    try:
        with database.reader.connect() as connection:
            count = connection.execute(
                text("SELECT count(*) FROM case_file WHERE id = :id"),
                {"id": submission.case_id},
            ).scalar_one()
    finally:
        database.dispose()
    assert count == 1


def test_the_server_log_has_no_access_lines_addresses_or_agents(server: ServerProcess) -> None:
    with httpx.Client(base_url=server.url, headers={"User-Agent": "AgentSmith/9.9"}) as http:
        for path in ("/api/v1/intake", "/api/v1/manifest", "/nowhere", "/api/v1/cases"):
            http.get(path)
    log = server.log()
    assert "127.0.0.1:" not in log.replace(f"http://127.0.0.1:{server.port}", "")
    assert "AgentSmith" not in log
    assert "GET /" not in log
    assert "HTTP/1.1" not in log
