"""A client that missed a root hand-over walks the server's chain of cross-signed manifests.

The server serves every manifest that moved the committee to a new root; the client follows
only steps signed by the root it trusts at that point, so a server can withhold steps but never
add one. A member can also re-pin explicitly after checking a new fingerprint out of band; in
both cases the saved audit checkpoint is kept.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from safevoice.cases.manifest import publish_manifest
from safevoice.client.state import ServerState, State
from safevoice.clock import utcnow
from safevoice.crypto.keys import KeyPair, format_fingerprint, generate
from safevoice.crypto.manifest import (
    Manifest,
    SignedManifest,
    parse_payload,
    sign_manifest,
    successor,
)
from safevoice.instance import service as instance
from safevoice.settings import Settings
from safevoice.storage.db import Database
from safevoice.web.app import create_app
from tests.conftest import Cli
from tests.support.threaded import serve_app
from tests.support.world import World


@pytest.fixture
def served(database: Database, database_url: str) -> Iterator[str]:
    app = create_app(Settings(database_url=database_url, snapshot_ttl_seconds=0), database=database)
    with serve_app(app) as url:
        yield url


def current(database: Database) -> Manifest:
    with database.session(write=False) as session:
        signed = instance.current_signed_manifest(session)
    assert signed is not None
    return parse_payload(signed.payload)


def publish(
    database: Database, manifest: Manifest, roots: list[KeyPair], *, accept_new_root: bool = False
) -> None:
    now = utcnow()
    with database.unit_of_work() as session:
        publish_manifest(
            session,
            sign_manifest(manifest, roots),
            today=now.date(),
            now=now,
            accept_new_root=accept_new_root,
        )


def hand_over(database: Database, old: KeyPair, new: KeyPair) -> None:
    """A cross-signed hand-over, then a renewal signed by the new root alone."""
    handed = successor(current(database), root=new.public.fingerprint, now=utcnow(), days=30)
    publish(database, handed, [old, new])
    renewed = successor(handed, root=new.public.fingerprint, now=utcnow(), days=30)
    publish(database, renewed, [new])


def login(cli: Cli, url: str, world: World, *args: str, expect: int = 0) -> Any:
    return cli.safevoice(
        "login", "--server", url, "--key", str(world.key_file("alice")), *args, expect=expect
    )


def remembered(cli: Cli, url: str) -> ServerState:
    return State.load(cli.home).server(url)


def test_the_server_serves_only_the_cross_signed_hand_overs(
    client: httpx.Client, database: Database, world: World
) -> None:
    assert client.get("/api/v1/manifest/handovers").json() == []
    new = generate("root", "root", "New root")
    hand_over(database, world.root, new)

    served = client.get("/api/v1/manifest/handovers").json()

    assert [parse_payload_of(m).root for m in served] == [new.public.fingerprint]
    assert len(served[0]["signatures"]) == 2


def parse_payload_of(raw: dict[str, Any]) -> Manifest:
    return parse_payload(SignedManifest.from_json(raw).payload)


def test_a_member_who_missed_the_hand_over_walks_to_the_new_root_and_keeps_the_checkpoint(
    cli: Cli, served: str, database: Database, world: World
) -> None:
    login(cli, served, world, "--pin", world.pin)
    before = remembered(cli, served)
    assert before.checkpoint is not None
    new = generate("root", "root", "New root")
    hand_over(database, world.root, new)

    again = login(cli, served, world)

    after = remembered(cli, served)
    assert after.pin == new.public.fingerprint
    assert after.former_pins == [world.pin]
    assert after.checkpoint is not None
    assert before.checkpoint is not None
    assert after.checkpoint["seq"] >= before.checkpoint["seq"]
    assert format_fingerprint(new.public.fingerprint) in again.stdout
    # The new fingerprint given explicitly is now accepted too: the chain leads to it.
    login(cli, served, world, "--pin", new.public.fingerprint)


def test_a_root_the_pinned_root_never_vouched_for_needs_an_explicit_re_pin(
    cli: Cli, served: str, database: Database, world: World
) -> None:
    login(cli, served, world, "--pin", world.pin)
    saved = remembered(cli, served).checkpoint
    assert saved is not None
    new = generate("root", "root", "New root")
    alone = successor(current(database), root=new.public.fingerprint, now=utcnow(), days=30)
    publish(database, alone, [new], accept_new_root=True)

    walked = login(cli, served, world, expect=1)
    given = login(cli, served, world, "--pin", new.public.fingerprint, expect=1)
    no_pin = login(cli, served, world, "--repin", expect=1)
    repinned = login(cli, served, world, "--pin", new.public.fingerprint, "--repin")

    assert "not signed by the committee root you pinned" in walked.stderr
    assert "--repin" in given.stderr
    assert "give --pin" in no_pin.stderr
    after = remembered(cli, served)
    assert after.pin == new.public.fingerprint
    assert world.pin in after.former_pins
    assert after.checkpoint is not None
    assert after.checkpoint["seq"] >= saved["seq"]
    assert "audit log verified" in repinned.stdout


def test_a_server_cannot_add_a_step_the_pinned_root_did_not_sign(
    cli: Cli, served: str, database: Database, world: World
) -> None:
    login(cli, served, world, "--pin", world.pin)
    attacker = generate("root", "root", "Attacker root")
    helper = generate("root", "root", "Helper root")
    # A "hand-over" cross-signed only by roots the member never trusted.
    step = successor(current(database), root=attacker.public.fingerprint, now=utcnow(), days=30)
    publish(database, step, [helper, attacker], accept_new_root=True)

    refused = login(cli, served, world, expect=1)

    assert "not signed by the committee root you pinned" in refused.stderr
    assert remembered(cli, served).pin == world.pin
