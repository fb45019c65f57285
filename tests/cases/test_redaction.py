"""A member removes personal data that is manifestly irrelevant from a case (COMPLIANCE.md D9).

The member replaces a report, message or note by a redacted version signed with a redaction
record; the original ciphertext is overwritten and the database made to forget it, so nothing
the server holds (its database files, its answers) can give the removed words back, even to
someone holding the case keys. The chain still verifies, both the members' and the reporter's
readers show the redacted version and say that part was removed and when, and the audit entry
names the object without any content. The server refuses every redaction that is not the
logged-in member's own, for exactly that object, on today's day.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text

from safevoice.cases.models import CaseObject
from safevoice.crypto.casefile import NOTE_FORMAT, body_plaintext, member_label
from safevoice.crypto.encoding import b64d, b64e
from safevoice.crypto.envelope import Envelope
from safevoice.crypto.manifest import Manifest
from safevoice.errors import BadRequest
from safevoice.i18n import Catalogue
from safevoice.protocol.reader import REDACTION_PROBLEM, ReadCase, read_as_reporter, read_case
from safevoice.protocol.wire import CaseDetail, ReporterCaseView
from safevoice.protocol.workflow import next_object, redaction_body
from safevoice.storage.db import Database
from safevoice.web.bundle import Bundle
from tests.api.test_login import login as member_login
from tests.cases.test_disclosure import conversation
from tests.dialogue.test_dialogue_api import bearer, new_case, reporter_token
from tests.support.canary import new_canary, occurrences, scan_paths
from tests.support.databases import data_paths
from tests.support.reporter import Submission
from tests.support.world import World
from tests.web.test_pages import pages

KEPT = "The foreman falsifies the safety logs of line 3."


def fetch(
    client: httpx.Client, manifest: Manifest, world: World, sub: Submission, who: str = "alice"
) -> tuple[CaseDetail, ReadCase]:
    keys = world.members[who]
    answer = client.get(
        f"/api/v1/cases/{sub.case_id}", headers=bearer(member_login(client, keys, manifest))
    )
    assert answer.status_code == 200, answer.text
    detail = CaseDetail.model_validate_json(answer.content)
    return detail, read_case(detail, keys=keys, label=member_label(who), manifest=manifest)


def body_for(
    client: httpx.Client,
    manifest: Manifest,
    world: World,
    sub: Submission,
    *,
    seq: int = 0,
    chain: str = "thread",
    who: str = "alice",
) -> dict[str, Any]:
    detail, read = fetch(client, manifest, world, sub, who)
    return redaction_body(
        read,
        detail,
        chain=chain,
        seq=seq,
        text=KEPT + " [name removed]",
        keys=world.members[who],
        manifest=manifest,
        on=detail.case.today.isoformat(),
    )


def audit_entries(database: Database, case_id: str) -> list[dict[str, Any]]:
    with database.reader.connect() as connection:
        rows = connection.execute(text("SELECT body FROM audit_entry")).scalars().all()
    entries = [json.loads(bytes(row)) for row in rows]
    return [e for e in entries if e.get("case_id") == case_id]


def stored(database: Database, case_id: str, seq: int = 0) -> tuple[bytes, bytes | None]:
    with database.session(write=False) as session:
        row = session.scalars(
            select(CaseObject).where(
                CaseObject.case_id == case_id, CaseObject.chain == "thread", CaseObject.seq == seq
            )
        ).one()
        return bytes(row.envelope), None if row.redaction is None else bytes(row.redaction)


def database_files(url: str) -> list[Any]:
    """The database's own files; PostgreSQL's shared WAL keeps what was overwritten until the
    server recycles its segments (SECURITY.md says so), so it is not among them."""
    return [p for p in data_paths(url) if p.name != "pg_wal"]


def test_a_redacted_report_is_gone_from_the_database_and_every_answer(
    client: httpx.Client, database: Database, database_url: str, manifest: Manifest, world: World
) -> None:
    canary = new_canary("NAME")
    sub = new_case(client, manifest, text=f"{KEPT} It was {canary} who told me.")
    original = Envelope.from_json(json.loads(stored(database, sub.case_id)[0]))
    removed = b64e(original.ct)[:60]
    assert scan_paths(database_files(database_url), removed)  # the check can find it
    _, before = fetch(client, manifest, world, sub)

    member = bearer(member_login(client, world.members["alice"], manifest))
    answer = client.post(
        f"/api/v1/cases/{sub.case_id}/redactions",
        json=body_for(client, manifest, world, sub),
        headers=member,
    )

    assert answer.status_code == 201, answer.text
    assert answer.json() == {"chain": "thread", "seq": 0, "hash": b64e(original.transcript_hash())}
    assert scan_paths(database_files(database_url), removed) == []
    detail, read = fetch(client, manifest, world, sub)
    assert read.problems == []
    assert read.report is not None
    assert canary not in read.report.text
    assert read.report.text == KEPT + " [name removed]"
    assert read.objects[0].redacted is not None
    assert read.objects[0].redacted.on == detail.case.today.isoformat()
    assert read.heads == before.heads  # the chain still runs through the original's hash
    reporter = bearer(reporter_token(client, manifest, sub.reporter))
    view = client.get("/api/v1/reporter/case", headers=reporter)
    seen = read_as_reporter(
        ReporterCaseView.model_validate_json(view.content), reporter=sub.reporter, manifest=manifest
    )
    assert seen.problems == []
    assert seen.objects[0].redacted is not None
    assert seen.objects[0].redacted.by == "member:alice"
    assert seen.report is not None
    assert seen.report.text == KEPT + " [name removed]"
    for content in (
        view.content,
        client.get(f"/api/v1/cases/{sub.case_id}", headers=member).content,
    ):
        assert removed.encode() not in content
    entries = [e for e in audit_entries(database, sub.case_id) if e["event"] == "case.redaction"]
    assert [e["detail"] for e in entries] == [{"chain": "thread", "seq": 0, "kind": "report"}]
    assert entries[0]["actor"] == "member:alice"
    assert not occurrences(json.dumps(audit_entries(database, sub.case_id)).encode(), canary)


def forged(body: dict[str, Any], **changes: Any) -> dict[str, Any]:
    copy: dict[str, Any] = json.loads(json.dumps(body))
    for path, value in changes.items():
        part, _, name = path.partition("__")
        copy[part][name] = value
    return copy


def test_forged_unsigned_and_foreign_redactions_are_refused(
    client: httpx.Client, database: Database, manifest: Manifest, world: World
) -> None:
    sub = new_case(client, manifest, text=KEPT)
    alice = bearer(member_login(client, world.members["alice"], manifest))
    url = f"/api/v1/cases/{sub.case_id}/redactions"
    body = body_for(client, manifest, world, sub)
    by_bob = body_for(client, manifest, world, sub, who="bob")
    before = stored(database, sub.case_id)

    attempts = {
        "unsigned record": forged(body, redaction__sig=b64e(bytes(64))),
        "unsigned version": forged(body, envelope__sig=b64e(bytes(64))),
        "bob's redaction sent by alice": by_bob,
        "bob's signature named alice": forged(by_bob, redaction__by="member:alice"),
        "another object's hash": forged(body, redaction__hash=b64e(bytes(32))),
        "another version's digest": forged(body, redaction__digest=b64e(bytes(32))),
        "yesterday": forged(body, redaction__on="2001-01-01"),
        "another position": {**body, "seq": 5},
        "another kind": forged(body, envelope__kind="message"),
    }
    answers = {name: client.post(url, json=b, headers=alice) for name, b in attempts.items()}

    assert {name: a.status_code for name, a in answers.items()} == {
        name: 404 if name == "another position" else 400 for name in attempts
    }
    reporter = bearer(reporter_token(client, manifest, sub.reporter))
    assert client.post(url, json=body, headers=reporter).status_code == 403
    assert client.post(url, json=body).status_code == 401
    assert stored(database, sub.case_id) == before
    assert all(e["event"] != "case.redaction" for e in audit_entries(database, sub.case_id))


def test_workflow_records_are_not_redacted(
    client: httpx.Client, database: Database, manifest: Manifest, world: World
) -> None:
    sub, member = conversation(client, manifest, world)  # #1 is a member's question
    alice = world.members["alice"]
    detail, read = fetch(client, manifest, world, sub)
    body = redaction_body(
        read,
        detail,
        chain="thread",
        seq=1,
        text="Who else?",
        keys=alice,
        manifest=manifest,
        on=detail.case.today.isoformat(),
    )
    with database.session() as session:  # as if the object at #1 were a status record
        session.execute(
            text("UPDATE case_object SET kind = 'status' WHERE case_id = :c AND seq = 1"),
            {"c": sub.case_id},
        )
        session.commit()

    refused = client.post(f"/api/v1/cases/{sub.case_id}/redactions", json=body, headers=member)

    assert refused.status_code == 400
    assert "report, a message or a note" in refused.json()["error"]["message"]


def test_a_reader_refuses_a_redaction_the_server_forged_or_stripped(
    client: httpx.Client, manifest: Manifest, world: World
) -> None:
    sub = new_case(client, manifest, text=KEPT)
    member = bearer(member_login(client, world.members["alice"], manifest))
    body = body_for(client, manifest, world, sub)
    url = f"/api/v1/cases/{sub.case_id}/redactions"
    assert client.post(url, json=body, headers=member).status_code == 201
    detail, _ = fetch(client, manifest, world, sub)

    def read_with(redaction: dict[str, Any] | None) -> ReadCase:
        shown = detail.model_dump(mode="json")
        shown["objects"][0]["redaction"] = redaction
        return read_case(
            CaseDetail.model_validate(shown),
            keys=world.members["alice"],
            label=member_label("alice"),
            manifest=manifest,
        )

    record = body["redaction"]
    named_bob = read_with({**record, "by": "member:bob"})
    other_day = read_with({**record, "on": "2001-01-01"})
    stripped = read_with(None)

    assert f"thread message 0: {REDACTION_PROBLEM}" in named_bob.problems
    assert f"thread message 0: {REDACTION_PROBLEM}" in other_day.problems
    assert stripped.problems
    assert not stripped.objects[0].verified
    assert stripped.report is None
    assert b64d(record["hash"]) == sub.case.report.transcript_hash()


def test_the_server_sealed_follow_up_shows_the_redacted_text_and_the_day(
    database: Database, database_url: str, manifest: Manifest, world: World, web_bundle: Bundle
) -> None:
    canary = new_canary("NAME")
    with pages(database, database_url, web_bundle, nojs=True) as http:
        sub = new_case(http, manifest, text=f"{KEPT} It was {canary} who told me.")
        member = bearer(member_login(http, world.members["alice"], manifest))
        body = body_for(http, manifest, world, sub)
        assert (
            http.post(
                f"/api/v1/cases/{sub.case_id}/redactions", json=body, headers=member
            ).status_code
            == 201
        )

        read = http.post("/follow-up", data={"code": sub.code})

    assert read.status_code == 200, read.text
    assert canary not in read.text
    assert f"{KEPT} [name removed]" in read.text
    day = Catalogue.load().day(body["redaction"]["on"])
    assert f"Part of this message was removed by the committee on {day}." in read.text
    assert "Not verified." not in read.text


def test_a_reports_answers_are_redacted_too_and_only_for_its_own_questions(
    client: httpx.Client, manifest: Manifest, world: World
) -> None:
    canary = new_canary("PHONE")
    sub = new_case(client, manifest, text=KEPT, answers={"where": f"Depot 4, call {canary}"})
    member = bearer(member_login(client, world.members["alice"], manifest))
    detail, read = fetch(client, manifest, world, sub)

    def body(answers: dict[str, str]) -> dict[str, Any]:
        return redaction_body(
            read,
            detail,
            chain="thread",
            seq=0,
            text=KEPT,
            keys=world.members["alice"],
            manifest=manifest,
            on=detail.case.today.isoformat(),
            answers=answers,
        )

    with pytest.raises(BadRequest):
        body({"who": "someone"})
    url = f"/api/v1/cases/{sub.case_id}/redactions"
    assert client.post(url, json=body({"where": "Depot 4"}), headers=member).status_code == 201

    _, after = fetch(client, manifest, world, sub)
    assert after.problems == []
    assert after.report is not None
    assert after.report.answers == {"where": "Depot 4"}
    assert after.report.text == KEPT


def test_a_committee_note_is_redacted_under_the_committee_key(
    client: httpx.Client, database: Database, manifest: Manifest, world: World
) -> None:
    canary = new_canary("NAME")
    sub = new_case(client, manifest, text=KEPT)
    alice = world.members["alice"]
    member = bearer(member_login(client, alice, manifest))
    detail, read = fetch(client, manifest, world, sub)
    note = next_object(
        read,
        detail,
        kind="note",
        plaintext=body_plaintext(NOTE_FORMAT, text=f"Spoke to {canary} at home."),
        keys=alice,
    )
    added = client.post(
        f"/api/v1/cases/{sub.case_id}/objects", json={"envelope": note.to_json()}, headers=member
    )
    assert added.status_code == 201, added.text
    detail, read = fetch(client, manifest, world, sub)
    body = redaction_body(
        read,
        detail,
        chain="committee",
        seq=0,
        text="Spoke to [a witness] at home.",
        keys=alice,
        manifest=manifest,
        on=detail.case.today.isoformat(),
    )

    done = client.post(f"/api/v1/cases/{sub.case_id}/redactions", json=body, headers=member)

    assert done.status_code == 201, done.text
    _, after = fetch(client, manifest, world, sub, who="bob")
    assert after.problems == []
    (shown,) = [o for o in after.objects if o.chain == "committee"]
    assert shown.text == "Spoke to [a witness] at home."
    assert shown.redacted is not None
    assert shown.redacted.by == "member:alice"
    assert after.heads["committee"] == (0, note.transcript_hash())
    entries = [e for e in audit_entries(database, sub.case_id) if e["event"] == "case.redaction"]
    assert [e["detail"] for e in entries] == [{"chain": "committee", "seq": 0, "kind": "note"}]
