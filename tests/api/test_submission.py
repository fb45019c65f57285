"""Submitting a case through the API: acceptance, receipts, idempotency and refusals."""

from __future__ import annotations

import copy
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from safevoice.cases.models import Case, CaseObject, WrappedKey
from safevoice.crypto.manifest import Manifest
from safevoice.crypto.receipt import Receipt
from safevoice.instance.models import SpentChallenge
from safevoice.intake.models import IdempotencyKey
from safevoice.members.models import LoginSession
from safevoice.storage.db import Database
from tests.support.reporter import Submission, build_submission


def challenge(client: httpx.Client, purpose: str = "submit") -> str:
    response = client.post("/api/v1/challenges", json={"purpose": purpose})
    assert response.status_code == 200, response.text
    return str(response.json()["challenge"])


def submit(client: httpx.Client, body: Any, key: str = "k" * 20) -> httpx.Response:
    return client.post("/api/v1/cases", json=body, headers={"Idempotency-Key": key})


def counts(database: Database) -> dict[str, int]:
    with database.session(write=False) as session:
        return {
            model.__tablename__: session.scalar(select(func.count()).select_from(model)) or 0
            for model in (
                Case,
                CaseObject,
                WrappedKey,
                IdempotencyKey,
                SpentChallenge,
                LoginSession,
            )
        }


@pytest.fixture
def submission(client: httpx.Client, manifest: Manifest) -> Submission:
    return build_submission(manifest, challenge(client))


def test_a_valid_submission_is_stored_and_answered_with_a_signed_receipt(
    client: httpx.Client, database: Database, manifest: Manifest, submission: Submission
) -> None:
    response = submit(client, submission.body)

    assert response.status_code == 201, response.text
    answer = response.json()
    assert answer["case_id"] == submission.case_id
    receipt = Receipt.from_json(answer["receipt"])
    receipt.verify(manifest.receipt_key)
    assert receipt.report_hash == submission.case.report.transcript_hash()
    assert receipt.day == answer["received_on"]
    assert counts(database)["case_file"] == 1


def test_a_retry_with_the_same_key_and_body_returns_the_first_answer_and_one_case(
    client: httpx.Client, database: Database, submission: Submission
) -> None:
    first = submit(client, submission.body, key="retry-key-000000001")
    second = submit(client, submission.body, key="retry-key-000000001")

    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert counts(database)["case_file"] == 1


def test_the_same_key_with_another_body_is_a_conflict(
    client: httpx.Client, database: Database, manifest: Manifest, submission: Submission
) -> None:
    assert submit(client, submission.body, key="shared-key-00000001").status_code == 201
    other = build_submission(manifest, challenge(client), text="Another matter entirely.")

    response = submit(client, other.body, key="shared-key-00000001")

    assert response.status_code == 409
    assert "idempotency key" in response.json()["error"]["message"]
    assert counts(database)["case_file"] == 1


def test_a_lost_answer_is_recovered_by_the_client_retry_without_a_second_case(
    database: Database, database_url: str, manifest: Manifest
) -> None:
    from safevoice.client.api import Api
    from safevoice.client.patience import Patience
    from safevoice.settings import Settings
    from safevoice.web.app import create_app
    from tests.support.asgi import SyncASGITransport

    class LosesFirstAnswer(SyncASGITransport):
        lost = 0

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            response = super().handle_request(request)
            if request.url.path == "/api/v1/cases" and self.lost == 0:
                self.lost += 1
                raise httpx.ReadError("connection dropped before the answer arrived")
            return response

    transport = LosesFirstAnswer(create_app(Settings(database_url=database_url), database=database))
    api = Api("http://testserver", transport=transport)
    submission = build_submission(manifest, api.challenge("submit").challenge)

    answer = api.submit(
        submission.body,
        idempotency_key="lost-answer-0000001",
        patience=Patience(sleep=lambda _s: None),
    )

    assert transport.lost == 1
    assert answer.case_id == submission.case_id
    assert counts(database)["case_file"] == 1


