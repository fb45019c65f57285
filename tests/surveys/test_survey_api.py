"""Pulse surveys through the API on SQLite and PostgreSQL: who may publish, open and read,
when answers are taken, and that nothing stored links an answer to a time or a person."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import inspect, select

from safevoice.audit.models import AuditEntry, AuditStaging
from safevoice.clock import utcnow
from safevoice.crypto import pow as powmod
from safevoice.crypto.keys import KeyPair, generate
from safevoice.crypto.manifest import Manifest
from safevoice.crypto.survey import (
    Answer,
    SealedAnswer,
    Survey,
    new_survey_id,
    open_answer,
    seal_answer,
    sign_survey,
)
from safevoice.storage.db import Database
from safevoice.surveys.models import SurveyAnswer
from tests.api.test_login import login
from tests.support.canary import new_canary, scan_paths
from tests.support.databases import data_paths
from tests.support.world import World


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def alice(client: httpx.Client, manifest: Manifest, world: World) -> dict[str, str]:
    return bearer(login(client, world.members["alice"], manifest))


def survey_for(
    manifest: Manifest, *, author: str = "alice", days: int = 7, channels: tuple[str, ...] = ()
) -> Survey:
    today = utcnow().date()
    return Survey(
        instance_id=manifest.instance_id,
        survey_id=new_survey_id(),
        title="Speaking up",
        opens_on=today - timedelta(days=1),
        closes_on=today + timedelta(days=days),
        channels=channels,
        questions=("I can raise a concern without fear.", "Concerns raised are acted on."),
        free_text="Anything else?",
        author=author,
    )


def publish(
    client: httpx.Client, headers: dict[str, str], survey: Survey, keys: KeyPair
) -> httpx.Response:
    return client.post("/api/v1/surveys", json=sign_survey(survey, keys).to_json(), headers=headers)


def opened(client: httpx.Client, headers: dict[str, str], survey: Survey, keys: KeyPair) -> None:
    assert publish(client, headers, survey, keys).status_code == 201
    response = client.post(f"/api/v1/surveys/{survey.survey_id}/open", headers=headers)
    assert response.status_code == 200, response.text


def answer(
    client: httpx.Client, manifest: Manifest, survey: Survey, given: Answer
) -> httpx.Response:
    listing = client.get("/api/v1/surveys")
    assert listing.status_code == 200, listing.text
    challenge = powmod.parse(listing.json()["challenge"]["challenge"])
    body = {
        "proof": {"challenge": challenge.token, "solution": powmod.solve(challenge)},
        "answer": seal_answer(survey, manifest, given).to_json(),
    }
    return client.post(f"/api/v1/surveys/{survey.survey_id}/answers", json=body)


def stored(client: httpx.Client, headers: dict[str, str], survey: Survey) -> list[dict[str, Any]]:
    response = client.get(f"/api/v1/surveys/{survey.survey_id}/answers", headers=headers)
    assert response.status_code == 200, response.text
    answers: list[dict[str, Any]] = response.json()["answers"]
    return answers


def test_a_published_and_opened_survey_takes_answers_that_only_members_decrypt(
    client: httpx.Client, manifest: Manifest, world: World, alice: dict[str, str]
) -> None:
    survey = survey_for(manifest)
    assert publish(client, alice, survey, world.members["alice"]).status_code == 201
    assert client.get("/api/v1/surveys").json()["surveys"] == []  # published, not yet open
    refused = answer(client, manifest, survey, Answer(scores=(4, 4)))
    assert refused.status_code == 409

    client.post(f"/api/v1/surveys/{survey.survey_id}/open", headers=alice)
    listed = client.get("/api/v1/surveys").json()["surveys"]
    assert [s["survey_id"] for s in listed] == [survey.survey_id]
    given = [Answer(scores=(4, 2)), Answer(scores=(5, None), free_text="More time, please.")]
    for one in given:
        assert answer(client, manifest, survey, one).status_code == 204

    rows = stored(client, alice, survey)
    opened_ = [open_answer(survey, SealedAnswer.from_json(r), world.members["bob"]) for r in rows]
    assert sorted(opened_, key=repr) == sorted(given, key=repr)
    # Nobody but a logged-in member lists the ciphertexts; an auditor gets none either.
    assert client.get(f"/api/v1/surveys/{survey.survey_id}/answers").status_code == 401
    auditor = bearer(login(client, world.auditor, manifest, role="auditor"))
    assert (
        client.get(f"/api/v1/surveys/{survey.survey_id}/answers", headers=auditor).status_code
        == 403
    )


def test_a_closed_survey_takes_no_answer_and_is_never_reopened(
    client: httpx.Client, manifest: Manifest, world: World, alice: dict[str, str]
) -> None:
    survey = survey_for(manifest)
    opened(client, alice, survey, world.members["alice"])
    assert (
        client.post(f"/api/v1/surveys/{survey.survey_id}/close", headers=alice).status_code == 200
    )

    assert answer(client, manifest, survey, Answer(scores=(3, 3))).status_code == 409
    reopen = client.post(f"/api/v1/surveys/{survey.survey_id}/open", headers=alice)
    assert reopen.status_code == 409
    assert "cannot be open" in reopen.json()["error"]["message"]


def test_a_survey_naming_a_channel_the_instance_lacks_is_refused_and_nothing_is_stored(
    client: httpx.Client, manifest: Manifest, world: World, alice: dict[str, str]
) -> None:
    unknown = survey_for(manifest, channels=("safety", "night-shift"))
    refused = publish(client, alice, unknown, world.members["alice"])
    assert refused.status_code == 400
    message = refused.json()["error"]["message"]
    assert "names a channel this instance does not have: night-shift." in message
    assert "Its channels are: general, safety." in message
    listed = client.get("/api/v1/surveys/all", headers=alice)
    assert listed.status_code == 200, listed.text
    assert unknown.survey_id not in listed.text

    known = survey_for(manifest, channels=("safety",))
    assert publish(client, alice, known, world.members["alice"]).status_code == 201


def test_forged_survey_documents_are_refused(
    client: httpx.Client, manifest: Manifest, world: World, alice: dict[str, str]
) -> None:
    stranger = generate("member", "alice", "Not Alice")
    assert publish(client, alice, survey_for(manifest), stranger).status_code == 400

    document = sign_survey(survey_for(manifest), world.members["alice"]).to_json()
    document["signer"] = "member:bob"
    assert client.post("/api/v1/surveys", json=document, headers=alice).status_code == 400

    # Publishing is for members: the document alone is not enough.
    valid = sign_survey(survey_for(manifest), world.members["alice"]).to_json()
    assert client.post("/api/v1/surveys", json=valid).status_code == 401


def test_an_answer_must_carry_a_key_for_every_member_and_a_fresh_proof_of_work(
    client: httpx.Client, manifest: Manifest, world: World, alice: dict[str, str]
) -> None:
    survey = survey_for(manifest)
    opened(client, alice, survey, world.members["alice"])
    challenge = powmod.parse(client.get("/api/v1/surveys").json()["challenge"]["challenge"])
    proof = {"challenge": challenge.token, "solution": powmod.solve(challenge)}
    sealed = seal_answer(survey, manifest, Answer(scores=(1, 1))).to_json()
    short = {**sealed, "wraps": sealed["wraps"][1:]}
    url = f"/api/v1/surveys/{survey.survey_id}/answers"

    assert client.post(url, json={"proof": proof, "answer": short}).status_code == 400
    assert client.post(url, json={"proof": proof, "answer": sealed}).status_code == 204
    replay = client.post(url, json={"proof": proof, "answer": sealed})
    assert replay.status_code == 400
    assert "already used" in replay.json()["error"]["message"]
    submit = powmod.parse(
        client.post("/api/v1/challenges", json={"purpose": "submit"}).json()["challenge"]
    )
    wrong_purpose = {"challenge": submit.token, "solution": powmod.solve(submit)}
    assert client.post(url, json={"proof": wrong_purpose, "answer": sealed}).status_code == 400


def test_a_stored_answer_row_holds_nothing_that_links_it_to_a_time_a_person_or_a_case(
    client: httpx.Client,
    database: Database,
    manifest: Manifest,
    world: World,
    alice: dict[str, str],
) -> None:
    survey = survey_for(manifest)
    opened(client, alice, survey, world.members["alice"])
    with database.session(write=False) as session:
        before_entries = len(session.scalars(select(AuditEntry.seq)).all())
        before_staged = len(session.scalars(select(AuditStaging.id)).all())
    for scores in ((1, 2), (3, 4), (5, 5)):
        assert answer(client, manifest, survey, Answer(scores=scores)).status_code == 204

    columns = {c["name"] for c in inspect(database.writer).get_columns("survey_answer")}
    assert columns == {"id", "survey_id", "sealed"}
    with database.session(write=False) as session:
        rows = session.scalars(select(SurveyAnswer)).all()
        # No audit entry, staged or chained, marks when an answer came.
        assert len(session.scalars(select(AuditEntry.seq)).all()) == before_entries
        assert len(session.scalars(select(AuditStaging.id)).all()) == before_staged
    assert len(rows) == 3
    ids = [row.id for row in rows]
    assert len(set(ids)) == 3
    assert all(len(i) == 22 for i in ids)
    # The sealed answer is the client's {nonce, ct, wraps} and nothing the server added.
    for row in rows:
        assert set(SealedAnswer.from_json(json.loads(row.sealed)).to_json()) == {
            "nonce",
            "ct",
            "wraps",
        }


def test_a_canary_in_a_free_text_reaches_neither_the_database_nor_the_logs(
    client: httpx.Client,
    database: Database,
    database_url: str,
    manifest: Manifest,
    world: World,
    alice: dict[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    canary = new_canary()
    survey = survey_for(manifest)
    opened(client, alice, survey, world.members["alice"])
    assert (
        answer(client, manifest, survey, Answer(scores=(2, 3), free_text=canary)).status_code == 204
    )
    assert stored(client, alice, survey)

    assert scan_paths(data_paths(database_url), canary) == []
    assert canary not in caplog.text
