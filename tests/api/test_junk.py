"""Junk costs the sender at least what it costs the server.

An answer to a proof-of-work challenge is checked in two stages: a stamp (one BLAKE2b, which
took the sender about 2**15) and only then one Argon2id. A challenge answered wrongly is spent
by that first wrong answer, and no worker runs Argon2id twice for one challenge, so replaying a
wrong (or right) answer costs the server a lookup. None of it writes to the database.
"""

from __future__ import annotations

import httpx
import pytest

from safevoice.crypto import pow as powmod
from safevoice.crypto.encoding import b64d, b64e, u64
from safevoice.crypto.manifest import Manifest
from safevoice.storage.db import Database
from tests.api.test_submission import challenge, counts, submit
from tests.support.reporter import build_submission


@pytest.fixture
def argon2_calls(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Every Argon2id evaluation of the proof of work, in this process."""
    calls: list[bytes] = []
    real = powmod._work

    def counted(challenge: powmod.Challenge, counter: bytes) -> bytes:
        calls.append(counter)
        return real(challenge, counter)

    monkeypatch.setattr(powmod, "_work", counted)
    return calls


def wrong_but_stamped(token: str) -> str:
    """A counter that fails the Argon2id stage, with a valid stamp: the costliest junk."""
    parsed = powmod.parse(token)
    for n in range(1000):
        counter = u64(n)
        if not powmod.worked(parsed, b64e(counter + bytes(8))):
            return b64e(counter + powmod._find_stamp(parsed, counter))
    raise AssertionError("no failing counter")


def test_an_answer_without_a_valid_stamp_is_refused_before_any_argon2id(
    client: httpx.Client, database: Database, manifest: Manifest, argon2_calls: list[bytes]
) -> None:
    before = counts(database)
    for _ in range(5):
        token = challenge(client)
        body = build_submission(manifest, token).body
        body["proof"]["solution"] = b64e(b64d(body["proof"]["solution"])[:8] + bytes(8))
        if powmod.stamped(powmod.parse(token), body["proof"]["solution"]):
            continue  # a zero stamp that happens to be valid (one in 2**15)
        argon2_calls.clear()

        response = submit(client, body)

        assert response.status_code == 400
        assert "does not solve" in response.json()["error"]["message"]
        assert argon2_calls == []
    assert counts(database) == before


def test_a_challenge_is_spent_by_its_first_wrong_answer(
    client: httpx.Client, database: Database, manifest: Manifest, argon2_calls: list[bytes]
) -> None:
    before = counts(database)
    token = challenge(client)
    honest = build_submission(manifest, token).body
    junk = build_submission(manifest, token).body
    junk["proof"]["solution"] = wrong_but_stamped(token)
    argon2_calls.clear()

    first = submit(client, junk, key="junk-" + "j" * 16)
    replays = [submit(client, junk, key=f"junk-{i:016d}") for i in range(5)]
    right_answer_too_late = submit(client, honest, key="h" * 20)

    assert first.status_code == 400
    assert "does not solve" in first.json()["error"]["message"]
    for refused in [*replays, right_answer_too_late]:
        assert refused.status_code == 400
        assert "already answered wrongly" in refused.json()["error"]["message"]
    # One Argon2id for the whole lot, and nothing written anywhere.
    assert len(argon2_calls) == 1
    assert counts(database) == before


def test_a_retried_right_answer_is_not_checked_twice_and_makes_one_case(
    client: httpx.Client, database: Database, manifest: Manifest, argon2_calls: list[bytes]
) -> None:
    body = build_submission(manifest, challenge(client)).body
    argon2_calls.clear()

    first = submit(client, body, key="r" * 20)
    retry = submit(client, body, key="r" * 20)

    assert first.status_code == 201, first.text
    assert retry.status_code == 201
    assert retry.json() == first.json()
    assert len(argon2_calls) == 1
    assert counts(database)["case_file"] == 1


def test_a_wrong_login_answer_spends_the_challenge_without_a_database_write(
    client: httpx.Client, database: Database, argon2_calls: list[bytes]
) -> None:
    token = challenge(client, "reporter-login")
    wrong = wrong_but_stamped(token)
    body = {
        "sign_key": b64e(bytes(32)),
        "challenge": token,
        "solution": wrong,
        "signature": b64e(bytes(64)),
    }
    before = counts(database)
    argon2_calls.clear()

    answers = [client.post("/api/v1/reporter/login", json=body) for _ in range(4)]

    assert [a.status_code for a in answers] == [400] * 4
    assert "already answered wrongly" in answers[-1].json()["error"]["message"]
    assert len(argon2_calls) == 1
    assert counts(database) == before
