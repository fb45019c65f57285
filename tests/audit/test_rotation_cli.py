"""Rotating the instance (audit) key with the operator's and the committee's commands."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

from safevoice.crypto.keys import PublicKey
from safevoice.crypto.manifest import parse_payload
from safevoice.instance import service as instance
from safevoice.protocol.audit import SignedCheckpoint, check_checkpoint
from safevoice.storage.db import Database
from tests.conftest import Cli
from tests.support.world import World


def test_the_instance_key_rotates_through_a_manifest_and_signs_checkpoints_from_its_seq(
    cli: Cli, database: Database, database_url: str, world: World, tmp_path: Path
) -> None:
    operator = {"SAFEVOICE_DATABASE_URL": database_url}
    with database.session(write=False) as session:
        signed = instance.current_signed_manifest(session)
    assert signed is not None
    previous = tmp_path / "manifest.json"
    previous.write_text(json.dumps(signed.to_json()))
    new_key = tmp_path / "instance-next.pub.json"

    prepared = cli.safevoice("admin", "rotate-instance-key", "--out", str(new_key), env=operator)
    match = re.search(r"from seq (\d+)", prepared.stdout)
    assert match is not None
    from_seq = match.group(1)

    def sign(seq: str, out: Path) -> None:
        cli.safevoice(
            "manifest",
            "rotate-audit-key",
            "--new-key",
            str(new_key),
            "--from-seq",
            seq,
            "--previous",
            str(previous),
            "--root-key",
            str(world.key_file("root")),
            "--out",
            str(out),
        )

    sign(str(int(from_seq) + 3), tmp_path / "wrong.json")
    sign(from_seq, tmp_path / "rotated.json")
    refused = cli.safevoice(
        "manifest", "publish", str(tmp_path / "wrong.json"), env=operator, expect=1
    )
    cli.safevoice("manifest", "publish", str(tmp_path / "rotated.json"), env=operator)

    assert f"--from-seq {from_seq}" in refused.stderr
    key = PublicKey.from_json(json.loads(new_key.read_text()))
    with database.unit_of_work() as session:
        manifest = parse_payload(instance.current_signed_manifest(session).payload)  # type: ignore[union-attr]  # the instance was just set up, so a signed manifest exists
        latest = instance.latest_checkpoint(session, manifest=manifest, today=date.today())
        assert instance.instance_public_key(session) == key.sign_key
    assert [k.from_seq for k in manifest.audit_keys] == [0, int(from_seq)]
    assert manifest.audit_key_for(latest.seq) == key.sign_key
    check_checkpoint(
        SignedCheckpoint(latest.instance_id, latest.seq, latest.head, latest.signature), manifest
    )
    again = cli.safevoice(
        "manifest",
        "rotate-audit-key",
        "--new-key",
        str(new_key),
        "--from-seq",
        "99",
        "--previous",
        str(tmp_path / "rotated.json"),
        "--root-key",
        str(world.key_file("root")),
        "--out",
        str(tmp_path / "again.json"),
        expect=1,
    )
    assert "already lists this instance key" in again.stderr
