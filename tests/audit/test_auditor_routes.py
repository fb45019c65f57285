"""An auditor reads metadata, the audit log and checkpoints, and nothing that is ciphertext.

The test walks every route the application has, including those left out of the OpenAPI
schema, and fails if a route is in none of the lists below: a new route must be classified
before it ships. Every content route is called with an auditor token and with a member token
and the same real ids; the auditor must be refused, the member must not be.
"""

from __future__ import annotations

import httpx
import pytest

from safevoice.crypto.manifest import Manifest
from tests.api.test_login import login
from tests.api.test_submission import challenge, submit
from tests.support.reporter import build_submission
from tests.support.world import World
from tests.surveys.test_survey_api import publish, survey_for
from tests.web.test_headers import app_routes

# Routes anyone may call without a session (the reporter's pages and the public API).
PUBLIC = {
    ("GET", "/"),
    ("GET", "/report/{channel}"),
    ("POST", "/report/{channel}"),
    ("GET", "/follow-up"),
    ("POST", "/follow-up"),
    ("GET", "/static/{name}"),
    ("GET", "/bundle.json"),
    ("GET", "/api/v1/manifest"),
    ("GET", "/api/v1/manifest/handovers"),
    ("GET", "/api/v1/channels"),
    ("GET", "/api/v1/intake"),
    ("GET", "/api/v1/openapi.json"),
    ("POST", "/api/v1/challenges"),
    ("POST", "/api/v1/cases"),
    ("POST", "/api/v1/login"),
    ("POST", "/api/v1/reporter/login"),
    ("GET", "/api/v1/ready"),
    # Pulse surveys: staff answer anonymously, as they report.
    ("GET", "/surveys"),
    ("GET", "/survey/{survey_id}"),
    ("POST", "/survey/{survey_id}"),
    ("GET", "/api/v1/surveys"),
    ("POST", "/api/v1/surveys/{survey_id}/answers"),
}
# Metadata an auditor may read: statistics, the log, checkpoints and retention state (and the
# countersignature an auditor adds).
AUDITOR_MAY = {
    ("GET", "/api/v1/stats"),
    ("GET", "/api/v1/audit/checkpoint"),
    ("GET", "/api/v1/audit/checkpoints"),
    ("GET", "/api/v1/audit/entries"),
    ("GET", "/api/v1/retention"),
    ("POST", "/api/v1/audit/checkpoints/{seq}/countersignatures"),
    ("POST", "/api/v1/logout"),
}
# Ciphertext, messages, attachments, wrapped keys and the case workflow (legal holds included):
# never for an auditor.
CONTENT = {
    ("GET", "/api/v1/cases"),
    ("GET", "/api/v1/cases/export"),
    ("GET", "/api/v1/cases/{case_id}"),
    ("POST", "/api/v1/cases/{case_id}/objects"),
    ("POST", "/api/v1/cases/{case_id}/status"),
    ("POST", "/api/v1/cases/{case_id}/claim"),
    ("POST", "/api/v1/cases/{case_id}/rekey"),
    ("POST", "/api/v1/cases/{case_id}/disclosure"),
    ("POST", "/api/v1/cases/{case_id}/redactions"),
    ("POST", "/api/v1/cases/{case_id}/actions"),
    ("PATCH", "/api/v1/actions/{action_id}"),
    ("GET", "/api/v1/actions"),
    ("POST", "/api/v1/uploads"),
    ("GET", "/api/v1/uploads/{upload_id}"),
    ("PUT", "/api/v1/uploads/{upload_id}/chunks/{index}"),
    ("POST", "/api/v1/uploads/{upload_id}/finish"),
    ("GET", "/api/v1/uploads/{upload_id}/chunks/{index}"),
    ("POST", "/api/v1/cases/{case_id}/hold"),
    ("DELETE", "/api/v1/cases/{case_id}/hold"),
    # Surveys' encrypted answers and the lessons' encrypted summaries are the committee's.
    ("GET", "/api/v1/surveys/all"),
    ("POST", "/api/v1/surveys"),
    ("POST", "/api/v1/surveys/{survey_id}/open"),
    ("POST", "/api/v1/surveys/{survey_id}/close"),
    ("GET", "/api/v1/surveys/{survey_id}/answers"),
    ("GET", "/api/v1/lessons"),
    ("POST", "/api/v1/lessons"),
    ("POST", "/api/v1/lessons/{lesson_id}/approvals"),
    ("POST", "/api/v1/cases/{case_id}/recuse"),  # last: it ends the member's access
}

