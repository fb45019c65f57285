"""Schemathesis against the app's own OpenAPI schema: every operation, as every kind of caller.

Each generated request is sent as it was generated (no credentials or a random bearer token)
and again with the session of a reporter, a member and an auditor who logged in through the
real protocol, on the case the reporter really sent and an upload really open where the path
names a ``case_id`` or an ``upload_id``. Every answer must be no 5xx, have a status the schema
declares for the operation (web/answers.py), and the body and content type the schema declares
for that status.

On SQLite and PostgreSQL. A short run by default: 3 examples per operation, the first of them
also sent as each session (about a minute per database, as long as the run without sessions
took). A long run with, for example, SAFEVOICE_FUZZ_EXAMPLES=200 sends every example as every
session and lifts the per-test timeout.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from safevoice.crypto import pow as powmod
from safevoice.crypto.encoding import b64e
from safevoice.crypto.envelope import new_case_id
from safevoice.crypto.manifest import Manifest
from safevoice.settings import Settings
from safevoice.storage.db import Database
from safevoice.web.app import create_app
from tests.api.test_login import login as member_login
from tests.api.test_submission import challenge
from tests.dialogue.test_dialogue_api import new_case, reporter_token
from tests.support.asgi import client_for
from tests.support.world import World

DEFAULT_EXAMPLES = 3
EXAMPLES = int(os.environ.get("SAFEVOICE_FUZZ_EXAMPLES", DEFAULT_EXAMPLES))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    response_schema_conformance,
    content_type_conformance,
]


@pytest.fixture
def fuzz_app(database: Database, database_url: str, blob_spec: str) -> FastAPI:
    settings_ = Settings(database_url=database_url, snapshot_ttl_seconds=0, blob_store=blob_spec)
    return create_app(settings_, database=database)


@pytest.fixture
def api_schema(fuzz_app: FastAPI) -> Any:
    return schemathesis.openapi.from_asgi("/api/v1/openapi.json", fuzz_app)


@pytest.fixture
def callers(fuzz_app: FastAPI, manifest: Manifest, world: World) -> Iterator[dict[str, Any]]:
    """Bearer tokens of a reporter (who sent a case), a member and an auditor, that case and
    an upload open for another case."""
    with client_for(fuzz_app) as http:
        sent = new_case(http, manifest)
        yield {
            "case_id": sent.case_id,
            "upload_id": open_upload(http),
            "called": set(),
            "tokens": {
                "reporter": reporter_token(http, manifest, sent.reporter),
                "member": member_login(http, world.members["alice"], manifest),
                "auditor": member_login(http, world.auditor, manifest, role="auditor"),
            },
        }


schema = schemathesis.pytest.from_fixture("api_schema")


def open_upload(http: httpx.Client) -> str:
    """An upload started with a solved proof of work, as a reporter's client starts one."""
    parsed = powmod.parse(challenge(http, "upload"))
    proof = {"challenge": parsed.token, "solution": powmod.solve(parsed)}
    started = http.post("/api/v1/uploads", json={"case_id": b64e(new_case_id()), "proof": proof})
    assert started.status_code == 201, started.text
    return str(started.json()["id"])


def as_caller(case: Any, token: str | None) -> dict[str, Any]:
    """The generated headers, with this caller's bearer token instead of the generated one."""
    headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return headers


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
# Every operation runs inside this one test: the suite's timeout fits the default run only.
@pytest.mark.timeout(0 if EXAMPLES > DEFAULT_EXAMPLES else 300)
def test_every_operation_answers_every_caller_within_its_schema(
    case: Any, callers: dict[str, Any]
) -> None:
    case.call_and_validate(checks=CHECKS)
    # The default run sends one example of each operation as each session (a long run: all).
    if EXAMPLES <= DEFAULT_EXAMPLES and case.operation.label in callers["called"]:
        return
    callers["called"].add(case.operation.label)
    generated = dict(case.headers or {})
    # The sessions call on the real case or upload where the path names one: on a random id
    # every role would only meet the same 404.
    real = {k: callers[k] for k in ("case_id", "upload_id") if k in (case.path_parameters or {})}
    case.path_parameters = {**(case.path_parameters or {}), **real}
    for token in callers["tokens"].values():
        case.headers = as_caller(case, token)
        case.call_and_validate(checks=CHECKS)
    case.headers = generated


def test_the_schema_declares_the_refusals_each_operation_can_give(fuzz_app: FastAPI) -> None:
    """Error answers are documented with the one error body, per what each operation takes."""
    with client_for(fuzz_app) as http:
        document = http.get("/api/v1/openapi.json").json()
    paths = document["paths"]
    error = {"$ref": "#/components/schemas/ErrorOut"}

    for path, operations in paths.items():
        for method, operation in operations.items():
            for status in ("413", "503", "507"):
                assert status in operation["responses"], (
                    f"{method.upper()} {path} declares no {status}: its router needs "
                    "route_class=DeclaredRoute (web/answers.py)"
                )
                body = operation["responses"][status]["content"]["application/json"]["schema"]
                assert body == error
    assert {"401", "403", "404", "422"} <= set(paths["/api/v1/cases/{case_id}"]["get"]["responses"])
    assert "401" not in paths["/api/v1/manifest"]["get"]["responses"]
    assert "403" not in paths["/api/v1/logout"]["post"]["responses"]
    assert "409" in paths["/api/v1/cases"]["post"]["responses"]
    assert document["components"]["schemas"]["ErrorOut"]["required"] == ["error"]
    assert "HTTPValidationError" not in document["components"]["schemas"]