def test_a_spent_challenge_is_refused_for_a_new_submission(
    client: httpx.Client, database: Database, manifest: Manifest, submission: Submission
) -> None:
    assert submit(client, submission.body, key="first-submission-01").status_code == 201
    again = build_submission(manifest, submission.body["proof"]["challenge"], text="Second.")

    response = submit(client, again.body, key="second-submission-1")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "challenge_rejected"
    assert "already used" in response.json()["error"]["message"]
    assert counts(database)["case_file"] == 1


MARK = "ECHOMARKER"


def _mutations(manifest: Manifest, client: httpx.Client) -> dict[str, Any]:
    """Each entry: a bad request body (or raw bytes) carrying MARK where it can."""
    base = build_submission(manifest, challenge(client)).body

    def changed(edit: Any) -> dict[str, Any]:
        body = copy.deepcopy(base)
        edit(body)
        return body

    def truncate(body: dict[str, Any]) -> None:
        body["case"]["report"]["ct"] = body["case"]["report"]["ct"][:-40]

    def oversize(body: dict[str, Any]) -> None:
        body["case"]["report"]["ct"] = "A" * 699_000 + MARK

    def unknown_channel(body: dict[str, Any]) -> None:
        body["case"]["channel"] = MARK.lower()

    def unknown_recipient(body: dict[str, Any]) -> None:
        body["case"]["wrapped_keys"][0]["recipient"] = f"member:{MARK.lower()}"

    def missing_proof(body: dict[str, Any]) -> None:
        del body["proof"]

    def forged_challenge(body: dict[str, Any]) -> None:
        token = body["proof"]["challenge"]
        body["proof"]["challenge"] = token[:-3] + ("AAA" if token[-3:] != "AAA" else "BBB")

    def bad_signature(body: dict[str, Any]) -> None:
        sig = body["case"]["report"]["sig"]
        body["case"]["report"]["sig"] = ("B" if sig[0] != "B" else "C") + sig[1:]

    def wrong_kind(body: dict[str, Any]) -> None:
        body["case"]["report"]["kind"] = MARK

    def unknown_field(body: dict[str, Any]) -> None:
        body["case"][MARK] = 1

    def number_as_text(body: dict[str, Any]) -> None:
        body["case"]["report"]["seq"] = "0"

    return {
        "unknown field": changed(unknown_field),
        "number as text": changed(number_as_text),
        "body over the size limit": b'{"x": "' + MARK.encode() * 300_000 + b'"}',
        "malformed json": b'{"proof": {"challenge": "' + MARK.encode() + b'"',
        "not an object": b'"' + MARK.encode() + b'"',
        "truncated envelope": changed(truncate),
        "oversize envelope": changed(oversize),
        "unknown channel": changed(unknown_channel),
        "unknown recipient": changed(unknown_recipient),
        "missing proof of work": changed(missing_proof),
        "forged challenge": changed(forged_challenge),
        "bad report signature": changed(bad_signature),
        "wrong object kind": changed(wrong_kind),
    }


def test_bad_submissions_get_a_clear_4xx_that_does_not_echo_and_store_nothing(
    client: httpx.Client, database: Database, manifest: Manifest
) -> None:
    before = counts(database)
    for name, body in _mutations(manifest, client).items():
        if isinstance(body, bytes):
            response = client.post(
                "/api/v1/cases",
                content=body,
                headers={
                    "Idempotency-Key": "bad-body-0000000001",
                    "Content-Type": "application/json",
                },
            )
        else:
            response = submit(client, body, key="bad-body-0000000001")
        assert 400 <= response.status_code < 500, (name, response.status_code, response.text)
        error = response.json()["error"]
        assert error["message"].endswith((".", ")")), (name, error)
        assert MARK not in response.text, name
        assert MARK.lower() not in response.text, name
    assert counts(database) == before


def test_an_expired_challenge_is_refused(
    client: httpx.Client, database: Database, manifest: Manifest
) -> None:
    from safevoice.crypto import pow as powmod
    from safevoice.instance.service import snapshot

    with database.session(write=False) as session:
        key = snapshot(session).challenge_key
    expired = powmod.issue(key, purpose="submit", difficulty=1, expires=1_000_000)
    body = build_submission(manifest, expired.token).body

    response = submit(client, body)

    assert response.status_code == 400
    assert "expired" in response.json()["error"]["message"]
    assert counts(database)["case_file"] == 0


