"""Legal holds: a member who can read a case places and releases them; the reason stays out of
the audit log; nobody else can."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from safevoice.crypto.manifest import Manifest
from safevoice.settings import Settings
from safevoice.storage.db import Database
from safevoice.web.app import create_app
from tests.api.test_login import login
from tests.api.test_submission import challenge
from tests.conftest import Cli
from tests.dialogue.test_dialogue_api import bearer, new_case
from tests.retention.support import audit_events
from tests.support.threaded import serve_app
from tests.support.world import World

REASON = "Litigation hold, matter 2026-114"


def hold_url(case_id: str) -> str:
    return f"/api/v1/cases/{case_id}/hold"


def test_a_member_holds_and_releases_a_case_and_the_audit_log_never_sees_the_reason(
    client: httpx.Client, database: Database, manifest: Manifest, world: World
) -> None:
    case_id = new_case(client, manifest).case_id
    alice = bearer(login(client, world.members["alice"], manifest))

    held = client.post(hold_url(case_id), json={"reason": REASON}, headers=alice)
    again = client.post(hold_url(case_id), json={"reason": REASON}, headers=alice)
    released = client.delete(hold_url(case_id), headers=alice)
    released_again = client.delete(hold_url(case_id), headers=alice)

    assert held.status_code == 201
    assert held.json()["held_by"] == "member:alice"
    assert held.json()["reason"] == REASON
    assert again.status_code == 409
    assert released.status_code == 204
    assert released_again.status_code == 409
    entries = audit_events(database, "case.held") + audit_events(database, "case.released")
    assert [(e["event"], e["case_id"], e["actor"]) for e in entries] == [
        ("case.held", case_id, "member:alice"),
        ("case.released", case_id, "member:alice"),
    ]
    assert all("detail" not in e for e in entries)
    assert REASON not in json.dumps(entries)


@pytest.mark.parametrize(
    ("body", "status"),
    [({"reason": ""}, 422), ({"reason": "   "}, 400), ({"reason": "x" * 501}, 422), ({}, 422)],
)
def test_a_hold_needs_a_reason_of_sensible_length(
    client: httpx.Client, manifest: Manifest, world: World, body: dict[str, str], status: int
) -> None:
    case_id = new_case(client, manifest).case_id
    alice = bearer(login(client, world.members["alice"], manifest))

    answer = client.post(hold_url(case_id), json=body, headers=alice)

    assert answer.status_code == status
    assert "Traceback" not in answer.text


def test_only_members_who_can_read_the_case_may_hold_or_release_it(
    client: httpx.Client, manifest: Manifest, world: World
) -> None:
    from tests.support.reporter import build_submission

    sub = build_submission(manifest, challenge(client), exclude=["bob"])
    from tests.api.test_submission import submit

    assert submit(client, sub.body).status_code == 201
    bob = bearer(login(client, world.members["bob"], manifest))
    auditor = bearer(login(client, world.auditor, manifest, role="auditor"))
    body = {"reason": REASON}

    assert client.post(hold_url(sub.case_id), json=body, headers=bob).status_code == 404
    assert client.post(hold_url(sub.case_id), json=body, headers=auditor).status_code == 403
    assert client.post(hold_url(sub.case_id), json=body).status_code == 401
    assert client.post(hold_url("A" * 22), json=body, headers=bob).status_code == 404
    alice = bearer(login(client, world.members["alice"], manifest))
    assert client.post(hold_url(sub.case_id), json=body, headers=alice).status_code == 201
    assert client.delete(hold_url(sub.case_id), headers=bob).status_code == 404
    assert client.delete(hold_url(sub.case_id), headers=auditor).status_code == 403


@pytest.fixture
def served(database: Database, database_url: str) -> Iterator[str]:
    app = create_app(Settings(database_url=database_url, snapshot_ttl_seconds=0), database=database)
    with serve_app(app) as url:
        yield url


def test_the_hold_and_release_commands_of_a_logged_in_member(
    cli: Cli, served: str, world: World, client: httpx.Client, manifest: Manifest
) -> None:
    case_id = new_case(client, manifest).case_id
    cli.safevoice(
        "login", "--server", served, "--key", str(world.key_file("carol")), "--pin", world.pin
    )

    held = cli.safevoice("retention", "hold", case_id, "--reason", REASON)
    twice = cli.safevoice("retention", "hold", case_id, "--reason", REASON, expect=1)
    released = cli.safevoice("retention", "release", case_id)
    unknown = cli.safevoice("retention", "release", "A" * 22, expect=1)

    assert f"Case {case_id} is under legal hold" in held.stdout
    assert "already under legal hold" in twice.stderr
    assert "Traceback" not in twice.stderr + twice.stdout
    assert f"The legal hold on case {case_id} is released." in released.stdout
    assert unknown.stderr.startswith("Error:")
