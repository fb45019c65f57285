"""The audit log end to end: logins check checkpoints, auditors countersign, export and verify.

Each test has a server of its own, because it tampers with the log the way an operator with
database access could: one byte changed, an entry deleted, the last entries dropped after a
countersigned checkpoint, an old entry rewritten with every later hash recomputed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from safevoice.crypto.manifest import Manifest
from safevoice.storage.db import Database
from tests.audit.support import delete_entry, flip_byte, rewrite, truncate
from tests.conftest import Cli
from tests.e2e.test_intake_e2e import submit_with_cli
from tests.support.databases import DatabaseFactory
from tests.support.server import ServerProcess
from tests.support.world import World

pytestmark = pytest.mark.e2e


@pytest.fixture
def fresh(db_factory: DatabaseFactory, tmp_path: Path) -> Iterator[ServerProcess]:
    url = db_factory.clone()
    process = ServerProcess.start(
        url, tmp_path / "server", workers=1, extra_env={"SAFEVOICE_SNAPSHOT_TTL_MS": "0"}
    )
    yield process
    process.stop()
    db_factory.drop(url)


@pytest.fixture
def rows(fresh: ServerProcess) -> Iterator[Database]:
    database = Database.connect(fresh.database_url, pool_size=1)
    yield database
    database.dispose()


class People:
    """Members and the auditor, each with a client state of their own."""

    def __init__(self, cli: Cli, server: ServerProcess, world: World) -> None:
        self.cli, self.server, self.world = cli, server, world

    def run(self, who: str, *args: str, expect: int | None = 0) -> Any:
        return self.cli.safevoice(
            *args, expect=expect, env={"SAFEVOICE_HOME": str(self.cli.home / who)}
        )

    def login(self, who: str, *, expect: int | None = 0) -> Any:
        key = self.world.key_file(who)
        return self.run(
            who,
            "login",
            "--server",
            self.server.url,
            "--key",
            str(key),
            "--pin",
            self.world.pin,
            expect=expect,
        )

    def saved(self, who: str) -> dict[str, Any]:
        state = json.loads((self.cli.home / who / "state.json").read_text())
        return dict(state["servers"][self.server.url]["checkpoint"])


def history(people: People, tmp_path: Path) -> tuple[int, int, int, Path]:
    """Bob logs in early, Alice reads a case, the auditor countersigns, Alice logs in late.
    Returns Bob's, the countersigned and Alice's checkpoint seq and the saved checkpoint file."""
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps({"where": "Depot"}))
    case_id = submit_with_cli(
        people.cli, people.server, people.world, "The scales are rigged.", answers=answers
    )["case_id"]
    people.login("bob")
    people.login("alice")
    people.run("alice", "cases", "show", case_id)
    people.login("audrey")
    saved = tmp_path / "countersigned.json"
    signed = people.run("audrey", "audit", "countersign", "--out", str(saved))
    people.run("alice", "cases", "show", case_id)
    people.login("alice")
    countersigned = json.loads(saved.read_text())
    assert f"Countersigned checkpoint {countersigned['seq']}" in signed.stdout
    assert countersigned["countersignatures"][0]["auditor"] == "audrey"
    return people.saved("bob")["seq"], countersigned["seq"], people.saved("alice")["seq"], saved


def export_and_verify(people: People, tmp_path: Path, saved: Path, *, expect: int) -> Any:
    export = tmp_path / "export.json"
    people.run("audrey", "audit", "export", "--out", str(export))
    return people.run(
        "audrey", "audit", "verify", str(export), "--checkpoint", str(saved), expect=expect
    )


def test_an_untouched_log_passes_every_login_check_and_the_offline_verification(
    cli: Cli, fresh: ServerProcess, world: World, tmp_path: Path
) -> None:
    people = People(cli, fresh, world)
    bob, countersigned, alice, saved = history(people, tmp_path)

    checks = [people.login(who) for who in ("bob", "alice", "audrey")]
    verified = export_and_verify(people, tmp_path, saved, expect=0)

    assert bob < countersigned < alice
    for result in checks:
        assert "audit log verified up to checkpoint" in result.stdout
        assert "WARNING" not in result.stderr
    assert "The audit log verifies" in verified.stdout
    assert f"extends the saved checkpoint at seq {countersigned}" in verified.stdout


Tamper = Callable[[Database, int, Manifest], None]


@pytest.mark.parametrize(
    ("tamper", "victim", "where"),
    [
        (lambda db, c, m: flip_byte(db, c - 1), "bob", "Audit entry {k} does not match"),
        (lambda db, c, m: delete_entry(db, c - 1), "bob", "Audit entries {k} to {k} are missing"),
        (
            lambda db, c, m: truncate(db, c - 2),
            "alice",
            "reproduce the saved checkpoint at seq {c}",
        ),
        (lambda db, c, m: rewrite(db, c - 2, m), "alice", "saved checkpoint at seq {c}"),
    ],
    ids=["one-byte", "deleted", "truncated", "rewritten"],
)
def test_tampering_is_named_by_verify_and_warned_at_a_members_login(
    cli: Cli,
    fresh: ServerProcess,
    rows: Database,
    world: World,
    manifest_of_server: Manifest,
    tmp_path: Path,
    tamper: Tamper,
    victim: str,
    where: str,
) -> None:
    people = People(cli, fresh, world)
    _, countersigned, _, saved = history(people, tmp_path)
    tamper(rows, countersigned, manifest_of_server)

    warned = people.login(victim)
    auditor = people.login("audrey", expect=None)
    verified = export_and_verify(people, tmp_path, saved, expect=1)

    assert "WARNING: the audit log failed its check" in warned.stderr
    assert "seq" in warned.stderr
    assert "Logged in" in warned.stdout  # a member is warned, not locked out
    if victim == "alice":  # the tampering lies before the auditor's checkpoint too
        assert auditor.exit_code == 1
        assert "audit log failed its check" in auditor.stderr
    assert where.format(k=countersigned - 1, c=countersigned) in verified.stderr
    assert "Traceback" not in verified.stderr


@pytest.fixture
def manifest_of_server(rows: Database) -> Manifest:
    from safevoice.crypto.manifest import parse_payload
    from safevoice.instance import service as instance

    with rows.session(write=False) as session:
        signed = instance.current_signed_manifest(session)
    assert signed is not None
    return parse_payload(signed.payload)
