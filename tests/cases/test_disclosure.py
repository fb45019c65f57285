"""The ground for disclosing a reporter's identity is recorded first (COMPLIANCE.md D8).

Directive Art. 16 allows disclosure only with the reporter's explicit consent or where the law
requires it. A member records the ground as a workflow step: consent must be a message the
reporter signed in the thread (a member's own message or the report itself does not count), a
legal obligation needs its reference. Each recorded ground is an audit entry that carries
nothing the reporter wrote.
"""

from __future__ import annotations

import json

import httpx
from sqlalchemy import text

from safevoice.crypto.casefile import REPORTER, member_label
from safevoice.crypto.encoding import b64d
from safevoice.crypto.manifest import Manifest
from safevoice.storage.db import Database
from tests.api.test_login import login as member_login
from tests.dialogue.test_dialogue_api import bearer, message, new_case, reporter_token
from tests.support.reporter import Submission
from tests.support.world import World

CONSENT = "I agree that you name me to the labour court."


def audit_details(database: Database, case_id: str) -> list[dict[str, object]]:
    with database.reader.connect() as connection:
        rows = connection.execute(text("SELECT body FROM audit_entry")).scalars().all()
    entries = [json.loads(bytes(row)) for row in rows]
    return [e for e in entries if e.get("case_id") == case_id]


def conversation(
    client: httpx.Client, manifest: Manifest, world: World
) -> tuple[Submission, dict[str, str]]:
    """#0 the report, #1 a member's question, #2 the reporter's answer giving consent."""
    sub = new_case(client, manifest, text="The foreman falsifies the logs.")
    alice = world.members["alice"]
    member = bearer(member_login(client, alice, manifest))
    question = message(
        sub,
        "May we name you?",
        seq=1,
        prev=sub.case.report.transcript_hash(),
        sender=member_label("alice"),
        sign_seed=alice.sign_seed,
    )
    asked = client.post(f"/api/v1/cases/{sub.case_id}/objects", json=question, headers=member)
    assert asked.status_code == 201, asked.text
    answer = message(
        sub,
        CONSENT,
        seq=2,
        prev=b64d(asked.json()["hash"]),
        sender=REPORTER,
        sign_seed=sub.reporter.sign_seed,
    )
    reporter = bearer(reporter_token(client, manifest, sub.reporter))
    answered = client.post("/api/v1/reporter/objects", json=answer, headers=reporter)
    assert answered.status_code == 201, answered.text
    return sub, member


def test_consent_is_recorded_only_from_a_message_the_reporter_sent(
    client: httpx.Client, database: Database, manifest: Manifest, world: World
) -> None:
    sub, member = conversation(client, manifest, world)
    url = f"/api/v1/cases/{sub.case_id}/disclosure"

    by_member = client.post(url, json={"basis": "consent", "consent_message": 1}, headers=member)
    report = client.post(url, json={"basis": "consent", "consent_message": 0}, headers=member)
    missing = client.post(url, json={"basis": "consent", "consent_message": 9}, headers=member)
    nothing = client.post(url, json={"basis": "consent"}, headers=member)
    assert [r.status_code for r in (by_member, report, missing, nothing)] == [400, 422, 400, 400]
    assert "only the reporter can consent" in by_member.json()["error"]["message"]
    assert all(e["event"] != "case.disclosure_ground" for e in audit_details(database, sub.case_id))

    recorded = client.post(url, json={"basis": "consent", "consent_message": 2}, headers=member)

    assert recorded.status_code == 201, recorded.text
    assert recorded.json()["basis"] == "consent"
    entries = [
        e for e in audit_details(database, sub.case_id) if e["event"] == "case.disclosure_ground"
    ]
    assert len(entries) == 1
    assert entries[0]["actor"] == "member:alice"
    assert entries[0]["detail"] == {"basis": "consent", "consent_message": 2}
    assert CONSENT not in json.dumps(entries)


def test_a_legal_obligation_needs_its_reference_and_is_audited(
    client: httpx.Client, database: Database, manifest: Manifest, world: World
) -> None:
    sub, member = conversation(client, manifest, world)
    url = f"/api/v1/cases/{sub.case_id}/disclosure"

    bare = client.post(url, json={"basis": "legal_obligation"}, headers=member)
    mixed = client.post(
        url,
        json={"basis": "legal_obligation", "legal_ground": "x", "consent_message": 2},
        headers=member,
    )
    recorded = client.post(
        url,
        json={"basis": "legal_obligation", "legal_ground": "Order 12 O 34/27 of the court"},
        headers=member,
    )

    assert (bare.status_code, mixed.status_code, recorded.status_code) == (400, 400, 201)
    entries = [
        e for e in audit_details(database, sub.case_id) if e["event"] == "case.disclosure_ground"
    ]
    assert [e["detail"] for e in entries] == [
        {"basis": "legal_obligation", "legal_ground": "Order 12 O 34/27 of the court"}
    ]


def test_only_a_member_who_reads_the_case_records_a_ground(
    client: httpx.Client, manifest: Manifest, world: World
) -> None:
    sub, _ = conversation(client, manifest, world)
    reporter = bearer(reporter_token(client, manifest, sub.reporter))
    url = f"/api/v1/cases/{sub.case_id}/disclosure"

    as_reporter = client.post(
        url, json={"basis": "consent", "consent_message": 2}, headers=reporter
    )
    anonymous = client.post(url, json={"basis": "consent", "consent_message": 2})

    assert as_reporter.status_code in (401, 403)
    assert anonymous.status_code == 401