def test_a_wrong_proof_of_work_is_refused(
    client: httpx.Client, database: Database, manifest: Manifest
) -> None:
    from safevoice.crypto import pow as powmod
    from safevoice.crypto.encoding import b64e

    token = challenge(client)
    parsed = powmod.parse(token)
    counter = next(
        n.to_bytes(8, "big")
        for n in range(1000)
        if not powmod.worked(parsed, b64e(n.to_bytes(8, "big") + bytes(8)))
    )
    wrong = b64e(counter + powmod._find_stamp(parsed, counter))
    body = build_submission(manifest, token).body
    body["proof"]["solution"] = wrong

    response = submit(client, body)

    assert response.status_code == 400
    assert "does not solve" in response.json()["error"]["message"]
    assert counts(database)["case_file"] == 0


def test_a_submission_for_a_challenge_of_another_purpose_is_refused(
    client: httpx.Client, database: Database, manifest: Manifest
) -> None:
    body = build_submission(manifest, challenge(client, "member-login")).body

    response = submit(client, body)

    assert response.status_code == 400
    assert "another purpose" in response.json()["error"]["message"]
    assert counts(database)["case_file"] == 0


def test_padding_makes_a_one_byte_report_and_a_full_bucket_the_same_size(
    client: httpx.Client, manifest: Manifest
) -> None:
    from safevoice.crypto.envelope import PAD_BUCKETS, bucket_for
    from tests.support.reporter import reporter_keys

    keys = reporter_keys(manifest)
    token = challenge(client)

    def sizes(text: str) -> tuple[int, int, int]:
        sub = build_submission(manifest, token, text=text, keys=keys)
        request = client.build_request(
            "POST", "/api/v1/cases", json=sub.body, headers={"Idempotency-Key": "k" * 20}
        )
        plaintext_bucket = bucket_for(len(sub.case.report.ct) - 16 - 1)
        return len(sub.case.report.ct), len(request.content), plaintext_bucket

    one = sizes("x")
    # Grow the text until the next byte would leave the smallest bucket.
    low, high = 1, PAD_BUCKETS[0]
    while low < high:
        middle = (low + high + 1) // 2
        if sizes("x" * middle)[0] == one[0]:
            low = middle
        else:
            high = middle - 1
    full = sizes("x" * low)
    over = sizes("x" * (low + 1))

    assert full[0] == one[0] == PAD_BUCKETS[0] + 16
    assert full[1] == one[1]
    assert over[0] > full[0]
    assert over[1] > full[1]


def test_with_the_database_unreachable_the_api_answers_503_not_500(db_kind: str) -> None:
    from safevoice.settings import Settings
    from safevoice.web.app import create_app
    from tests.support.asgi import client_for

    url = (
        "sqlite:////nonexistent-dir/for/safevoice.sqlite"
        if db_kind == "sqlite"
        else "postgresql+psycopg://postgres@127.0.0.1:1/none"
    )
    app = create_app(Settings(database_url=url))
    with client_for(app) as http:
        for method, path, body in (
            ("GET", "/api/v1/intake", None),
            ("POST", "/api/v1/challenges", {"purpose": "submit"}),
            ("POST", "/api/v1/cases", {"proof": {}, "case": {}}),
            ("GET", "/api/v1/manifest", None),
        ):
            response = http.request(method, path, json=body, headers={"Idempotency-Key": "x" * 20})
            if path == "/api/v1/cases":
                assert response.status_code in (422, 503)
                continue
            assert response.status_code == 503, (path, response.text)
            assert response.headers["retry-after"]
            assert "nothing was lost" in response.json()["error"]["message"]


def test_a_full_valid_submission_through_the_service_writes_all_rows_in_one_go(
    client: httpx.Client, database: Database, submission: Submission
) -> None:
    assert submit(client, submission.body).status_code == 201
    after = counts(database)
    assert after["case_file"] == 1
    assert after["case_object"] == 1
    assert after["wrapped_key"] == len(submission.body["case"]["wrapped_keys"])
    assert after["idempotency_key"] == 1
    assert after["spent_challenge"] == 1
