"""The demo's keys are public by design, and the demo marks its database, so that production
mode can recognise both."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from safevoice.crypto.keys import generate, seal_keyfile
from safevoice.instance import demo
from safevoice.storage.db import Database
from tests.conftest import Cli


def test_the_demo_uses_the_public_demo_keys_and_marks_its_database(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    cli.safevoice("demo", "--prepare-only")

    written = {
        json.loads(path.read_text())["fingerprint"]
        for path in (tmp_path / "keys/demo").glob("*.pub.json")
        if path.name != "instance.pub.json"
    }
    assert written == demo.demo_fingerprints()
    database = Database.connect(f"sqlite:///{tmp_path / 'var/demo/safevoice.sqlite'}")
    try:
        with database.session(write=False) as session:
            assert demo.is_demo(session)
    finally:
        database.dispose()


def test_the_demo_never_overwrites_a_key_an_earlier_demo_made(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    older = generate("member", "alice", "Alice Martin")
    path = tmp_path / "keys/demo/alice.key"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(seal_keyfile(older, "demo", opslimit=1, memlimit=8192)))

    result = cli.safevoice("demo", "--prepare-only", expect=1)

    assert "is not this version's demo key" in result.stderr
    assert json.loads(path.read_text())["public"]["fingerprint"] == older.public.fingerprint
