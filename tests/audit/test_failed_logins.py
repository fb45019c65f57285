"""Bursts of failed logins are audited coarsely: the day and a threshold, nothing else."""

from __future__ import annotations

import json

import httpx
from sqlalchemy import select

from safevoice.audit.models import AuditEntry
from safevoice.crypto.keys import generate
from safevoice.crypto.manifest import Manifest
from safevoice.storage.db import Database
from tests.api.test_login import login_body
from tests.api.test_submission import challenge
from tests.support.world import World


def failure_entries(database: Database) -> list[dict[str, object]]:
    with database.session(write=False) as session:
        bodies = session.scalars(select(AuditEntry.body)).all()
    return [b for b in (json.loads(x) for x in bodies) if b["event"] == "login.failures"]


def test_ten_failed_logins_in_a_day_make_one_entry_without_who_or_when(
    client: httpx.Client, database: Database, manifest: Manifest, world: World
) -> None:
    stranger = generate("member", "mallory", "Mallory")
    answers = []
    for attempt in range(11):
        body = login_body(stranger, manifest, challenge(client, "member-login"))
        if attempt % 2:
            body = login_body(world.members["alice"], manifest, body["challenge"])
            body["signature"] = login_body(stranger, manifest, body["challenge"])["signature"]
        answers.append(client.post("/api/v1/login", json=body).status_code)
        if attempt == 8:
            assert failure_entries(database) == []

    entries = failure_entries(database)
    assert set(answers) == {401}
    assert len(entries) == 1
    assert entries[0]["detail"] == {"at_least": 10}
    assert entries[0]["actor"] == "server"
    assert entries[0]["case_id"] is None
    dumped = json.dumps(entries[0])
    assert "mallory" not in dumped
    assert "alice" not in dumped
