"""Enrolling and offboarding auditors through the committee-signed manifest.

``manifest add-auditor`` and ``remove-auditor`` make the next manifest version on the committee's
offline machine; the operator publishes it. An added auditor logs in and countersigns; a removed
one can no longer log in, while what they countersigned before still verifies.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from safevoice.crypto.keys import generate
from safevoice.crypto.manifest import SignedManifest, parse_payload
from safevoice.instance import service as instance
from safevoice.settings import Settings
from safevoice.storage.db import Database
from safevoice.web.app import create_app
from tests.conftest import Cli
from tests.support.threaded import serve_app
from tests.support.world import World, write_keyfile


@pytest.fixture
def served(database: Database, database_url: str) -> Iterator[str]:
    app = create_app(Settings(database_url=database_url, snapshot_ttl_seconds=0), database=database)
    with serve_app(app) as url:
        yield url


def committee(
    cli: Cli, world: World, command: str, argument: str, previous: Path, out: Path
) -> Any:
    return cli.safevoice(
        "manifest",
        command,
        argument,
        "--previous",
        str(previous),
        "--root-key",
        str(world.key_file("root")),
        "--out",
        str(out),
        expect=None,
    )


def test_an_auditor_is_enrolled_and_offboarded_through_signed_manifests(
    cli: Cli,
    served: str,
    database: Database,
    database_url: str,
    world: World,
    tmp_path: Path,
) -> None:
    operator = {"SAFEVOICE_DATABASE_URL": database_url}
    with database.session(write=False) as session:
        signed = instance.current_signed_manifest(session)
    assert signed is not None
    current = tmp_path / "manifest-1.json"
    current.write_text(json.dumps(signed.to_json()))
    olga = generate("auditor", "olga", "Olga Outside")
    write_keyfile(tmp_path / "olga", olga)

    added = committee(
        cli,
        world,
        "add-auditor",
        str(tmp_path / "olga" / "olga.pub.json"),
        current,
        tmp_path / "manifest-2.json",
    )
    assert added.exit_code == 0, added.stderr
    cli.safevoice("manifest", "publish", str(tmp_path / "manifest-2.json"), env=operator)
    cli.safevoice(
        "login",
        "--server",
        served,
        "--key",
        str(tmp_path / "olga" / "olga.key"),
        "--pin",
        world.pin,
    )
    countersigned = tmp_path / "countersigned.json"
    cli.safevoice("audit", "countersign", "--out", str(countersigned))

    removed = committee(
        cli,
        world,
        "remove-auditor",
        "olga",
        tmp_path / "manifest-2.json",
        tmp_path / "manifest-3.json",
    )
    assert removed.exit_code == 0, removed.stderr
    cli.safevoice("manifest", "publish", str(tmp_path / "manifest-3.json"), env=operator)
    ended = cli.safevoice("audit", "retention", expect=1)
    refused = cli.safevoice(
        "login",
        "--server",
        served,
        "--key",
        str(tmp_path / "olga" / "olga.key"),
        "--pin",
        world.pin,
        expect=1,
    )
    export = tmp_path / "export.json"
    cli.safevoice(
        "login", "--server", served, "--key", str(world.key_file("audrey")), "--pin", world.pin
    )
    cli.safevoice("audit", "export", "--out", str(export))
    verified = cli.safevoice(
        "audit", "verify", str(export), "--checkpoint", str(countersigned), "--pin", world.pin
    )

    def payload(name: str) -> Any:
        path = tmp_path / name
        return parse_payload(SignedManifest.from_json(json.loads(path.read_text())).payload)

    assert [a.id for a in payload("manifest-2.json").auditors] == ["audrey", "olga"]
    assert [a.id for a in payload("manifest-3.json").auditors] == ["audrey"]
    assert ("auditor:olga", 3) in {
        (r.label, r.until_version) for r in payload("manifest-3.json").retired
    }
    assert "olga" in json.loads(countersigned.read_text())["countersignatures"][0]["auditor"]
    assert ended.exit_code == 1
    assert refused.exit_code == 1
    assert "countersigned" in verified.stdout


def test_auditor_changes_that_make_no_sense_are_refused_with_a_sentence(
    cli: Cli, world: World, tmp_path: Path
) -> None:
    instance_key = generate("instance", "instance", "Instance")
    _, signed = world.manifest(instance_key.public.sign_key)
    current = tmp_path / "manifest-1.json"
    current.write_text(json.dumps(signed.to_json()))
    write_keyfile(tmp_path / "audrey-again", world.auditor)
    write_keyfile(tmp_path / "dana", generate("member", "dana", "Dana"))

    again = committee(
        cli,
        world,
        "add-auditor",
        str(tmp_path / "audrey-again" / "audrey.pub.json"),
        current,
        tmp_path / "a.json",
    )
    member = committee(
        cli,
        world,
        "add-auditor",
        str(tmp_path / "dana" / "dana.pub.json"),
        current,
        tmp_path / "b.json",
    )
    nobody = committee(cli, world, "remove-auditor", "erin", current, tmp_path / "c.json")
    a_member = committee(cli, world, "remove-auditor", "alice", current, tmp_path / "d.json")

    assert [r.exit_code for r in (again, member, nobody, a_member)] == [1, 1, 1, 1]
    assert "already in the manifest" in again.stderr
    assert "not an auditor's public key" in member.stderr
    assert "no auditor 'erin'" in nobody.stderr
    assert "no auditor 'alice'" in a_member.stderr
    assert not any((tmp_path / n).exists() for n in ("a.json", "b.json", "c.json", "d.json"))
