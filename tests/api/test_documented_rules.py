"""Rules of the wire protocol that an independent client met in the text and that the server
must keep as written: how the ``Bearer`` scheme is matched, and that reporter login needs a
solved proof of work (docs/protocol/sessions-and-http.md 10, docs/protocol/intake.md 9)."""

from __future__ import annotations

import httpx
import pytest

from safevoice.crypto import pow as powmod
from safevoice.crypto.encoding import b64e
from safevoice.crypto.manifest import Manifest
from tests.api.test_login import login
from tests.dialogue.test_dialogue_api import new_case, reporter_login_body
from tests.support.world import World


@pytest.fixture
def token(client: httpx.Client, manifest: Manifest, world: World) -> str:
    return login(client, world.members["alice"], manifest)


@pytest.mark.parametrize("form", ["Bearer {}", "bearer {}", "BEARER {}", "Bearer  {} "])
def test_the_bearer_scheme_is_matched_case_insensitively(
    client: httpx.Client, token: str, form: str
) -> None:
    answer = client.get("/api/v1/cases", headers={"Authorization": form.format(token)})

    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize("form", ["Token {}", "Bearer{}", "Bearer ", "Basic {}", "{}"])
def test_another_scheme_or_a_missing_token_is_401_with_a_bearer_challenge(
    client: httpx.Client, token: str, form: str
) -> None:
    answer = client.get("/api/v1/cases", headers={"Authorization": form.format(token)})

    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == "Bearer"
    assert answer.json()["error"]["code"] == "unauthorized"


def test_reporter_login_needs_a_solved_proof_of_work(
    client: httpx.Client, manifest: Manifest
) -> None:
    sub = new_case(client, manifest)
    body = reporter_login_body(client, manifest, sub.reporter)
    challenge = powmod.parse(body["challenge"])
    assert challenge.difficulty > 0
    wrong = next(
        b64e(n.to_bytes(8, "big"))
        for n in range(1000)
        if not powmod.solves(challenge, b64e(n.to_bytes(8, "big")))
    )

    refused = client.post("/api/v1/reporter/login", json={**body, "solution": wrong})
    accepted = client.post(
        "/api/v1/reporter/login", json=reporter_login_body(client, manifest, sub.reporter)
    )

    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "challenge_rejected"
    assert "token" not in refused.json()
    assert accepted.status_code == 200
