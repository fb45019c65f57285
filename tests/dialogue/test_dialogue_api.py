"""The dialogue API: reporter login with the follow-up code, and the rules of the chains."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from safevoice.crypto import pow as powmod
from safevoice.crypto.casefile import REPORTER, member_label, message_plaintext
from safevoice.crypto.code import ReporterKeys
from safevoice.crypto.encoding import b64d, b64e
from safevoice.crypto.envelope import Envelope, seal
from safevoice.crypto.keys import KeyPair
from safevoice.crypto.login import sign_login
from safevoice.crypto.manifest import Manifest
from safevoice.dialogue.models import LoginFailureWindow
from safevoice.members.models import LoginSession
from safevoice.storage.db import Database
from tests.api.test_login import login as member_login
from tests.api.test_submission import challenge, submit
from tests.support.reporter import Submission, build_submission, reporter_keys
from tests.support.world import World


def reporter_login_body(
    client: httpx.Client, manifest: Manifest, keys: ReporterKeys, *, sign_as: bytes | None = None
) -> dict[str, str]:
    token = challenge(client, "reporter-login")
    parsed = powmod.parse(token)
    signature = sign_login(sign_as or keys.sign_seed, manifest.instance_id, parsed)
    return {
        "sign_key": b64e(keys.sign_public),
        "challenge": token,
        "solution": powmod.solve(parsed),
        "signature": b64e(signature),
    }


def reporter_token(client: httpx.Client, manifest: Manifest, keys: ReporterKeys) -> str:
    response = client.post(
        "/api/v1/reporter/login", json=reporter_login_body(client, manifest, keys)
    )
    assert response.status_code == 200, response.text
    return str(response.json()["token"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def count(database: Database, model: Any) -> int:
    with database.session(write=False) as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def new_case(client: httpx.Client, manifest: Manifest, **kwargs: Any) -> Submission:
    sub = build_submission(manifest, challenge(client), **kwargs)
    assert submit(client, sub.body, key=b64e(sub.case.case_id) + "-key").status_code == 201
    return sub


def message(
    sub: Submission,
    text: str,
    *,
    seq: int,
    prev: bytes,
    sender: str,
    sign_seed: bytes,
    kind: str = "message",
    epoch: int = 0,
    key: bytes | None = None,
) -> dict[str, Any]:
    envelope = seal(
        key or sub.case.keys.thread,
        message_plaintext(text),
        case_id=sub.case.case_id,
        kind=kind,
        sender=sender,
        seq=seq,
        prev=prev,
        epoch=epoch,
        sign_seed=sign_seed,
    )
    return {"envelope": envelope.to_json()}


@pytest.fixture
def sub(client: httpx.Client, manifest: Manifest) -> Submission:
    return new_case(client, manifest)


def test_the_reporter_logs_in_with_the_code_and_sees_only_the_thread_and_its_own_key(
    client: httpx.Client, manifest: Manifest, world: World, sub: Submission
) -> None:
    member = bearer(member_login(client, world.members["alice"], manifest))
    note = message(
        sub,
        "Internal note.",
        seq=0,
        prev=bytes(32),
        sender=member_label("alice"),
        sign_seed=world.members["alice"].sign_seed,
        kind="note",
        key=sub.case.keys.committee,
    )
    assert (
        client.post(f"/api/v1/cases/{sub.case_id}/objects", json=note, headers=member).status_code
        == 201
    )
    token = reporter_token(client, manifest, sub.reporter)

    view = client.get("/api/v1/reporter/case", headers=bearer(token)).json()

    assert view["case"]["id"] == sub.case_id
    assert [o["chain"] for o in view["objects"]] == ["thread"]
    assert [w["recipient"] for w in view["wrapped_keys"]] == [REPORTER]


def test_an_unknown_code_and_a_wrong_signature_get_the_same_answer_and_open_nothing(
    client: httpx.Client, database: Database, manifest: Manifest, sub: Submission
) -> None:
    _, stranger = reporter_keys(manifest)
    unknown = client.post(
        "/api/v1/reporter/login", json=reporter_login_body(client, manifest, stranger)
    )
    forged = client.post(
        "/api/v1/reporter/login",
        json=reporter_login_body(client, manifest, sub.reporter, sign_as=stranger.sign_seed),
    )

    assert unknown.status_code == forged.status_code == 401
    assert unknown.json() == forged.json()
    assert count(database, LoginSession) == 0
    assert count(database, LoginFailureWindow) == 1


def test_reporter_routes_refuse_without_a_reporter_session(
    client: httpx.Client, manifest: Manifest, world: World
) -> None:
    member = bearer(member_login(client, world.members["alice"], manifest))

    assert client.get("/api/v1/reporter/case").status_code == 401
    assert client.get("/api/v1/reporter/case", headers=member).status_code == 403


def test_failed_logins_raise_the_difficulty_and_a_right_code_still_gets_in(
    client: httpx.Client, manifest: Manifest, sub: Submission
) -> None:
    _, stranger = reporter_keys(manifest)
    base = client.post("/api/v1/challenges", json={"purpose": "reporter-login"}).json()
    for _ in range(20):
        client.post("/api/v1/reporter/login", json=reporter_login_body(client, manifest, stranger))

    raised = client.post("/api/v1/challenges", json={"purpose": "reporter-login"}).json()

    assert raised["difficulty"] > base["difficulty"]
    assert reporter_token(client, manifest, sub.reporter)


def test_the_reporter_answers_and_the_member_replies_in_one_chain(
    client: httpx.Client, manifest: Manifest, world: World, sub: Submission
) -> None:
    alice = world.members["alice"]
    member = bearer(member_login(client, alice, manifest))
    head = sub.case.report.transcript_hash()
    question = message(
        sub,
        "Which shift?",
        seq=1,
        prev=head,
        sender=member_label("alice"),
        sign_seed=alice.sign_seed,
    )
    posted = client.post(f"/api/v1/cases/{sub.case_id}/objects", json=question, headers=member)
    assert posted.status_code == 201, posted.text
    reporter = bearer(reporter_token(client, manifest, sub.reporter))
    answer = message(
        sub,
        "Nights.",
        seq=2,
        prev=b64d(posted.json()["hash"]),
        sender=REPORTER,
        sign_seed=sub.reporter.sign_seed,
    )

    response = client.post("/api/v1/reporter/objects", json=answer, headers=reporter)

    assert response.status_code == 201, response.text
    listed = client.get("/api/v1/cases", headers=member).json()["cases"]
    case = next(c for c in listed if c["id"] == sub.case_id)
    assert (case["thread_length"], case["last_reporter_seq"]) == (3, 2)


def _bad_objects(sub: Submission, world: World) -> dict[str, tuple[dict[str, Any], int]]:
    alice = world.members["alice"]
    head = sub.case.report.transcript_hash()
    me = member_label("alice")

    def make(**overrides: Any) -> dict[str, Any]:
        params: dict[str, Any] = {
            "seq": 1,
            "prev": head,
            "sender": me,
            "sign_seed": alice.sign_seed,
        }
        params.update(overrides)
        return message(sub, "Hello.", **params)

    resigned = make()
    resigned["envelope"]["ct"] = make()["envelope"]["ct"]
    return {
        "a gap in the sequence": (make(seq=2), 409),
        "a wrong previous hash": (make(prev=bytes(32)), 409),
        "a replay of position 0": (make(seq=0, prev=bytes(32)), 409),
        "another sender than the session": (
            make(sender=member_label("bob"), sign_seed=world.members["bob"].sign_seed),
            400,
        ),
        "a future epoch": (make(epoch=1), 409),
        "a forged signature": (make(sign_seed=world.members["bob"].sign_seed), 400),
        "ciphertext from another object": (resigned, 400),
        "a report kind": (make(kind="report"), 403),
    }


def test_objects_that_are_not_exactly_the_next_one_are_refused_and_nothing_is_stored(
    client: httpx.Client, database: Database, manifest: Manifest, world: World, sub: Submission
) -> None:
    from safevoice.cases.models import CaseObject

    member = bearer(member_login(client, world.members["alice"], manifest))
    before = count(database, CaseObject)
    for name, (body, status) in _bad_objects(sub, world).items():
        response = client.post(f"/api/v1/cases/{sub.case_id}/objects", json=body, headers=member)
        assert response.status_code == status, (name, response.text)
        assert body["envelope"]["ct"][:40] not in response.text
    assert count(database, CaseObject) == before


def test_oversize_and_malformed_ciphertexts_are_refused_without_echo(
    client: httpx.Client, database: Database, manifest: Manifest, world: World, sub: Submission
) -> None:
    from safevoice.cases.models import CaseObject

    member = bearer(member_login(client, world.members["alice"], manifest))
    good = message(
        sub,
        "Hello.",
        seq=1,
        prev=sub.case.report.transcript_hash(),
        sender=member_label("alice"),
        sign_seed=world.members["alice"].sign_seed,
    )
    oversize = {"envelope": {**good["envelope"], "ct": "QUJD" * 200_000}}
    malformed = {"envelope": {**good["envelope"], "ct": "not*base64*MARKER"}}
    for body in (oversize, malformed):
        response = client.post(f"/api/v1/cases/{sub.case_id}/objects", json=body, headers=member)
        assert 400 <= response.status_code < 500
        assert "MARKER" not in response.text
        assert "QUJDQUJD" not in response.text
    assert count(database, CaseObject) == 1


def test_a_reporter_session_cannot_read_or_write_another_case(
    client: httpx.Client, manifest: Manifest, sub: Submission
) -> None:
    other = new_case(client, manifest, text="Another report.")
    reporter = bearer(reporter_token(client, manifest, sub.reporter))
    intruding = message(
        other,
        "Hi.",
        seq=1,
        prev=other.case.report.transcript_hash(),
        sender=REPORTER,
        sign_seed=sub.reporter.sign_seed,
    )

    response = client.post("/api/v1/reporter/objects", json=intruding, headers=reporter)
    view = client.get("/api/v1/reporter/case", headers=reporter).json()
    as_member_route = client.get(f"/api/v1/cases/{other.case_id}", headers=reporter)

    assert response.status_code == 400
    assert view["case"]["id"] == sub.case_id
    assert as_member_route.status_code == 403


def test_an_excluded_member_cannot_write_to_the_case(
    client: httpx.Client, manifest: Manifest, world: World
) -> None:
    sub = new_case(client, manifest, exclude=["bob"])
    bob: KeyPair = world.members["bob"]
    member = bearer(member_login(client, bob, manifest))
    body = message(
        sub,
        "Hi.",
        seq=1,
        prev=sub.case.report.transcript_hash(),
        sender=member_label("bob"),
        sign_seed=bob.sign_seed,
    )

    response = client.post(f"/api/v1/cases/{sub.case_id}/objects", json=body, headers=member)

    assert response.status_code == 404
    assert Envelope.from_json(body["envelope"]).sender == "member:bob"
