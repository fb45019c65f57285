"""What the server does when the committee changes keys, and the archive recipient's narrow role.

Publishing a manifest that removes a member or replaces a key ends the sessions opened with the
old key and holds every case that key could open until a remaining recipient re-keys it; the
archive recipient logs in only with its own key, reads the cases it holds and may re-key them,
and nothing else.
"""

from __future__ import annotations

import json

import httpx
from sqlalchemy import select

from safevoice.audit.models import AuditEntry
from safevoice.cases.manifest import publish_manifest
from safevoice.cases.models import Case
from safevoice.clock import utcnow
from safevoice.crypto.casefile import REPORTER, member_label
from safevoice.crypto.keys import KeyPair, generate
from safevoice.crypto.manifest import Manifest, parse_payload, sign_manifest, successor
from safevoice.instance import service as instance
from safevoice.storage.db import Database
from tests.api.test_login import login, login_body
from tests.api.test_submission import challenge
from tests.dialogue.test_dialogue_api import bearer, message, new_case, reporter_token
from tests.support.reporter import Submission
from tests.support.world import World


def publish(database: Database, world: World, manifest: Manifest) -> None:
    now = utcnow()
    with database.unit_of_work() as session:
        publish_manifest(session, sign_manifest(manifest, [world.root]), today=now.date(), now=now)


def current(database: Database) -> Manifest:
    with database.session(write=False) as session:
        signed = instance.current_signed_manifest(session)
    assert signed is not None
    return parse_payload(signed.payload)


def flagged(database: Database) -> set[str]:
    with database.session(write=False) as session:
        return set(session.scalars(select(Case.id).where(Case.rekey_needed.is_(True))))


def post_message(
    client: httpx.Client, sub: Submission, keys: KeyPair, token: str
) -> httpx.Response:
    body = message(
        sub,
        "Any news?",
        seq=1,
        prev=sub.case.report.transcript_hash(),
        sender=member_label(keys.public.id),
        sign_seed=keys.sign_seed,
    )
    return client.post(f"/api/v1/cases/{sub.case_id}/objects", json=body, headers=bearer(token))


def test_removing_or_rotating_a_member_ends_their_sessions_and_holds_their_cases(
    client: httpx.Client, database: Database, manifest: Manifest, world: World
) -> None:
    everyone = new_case(client, manifest)
    alice_only = new_case(client, manifest, exclude=["bob", "carol"])
    tokens = {m: login(client, world.members[m], manifest) for m in ("alice", "bob", "carol")}
    new_bob = generate("member", "bob", "Bob")

    publish(
        database,
        world,
        successor(
            manifest,
            root=world.pin,
            now=utcnow(),
            days=30,
            members=(world.members["alice"].public, new_bob.public),
        ),
    )

    assert flagged(database) == {everyone.case_id}
    for gone in ("bob", "carol"):
        assert client.get("/api/v1/cases", headers=bearer(tokens[gone])).status_code == 401
    blocked = post_message(client, everyone, world.members["alice"], tokens["alice"])
    assert blocked.status_code == 409
    assert "re-keyed" in blocked.json()["error"]["message"]
    assert (
        post_message(client, alice_only, world.members["alice"], tokens["alice"]).status_code == 201
    )
    reporter = reporter_token(client, manifest, everyone.reporter)
    refused = client.post(
        "/api/v1/reporter/objects",
        json=message(
            everyone,
            "More details.",
            seq=1,
            prev=everyone.case.report.transcript_hash(),
            sender=REPORTER,
            sign_seed=everyone.reporter.sign_seed,
        ),
        headers=bearer(reporter),
    )
    assert refused.status_code == 409
    assert "renewing the keys" in refused.json()["error"]["message"]
    old_bob = client.post(
        "/api/v1/login",
        json=login_body(world.members["bob"], manifest, challenge(client, "member-login")),
    )
    assert old_bob.status_code == 401
    with database.session(write=False) as session:
        bodies = [json.loads(bytes(b)) for b in session.scalars(select(AuditEntry.body))]
    published = [b for b in bodies if b["event"] == "manifest.published"]
    assert published[-1]["detail"]["rekey_needed"] == 1


