"""Member and auditor login by challenge-response, and what a session may see."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select

from safevoice.crypto import pow as powmod
from safevoice.crypto.encoding import b64e
from safevoice.crypto.keys import KeyPair
from safevoice.crypto.login import sign_login
from safevoice.crypto.manifest import Manifest
from safevoice.instance.service import snapshot
from safevoice.members.models import LoginSession
from safevoice.storage.db import Database
from tests.api.test_submission import challenge, submit
from tests.support.reporter import build_submission
from tests.support.world import World


def login_body(
    keys: KeyPair, manifest: Manifest, token: str, role: str = "member"
) -> dict[str, str]:
    signature = sign_login(keys.sign_seed, manifest.instance_id, powmod.parse(token))
    return {"role": role, "id": keys.public.id, "challenge": token, "signature": b64e(signature)}


def sessions(database: Database) -> int:
    with database.session(write=False) as session:
        return session.scalar(select(func.count()).select_from(LoginSession)) or 0


def login(client: httpx.Client, keys: KeyPair, manifest: Manifest, role: str = "member") -> str:
    response = client.post(
        "/api/v1/login", json=login_body(keys, manifest, challenge(client, "member-login"), role)
    )
    assert response.status_code == 200, response.text
    return str(response.json()["token"])


def test_a_member_logs_in_with_a_signed_challenge_and_gets_a_token(
    client: httpx.Client, database: Database, manifest: Manifest, world: World
) -> None:
    token = login(client, world.members["alice"], manifest)

    response = client.get("/api/v1/cases", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 200
    assert sessions(database) == 1


def test_an_unknown_member_and_a_wrong_signature_get_the_same_answer(
    client: httpx.Client, database: Database, manifest: Manifest, world: World
) -> None:
    from safevoice.crypto.keys import generate

    stranger = generate("member", "mallory", "Mallory")
    unknown = client.post(
        "/api/v1/login", json=login_body(stranger, manifest, challenge(client, "member-login"))
    )
    forged = login_body(world.members["alice"], manifest, challenge(client, "member-login"))
    forged["signature"] = login_body(stranger, manifest, forged["challenge"])["signature"]
    wrong = client.post("/api/v1/login", json=forged)

    assert unknown.status_code == wrong.status_code == 401
    assert unknown.json() == wrong.json()
    assert sessions(database) == 0


def test_an_expired_login_challenge_is_refused_and_opens_no_session(
    client: httpx.Client, database: Database, manifest: Manifest, world: World
) -> None:
    with database.session(write=False) as session:
        key = snapshot(session).challenge_key
    expired = powmod.issue(key, purpose="member-login", difficulty=0, expires=1_000_000)

    response = client.post(
        "/api/v1/login", json=login_body(world.members["alice"], manifest, expired.token)
    )

    assert response.status_code == 400
    assert "expired" in response.json()["error"]["message"]
    assert sessions(database) == 0


def test_a_login_challenge_cannot_be_used_twice(
    client: httpx.Client, database: Database, manifest: Manifest, world: World
) -> None:
    body = login_body(world.members["alice"], manifest, challenge(client, "member-login"))
    assert client.post("/api/v1/login", json=body).status_code == 200

    again = client.post("/api/v1/login", json=body)

    assert again.status_code == 400
    assert sessions(database) == 1


def test_a_submission_challenge_does_not_log_anyone_in(
    client: httpx.Client, database: Database, manifest: Manifest, world: World
) -> None:
    body = login_body(world.members["alice"], manifest, challenge(client, "submit"))

    response = client.post("/api/v1/login", json=body)

    assert response.status_code == 400
    assert sessions(database) == 0


@pytest.mark.parametrize("header", ["", "Bearer ", "Bearer not-a-token", "Basic abc"])
def test_case_routes_refuse_missing_or_invalid_tokens(client: httpx.Client, header: str) -> None:
    headers = {"Authorization": header} if header else {}
    response = client.get("/api/v1/cases", headers=headers)

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


def test_an_excluded_member_sees_no_trace_of_the_case_and_an_included_one_only_its_own_key(
    client: httpx.Client, manifest: Manifest, world: World
) -> None:
    sub = build_submission(manifest, challenge(client), exclude=["bob"])
    assert submit(client, sub.body).status_code == 201
    alice = {"Authorization": f"Bearer {login(client, world.members['alice'], manifest)}"}
    bob = {"Authorization": f"Bearer {login(client, world.members['bob'], manifest)}"}

    listed = client.get("/api/v1/cases", headers=alice).json()["cases"]
    assert [c["id"] for c in listed] == [sub.case_id]
    assert client.get("/api/v1/cases", headers=bob).json()["cases"] == []
    detail = client.get(f"/api/v1/cases/{sub.case_id}", headers=alice).json()
    assert [w["recipient"] for w in detail["wrapped_keys"]] == ["member:alice"]
    refused = client.get(f"/api/v1/cases/{sub.case_id}", headers=bob)
    missing = client.get(f"/api/v1/cases/{'A' * 22}", headers=bob)
    assert refused.status_code == missing.status_code == 404
    assert refused.json() == missing.json()


def test_an_auditor_can_log_in_but_cannot_list_or_read_cases(
    client: httpx.Client, manifest: Manifest, world: World
) -> None:
    sub = build_submission(manifest, challenge(client))
    assert submit(client, sub.body).status_code == 201
    token = login(client, world.auditor, manifest, role="auditor")
    headers = {"Authorization": f"Bearer {token}"}

    assert client.get("/api/v1/cases", headers=headers).status_code == 403
    assert client.get(f"/api/v1/cases/{sub.case_id}", headers=headers).status_code == 403