# The reporter's own session routes (follow-up code): neither members nor auditors.
REPORTER = {
    ("GET", "/api/v1/reporter/case"),
    ("POST", "/api/v1/reporter/objects"),
}


def test_every_route_is_classified_for_auditors(client: httpx.Client) -> None:
    routes = app_routes(client)
    unclassified = routes - PUBLIC - AUDITOR_MAY - CONTENT - REPORTER

    assert unclassified == set(), "classify these routes for auditors"
    assert not (PUBLIC & CONTENT)
    assert not (AUDITOR_MAY & CONTENT)
    assert not (PUBLIC & AUDITOR_MAY)
    assert routes >= CONTENT | AUDITOR_MAY


@pytest.fixture
def tokens(client: httpx.Client, manifest: Manifest, world: World) -> dict[str, str]:
    return {
        "member": login(client, world.members["alice"], manifest),
        "auditor": login(client, world.auditor, manifest, role="auditor"),
    }


def test_an_auditor_is_refused_by_every_content_route_a_member_may_use(
    client: httpx.Client, manifest: Manifest, world: World, tokens: dict[str, str]
) -> None:
    case_id = build_submission(manifest, challenge(client)).body
    assert submit(client, case_id).status_code == 201
    case = case_id["case"]["id"]
    member = {"Authorization": f"Bearer {tokens['member']}"}
    auditor = {"Authorization": f"Bearer {tokens['auditor']}"}
    upload = client.post("/api/v1/uploads", json={"case_id": case}, headers=member)
    assert upload.status_code == 201, upload.text
    survey = survey_for(manifest)
    assert publish(client, member, survey, world.members["alice"]).status_code == 201
    ids = {
        "case_id": case,
        "upload_id": upload.json()["id"],
        "action_id": case,
        "index": "0",
        "survey_id": survey.survey_id,
        "lesson_id": case,
    }
    bodies: dict[str, object] = {
        "/api/v1/uploads": {"case_id": case},
        "/api/v1/uploads/{upload_id}/finish": {"chunks": 1},
    }

    ordered = sorted(CONTENT | REPORTER, key=lambda r: r[1].endswith("/recuse"))
    for method, template in ordered:
        path = template.format(**ids)
        body = bodies.get(template, {} if method in ("POST", "PATCH") else None)
        kwargs: dict[str, object] = (
            {"content": b"x" * 64} if method == "PUT" else {"json": body} if body else {}
        )
        refused = client.request(method, path, headers=auditor, **kwargs)  # type: ignore[arg-type]  # parametrised request options as a dict; httpx checks them at run time
        allowed = client.request(method, path, headers=member, **kwargs)  # type: ignore[arg-type]  # parametrised request options as a dict; httpx checks them at run time

        where = f"{method} {template}"
        assert refused.status_code == 403, f"{where}: {refused.status_code} {refused.text}"
        if (method, template) in REPORTER:
            assert allowed.status_code == 403, where
            continue
        assert allowed.status_code not in (401, 403), f"{where}: member got {allowed.text}"
        if method == "GET" and "chunks" not in template:
            assert allowed.status_code == 200, f"{where}: member got {allowed.text}"


def test_an_auditor_reads_statistics_checkpoints_and_the_log(
    client: httpx.Client, tokens: dict[str, str]
) -> None:
    auditor = {"Authorization": f"Bearer {tokens['auditor']}"}

    answers = [
        client.get(path, headers=auditor) for method, path in sorted(AUDITOR_MAY) if method == "GET"
    ]

    assert [a.status_code for a in answers] == [200] * 5
    assert answers[2].json()["entries"]  # the audit log's entries as stored bytes