def test_the_archive_recipient_logs_in_with_its_own_key_and_may_only_read_and_rekey(
    client: httpx.Client, database: Database, manifest: Manifest, world: World
) -> None:
    archive = generate("archive", "archive", "Legal archive")
    before = new_case(client, manifest)
    publish(
        database,
        world,
        successor(manifest, root=world.pin, now=utcnow(), days=30, archive=archive.public),
    )
    with_archive = current(database)
    after = new_case(client, with_archive)

    token = login(client, archive, with_archive, role="archive")
    listed = client.get("/api/v1/cases", headers=bearer(token)).json()["cases"]
    detail = client.get(f"/api/v1/cases/{after.case_id}", headers=bearer(token)).json()
    hidden = client.get(f"/api/v1/cases/{before.case_id}", headers=bearer(token))
    exported = client.get("/api/v1/cases/export", headers=bearer(token)).json()

    assert [c["id"] for c in listed] == [after.case_id]
    assert [w["recipient"] for w in detail["wrapped_keys"]] == ["archive:archive"]
    assert hidden.status_code == 404
    assert [c["case"]["id"] for c in exported["cases"]] == [after.case_id]
    refused = [
        client.post(
            f"/api/v1/cases/{after.case_id}/objects",
            json=message(
                after,
                "Archive speaking.",
                seq=1,
                prev=after.case.report.transcript_hash(),
                sender="archive:archive",
                sign_seed=archive.sign_seed,
            ),
            headers=bearer(token),
        ).status_code,
        client.post(f"/api/v1/cases/{after.case_id}/recuse", headers=bearer(token)).status_code,
        client.post(
            f"/api/v1/cases/{after.case_id}/claim", json={"offer_to": None}, headers=bearer(token)
        ).status_code,
        client.get("/api/v1/actions", headers=bearer(token)).status_code,
    ]
    assert refused == [403, 403, 403, 403]
    intake = client.get("/api/v1/intake").json()
    assert intake["archive"] is True

    impostor = generate("archive", "archive", "Legal archive")
    wrong = client.post(
        "/api/v1/login",
        json=login_body(impostor, with_archive, challenge(client, "member-login"), "archive"),
    )
    assert wrong.status_code == 401
    publish(
        database,
        world,
        successor(with_archive, root=world.pin, now=utcnow(), days=30, archive=None),
    )
    assert client.get("/api/v1/cases", headers=bearer(token)).status_code == 401
    assert flagged(database) == {after.case_id}
    assert client.get("/api/v1/intake").json()["archive"] is False


def test_the_intake_says_when_there_is_no_archive_recipient(client: httpx.Client) -> None:
    assert client.get("/api/v1/intake").json()["archive"] is False


def test_a_session_that_raced_the_publication_ends_with_the_members_removal(
    client: httpx.Client, database: Database, manifest: Manifest, world: World
) -> None:
    from datetime import timedelta

    from safevoice.crypto.login import new_token, token_digest
    from safevoice.members.models import LoginSession

    publish(
        database,
        world,
        successor(
            manifest,
            root=world.pin,
            now=utcnow(),
            days=30,
            members=(world.members["alice"].public, world.members["bob"].public),
        ),
    )
    raced, kept = new_token(), new_token()
    with database.unit_of_work() as session:
        for token, subject in ((raced, "carol"), (kept, "bob")):
            session.add(
                LoginSession(
                    token_digest=token_digest(token),
                    role="member",
                    subject=subject,
                    expires_at=utcnow() + timedelta(minutes=10),
                )
            )

    assert client.get("/api/v1/cases", headers=bearer(raced)).status_code == 401
    assert client.get("/api/v1/cases", headers=bearer(kept)).status_code == 200
