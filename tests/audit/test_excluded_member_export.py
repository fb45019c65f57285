"""A member the reporter excluded cannot see the case in the audit log either.

The README promises such a member "cannot even see that it exists". The server shows a member
the entries about cases they cannot know of as the hash of their bytes only, so the member's
client still re-hashes the whole chain (at every login and in ``audit verify``) while the case
id and the other members' activity in it stay out of sight. Auditors keep the whole log.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from safevoice.audit import service as audit
from safevoice.clock import utcnow
from safevoice.crypto.encoding import b64d
from safevoice.crypto.manifest import Manifest
from safevoice.settings import Settings
from safevoice.storage.db import Database
from safevoice.web.app import create_app
from tests.api.test_login import login
from tests.conftest import Cli
from tests.dialogue.test_dialogue_api import bearer, new_case
from tests.support.threaded import serve_app
from tests.support.world import World


@pytest.fixture
def served(database: Database, database_url: str) -> Iterator[str]:
    app = create_app(Settings(database_url=database_url, snapshot_ttl_seconds=0), database=database)
    with serve_app(app) as url:
        yield url


def fold(database: Database) -> None:
    """The daily fold, run as if it were tomorrow: the reporter's events enter the chain."""
    with database.unit_of_work() as session:
        audit.fold_staged(session, today=utcnow().date() + timedelta(days=1))


def export_as(cli: Cli, url: str, world: World, who: str, out: Path) -> str:
    """Everything the export shows, with each entry's bytes decoded."""
    cli.safevoice("login", "--server", url, "--key", str(world.key_file(who)), "--pin", world.pin)
    cli.safevoice("audit", "export", "--out", str(out))
    cli.safevoice("audit", "verify", str(out), "--pin", world.pin)
    text = out.read_text()
    bodies = [b64d(e["body"]).decode() for e in json.loads(text)["entries"] if "body" in e]
    return text + "\n".join(bodies)


def test_an_excluded_members_export_shows_no_trace_of_the_case_and_still_verifies(
    cli: Cli,
    served: str,
    client: httpx.Client,
    database: Database,
    manifest: Manifest,
    world: World,
    tmp_path: Path,
) -> None:
    cli.safevoice(
        "login", "--server", served, "--key", str(world.key_file("bob")), "--pin", world.pin
    )
    hidden = new_case(client, manifest, exclude=["bob"])
    shared = new_case(client, manifest)
    alice = bearer(login(client, world.members["alice"], manifest))
    for case in (hidden, shared):
        assert client.get(f"/api/v1/cases/{case.case_id}", headers=alice).status_code == 200
    claimed = client.post(
        f"/api/v1/cases/{hidden.case_id}/claim", json={"offer_to": None}, headers=alice
    )
    assert claimed.status_code < 300
    fold(database)

    relogin = cli.safevoice(
        "login", "--server", served, "--key", str(world.key_file("bob")), "--pin", world.pin
    )
    bobs = export_as(cli, served, world, "bob", tmp_path / "bob.json")
    alices = export_as(cli, served, world, "alice", tmp_path / "alice.json")
    audreys = export_as(cli, served, world, "audrey", tmp_path / "audrey.json")

    assert "audit log verified up to checkpoint" in relogin.stdout
    assert "Warning" not in relogin.stderr
    assert hidden.case_id not in bobs
    assert shared.case_id in bobs
    assert hidden.case_id in alices
    assert hidden.case_id in audreys
    withheld = [
        e for e in json.loads((tmp_path / "bob.json").read_text())["entries"] if "body" not in e
    ]
    assert len(withheld) >= 3  # received, read and assigned
    assert all(set(e) == {"seq", "body_hash", "hash"} for e in withheld)


def test_a_withheld_entry_cannot_hide_a_rewrite_from_the_member(
    client: httpx.Client, database: Database, manifest: Manifest, world: World
) -> None:
    from sqlalchemy import select

    from safevoice.audit.models import AuditEntry

    hidden = new_case(client, manifest, exclude=["bob"])
    new_case(client, manifest)
    fold(database)
    bob = bearer(login(client, world.members["bob"], manifest))
    before = client.get("/api/v1/audit/entries", headers=bob).json()["entries"]
    with database.unit_of_work() as session:
        for entry in session.scalars(select(AuditEntry)):
            if hidden.case_id.encode() in entry.body:
                entry.body = entry.body.replace(b'"reporter"', b'"member:alice"')
    after = client.get("/api/v1/audit/entries", headers=bob).json()["entries"]
    by_event = client.get(
        "/api/v1/audit/entries", params={"event": "case.received"}, headers=bob
    ).json()["entries"]

    changed = [b for a, b in zip(before, after, strict=True) if a != b]
    assert len(changed) == 1
    assert "body" not in changed[0]  # still withheld, but its hash of the bytes moved
    shown = [b64d(e["body"]).decode() for e in by_event]
    assert len(shown) == 1  # the other case's entry only
    assert all(hidden.case_id not in body for body in shown)
