"""No short-lived row joins a case to a time of day: a reporter's session row holds no case id,
and an idempotency record (whose stored answer names the case) expires on a whole day."""

from __future__ import annotations

from datetime import time

import httpx
from sqlalchemy import select

from safevoice.clock import aware
from safevoice.crypto.manifest import Manifest
from safevoice.intake.models import IdempotencyKey
from safevoice.members.models import LoginSession
from safevoice.storage.db import Database
from tests.dialogue.test_dialogue_api import bearer, new_case, reporter_token
from tests.retention.support import tables_mentioning


def test_a_reporter_session_row_names_no_case_and_the_token_still_opens_only_its_case(
    client: httpx.Client, database: Database, manifest: Manifest
) -> None:
    sub = new_case(client, manifest)
    other = new_case(client, manifest, text="Another report.")

    token = reporter_token(client, manifest, sub.reporter)

    with database.session(write=False) as session:
        rows = list(session.scalars(select(LoginSession).where(LoginSession.role == "reporter")))
    assert len(rows) == 1
    assert sub.case_id not in rows[0].subject
    assert "login_session" not in tables_mentioning(database, sub.case_id)
    view = client.get("/api/v1/reporter/case", headers=bearer(token))
    assert view.status_code == 200
    assert view.json()["case"]["id"] == sub.case_id
    # The case id in the token is covered by its stored digest: swapping it ends the session.
    _, _, secret = token.partition(".")
    for forged in (f"{other.case_id}.{secret}", secret, f".{secret}", f"{other.case_id}.{token}"):
        answer = client.get("/api/v1/reporter/case", headers=bearer(forged))
        assert answer.status_code == 401, forged
        assert other.case_id not in answer.text


def test_an_idempotency_record_expires_on_a_whole_day(
    client: httpx.Client, database: Database, manifest: Manifest
) -> None:
    sub = new_case(client, manifest)

    with database.session(write=False) as session:
        records = list(session.scalars(select(IdempotencyKey)))
    assert len(records) == 1
    assert sub.case_id.encode() in bytes(records[0].response)
    assert aware(records[0].expires_at).timetz().replace(tzinfo=None) == time(0)
