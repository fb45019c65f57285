"""Lessons learned through the API on SQLite and PostgreSQL: only a closed case's reader
proposes, only a second member approves, and the audit log records who without any text."""

from __future__ import annotations

from datetime import date

import httpx
import pytest
from sqlalchemy import select

from safevoice.audit.models import AuditEntry
from safevoice.crypto.encoding import b64e
from safevoice.crypto.lesson import Lesson, approve, seal_lesson, sign_lesson
from safevoice.crypto.login import random_id
from safevoice.crypto.manifest import Manifest
from safevoice.storage.db import Database
from tests.api.test_login import login
from tests.support.workflow import insert_case
from tests.support.world import World

SUMMARY = "Handovers between shifts now follow a written checklist."


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def members(client: httpx.Client, manifest: Manifest, world: World) -> dict[str, dict[str, str]]:
    return {m: bearer(login(client, world.members[m], manifest)) for m in ("alice", "bob")}


def proposal(
    world: World, manifest: Manifest, case_id: str, author: str = "alice"
) -> dict[str, object]:
    lesson = Lesson(
        instance_id=manifest.instance_id,
        lesson_id=random_id(),
        case_id=case_id,
        quarter="2024-Q2",
        category="general",
        summary=SUMMARY,
        author=author,
    )
    signed = sign_lesson(lesson, world.members[author])
    sig = approve(
        world.members[author],
        instance_id=manifest.instance_id,
        lesson_id=lesson.lesson_id,
        digest=signed.digest,
    )
    return {
        "lesson_id": lesson.lesson_id,
        "case_id": case_id,
        "digest": b64e(signed.digest),
        "sealed": seal_lesson(signed, lesson, manifest).to_json(),
        "approval": b64e(sig),
        "_signed": signed,
    }


def post(client: httpx.Client, headers: dict[str, str], body: dict[str, object]) -> httpx.Response:
    sent = {k: v for k, v in body.items() if not k.startswith("_")}
    return client.post("/api/v1/lessons", json=sent, headers=headers)


def test_a_second_member_approves_and_the_audit_log_names_them_without_the_text(
    client: httpx.Client,
    database: Database,
    manifest: Manifest,
    world: World,
    members: dict[str, dict[str, str]],
) -> None:
    case_id = insert_case(database, date(2024, 4, 2), ack_after=1, close_after=20)
    body = proposal(world, manifest, case_id)
    proposed = post(client, members["alice"], body)
    assert proposed.status_code == 201, proposed.text
    lesson_id = str(body["lesson_id"])
    url = f"/api/v1/lessons/{lesson_id}/approvals"

    own = {"approval": body["approval"]}
    assert client.post(url, json=own, headers=members["alice"]).status_code == 403
    # Bob's name on Alice's signature: refused.
    assert client.post(url, json=own, headers=members["bob"]).status_code == 400
    signed = body["_signed"]
    bob = approve(
        world.members["bob"],
        instance_id=manifest.instance_id,
        lesson_id=lesson_id,
        digest=signed.digest,  # type: ignore[attr-defined]  # the SignedLesson kept beside the body
    )
    approved = client.post(url, json={"approval": b64e(bob)}, headers=members["bob"])
    assert approved.status_code == 201, approved.text
    assert [a["member"] for a in approved.json()["approvals"]] == ["alice", "bob"]
    again = client.post(url, json={"approval": b64e(bob)}, headers=members["bob"])
    assert again.status_code == 409

    with database.session(write=False) as session:
        bodies = [e.body for e in session.scalars(select(AuditEntry))]
    lesson_entries = [b for b in bodies if b"lesson." in b]
    assert len(lesson_entries) == 2
    for entry in lesson_entries:
        assert lesson_id.encode() in entry
        assert b"Handovers" not in entry
        assert b"checklist" not in entry


def test_only_a_closed_case_that_the_member_reads_gets_a_proposal(
    client: httpx.Client,
    database: Database,
    manifest: Manifest,
    world: World,
    members: dict[str, dict[str, str]],
) -> None:
    open_case = insert_case(database, date(2024, 4, 2), ack_after=1)
    assert post(client, members["alice"], proposal(world, manifest, open_case)).status_code == 409
    not_hers = insert_case(database, date(2024, 4, 2), close_after=3, readers=("bob",))
    assert post(client, members["alice"], proposal(world, manifest, not_hers)).status_code == 404
    assert client.get("/api/v1/lessons").status_code == 401
