"""The reporter's client refuses to encrypt to anything but the committee it pinned."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select

from safevoice.cases.models import Case
from safevoice.clock import utcnow
from safevoice.crypto.encoding import canonical_json
from safevoice.crypto.keys import generate
from safevoice.crypto.manifest import (
    CodeKdf,
    Manifest,
    SignedManifest,
    sign_manifest,
)
from safevoice.instance.models import PublishedManifest
from safevoice.settings import Settings
from safevoice.storage.db import Database
from safevoice.web.app import create_app
from tests.conftest import Cli
from tests.support.databases import DatabaseFactory
from tests.support.threaded import serve_app
from tests.support.world import World


@pytest.fixture
def served(database: Database, database_url: str) -> Iterator[str]:
    with serve_app(
        create_app(Settings(database_url=database_url, snapshot_ttl_seconds=0), database=database)
    ) as url:
        yield url


def show(database: Database, manifest: Manifest, signed: SignedManifest) -> None:
    """Make the server present this manifest, as a compromised server could."""
    with database.unit_of_work() as session:
        session.execute(delete(PublishedManifest))
        session.add(
            PublishedManifest(
                version=manifest.version,
                payload=signed.payload,
                signatures=json.dumps(signed.to_json()["signatures"]),
                root=manifest.root,
                published_on=utcnow().date(),
            )
        )


def cases(database: Database) -> int:
    with database.session(write=False) as session:
        return session.scalar(select(func.count()).select_from(Case)) or 0


def submit(cli: Cli, url: str, world: World, *extra: str, expect: int = 0) -> object:
    answers = cli.home.parent / "answers.json"
    answers.write_text(json.dumps({"where": "HQ"}))
    return cli.report(
        "submit",
        "--server",
        url,
        "--pin",
        world.pin,
        "--channel",
        "general",
        "--text-file",
        "-",
        "--answers-file",
        str(answers),
        *extra,
        stdin="Something is wrong.",
        expect=expect,
    )


def test_the_reporter_client_submits_to_the_pinned_committee(
    served: str, world: World, cli: Cli, database: Database
) -> None:
    result = submit(cli, served, world)

    assert "follow-up code" in result.stdout
    assert cases(database) == 1


@pytest.mark.parametrize(
    ("tamper", "sentence"),
    [
        ("other root", "not signed by the committee root you pinned"),
        ("expired", "has expired"),
        ("re-serialised", "not signed by the committee root you pinned"),
        ("re-serialised and re-signed", "re-serialised"),
        ("argon2 below 64 MiB", "weaker than SafeVoice allows"),
        ("one pass of argon2", "weaker than SafeVoice allows"),
    ],
)
def test_the_reporter_client_refuses_an_untrustworthy_manifest_with_a_sentence(
    served: str,
    world: World,
    cli: Cli,
    database: Database,
    db_factory: DatabaseFactory,
    tamper: str,
    sentence: str,
) -> None:
    now = utcnow()
    manifest, signed = world.manifest(db_factory.instance_key, version=2)
    if tamper == "other root":
        attacker = generate("root", "root", "Attacker")
        manifest = replace(manifest, root=attacker.public.fingerprint)
        signed = sign_manifest(manifest, [attacker])
    elif tamper == "expired":
        manifest, signed = world.manifest(
            db_factory.instance_key, version=2, now=now - timedelta(days=61)
        )
    elif tamper.startswith("re-serialised"):
        payload = json.dumps(json.loads(signed.payload), indent=1).encode()
        if tamper.endswith("re-signed"):
            from safevoice.crypto.manifest import MANIFEST_CONTEXT, Signature

            sig = world.root.sign(MANIFEST_CONTEXT, payload)
            signed = SignedManifest(
                payload, (Signature(world.pin, world.root.public.sign_key, sig),)
            )
        else:
            signed = SignedManifest(payload, signed.signatures)
    else:
        kdf = (
            CodeKdf(1, 3, 32 * 1024 * 1024)
            if "64 MiB" in tamper
            else CodeKdf(1, 1, 64 * 1024 * 1024)
        )
        manifest = replace(manifest, code_kdf=(kdf,))
        signed = sign_manifest(manifest, [world.root])
        assert canonical_json(manifest.to_payload()) == signed.payload
    show(database, manifest, signed)

    result = submit(cli, served, world, expect=1)

    assert sentence in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert cases(database) == 0


def test_with_state_the_client_refuses_a_manifest_older_than_one_it_saw(
    served: str,
    world: World,
    cli: Cli,
    database: Database,
    db_factory: DatabaseFactory,
    tmp_path: Path,
) -> None:
    state = tmp_path / "reporter-state"
    newer, newer_signed = world.manifest(db_factory.instance_key, version=5)
    show(database, newer, newer_signed)
    submit(cli, served, world, "--state", str(state))
    older, older_signed = world.manifest(db_factory.instance_key, version=4)
    show(database, older, older_signed)

    result = submit(cli, served, world, "--state", str(state), expect=1)

    assert "older than version 5" in result.stderr
    assert cases(database) == 1


def test_without_state_the_reporter_client_writes_nothing(
    served: str, world: World, cli: Cli, tmp_path: Path
) -> None:
    submit(cli, served, world)

    assert not cli.home.exists()
