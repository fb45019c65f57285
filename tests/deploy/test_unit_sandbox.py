"""SafeVoice works inside the sandbox that the shipped systemd unit asks for: its system call
filter, MemoryDenyWriteExecute and RestrictAddressFamilies, loaded with libseccomp exactly as
the unit states them (tests/support/unit_sandbox.py). A dependency that needed a forbidden
system call or writable executable memory would make the service crash on a real host; here
it fails this test instead."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import httpx
import pytest

from safevoice.clock import utcnow
from safevoice.crypto.manifest import SignedManifest, verify_manifest
from safevoice.retention.models import Tombstone
from safevoice.storage.db import Database
from safevoice.web.bundle import Bundle
from tests.api.test_login import login_body
from tests.support.deploy import DEPLOY
from tests.support.production import make_bundle, production_env
from tests.support.reporter import build_submission
from tests.support.server import ServerProcess
from tests.support.workflow import insert_case
from tests.support.world import World

UNIT = DEPLOY / "systemd/safevoice.service"
LAUNCHER = Path(__file__).resolve().parents[1] / "support/unit_sandbox.py"
# Debian's interpreter, which has libseccomp's bindings (python3-seccomp, installed by .ci/run).
SYSTEM_PYTHON = "/usr/bin/python3"


@pytest.fixture(autouse=True)
def libseccomp() -> None:
    found = subprocess.run(
        [SYSTEM_PYTHON, "-c", "import seccomp"], capture_output=True, timeout=30, check=False
    )
    if found.returncode != 0:
        pytest.fail("python3-seccomp is not installed; .ci/run installs it from Debian's packages.")


def sandboxed(
    *command: str, unit: Path = UNIT, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SYSTEM_PYTHON, str(LAUNCHER), str(unit), *command],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )


def test_the_sandbox_really_forbids_what_the_unit_forbids() -> None:
    """The control: inside it, changing a file's owner (@privileged) and opening a netlink
    socket (not in RestrictAddressFamilies) fail, while ordinary work succeeds."""
    chown = sandboxed("/bin/chown", "root", "/dev/null")
    netlink = sandboxed(
        SYSTEM_PYTHON, "-c", "import socket; socket.socket(socket.AF_NETLINK, socket.SOCK_RAW)"
    )
    fine = sandboxed("/bin/echo", "ordinary work")

    assert fine.returncode == 0, fine.stderr
    assert fine.stdout == "ordinary work\n"
    assert chown.returncode != 0
    assert "Operation not permitted" in chown.stderr
    assert netlink.returncode != 0
    assert "Address family not supported" in netlink.stderr


def test_safevoice_takes_reports_and_logins_inside_the_units_sandbox(
    database_url: str, world: World, web_bundle: Bundle, tmp_path: Path
) -> None:
    server = ServerProcess.start(
        database_url,
        tmp_path / "server",
        extra_env=production_env(database_url, make_bundle(tmp_path, web_bundle)),
        command_prefix=[SYSTEM_PYTHON, str(LAUNCHER), str(UNIT)],
    )
    try:
        with httpx.Client(base_url=server.url, timeout=60) as http:
            intake = http.get("/api/v1/intake").json()
            signed = SignedManifest.from_json(intake["manifest"])
            manifest = verify_manifest(signed, pin=world.pin, now=utcnow()).manifest
            case = build_submission(manifest, intake["challenge"]["challenge"])
            submitted = http.post(
                "/api/v1/cases", json=case.body, headers={"Idempotency-Key": "sandboxed-0000001"}
            )
            challenge = http.post("/api/v1/challenges", json={"purpose": "member-login"}).json()
            body = login_body(world.members["alice"], manifest, challenge["challenge"])
            token = http.post("/api/v1/login", json=body).json()["token"]
            listed = http.get("/api/v1/cases", headers={"Authorization": f"Bearer {token}"})
    finally:
        server.stop()

    assert submitted.status_code == 201, submitted.text
    assert [c["id"] for c in listed.json()["cases"]] == [case.case_id]
    assert "Traceback" not in server.log()


def test_the_retention_run_purges_inside_its_units_sandbox(
    database: Database, database_url: str, tmp_path: Path
) -> None:
    case_id = insert_case(database, date(2020, 1, 1), ack_after=1)
    env = {**os.environ, "SAFEVOICE_BLOB_STORE": f"fs:{tmp_path / 'blobs'}"}

    run = sandboxed(
        f"{sys.prefix}/bin/safevoice",
        "retention",
        "run",
        "--json",
        "--database",
        database_url,
        unit=DEPLOY / "systemd/safevoice-retention.service",
        env=env,
    )

    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["purged"] == 1
    with database.session(write=False) as session:
        assert session.get(Tombstone, case_id) is not None


def test_the_backup_runs_inside_its_units_sandbox(
    database: Database, database_url: str, tmp_path: Path
) -> None:
    insert_case(database, date(2020, 1, 1), ack_after=1)
    env = {**os.environ, "SAFEVOICE_BLOB_STORE": f"fs:{tmp_path / 'blobs'}"}

    run = sandboxed(
        f"{sys.prefix}/bin/safevoice",
        "admin",
        "backup",
        "--database",
        database_url,
        "--keys-dir",
        str(tmp_path / "keys"),
        "--out",
        str(tmp_path / "backups"),
        unit=DEPLOY / "systemd/safevoice-backup.service",
        env=env,
    )

    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    assert [p.suffix for p in (tmp_path / "backups").iterdir()] == [".svbackup"]
    assert len(list((tmp_path / "keys").iterdir())) == 1
