"""Every answer of the app carries the security headers, and no page refers to another origin.

The walk covers every route the app has (the test fails if a route is added without being
walked), plus 404, 405, 413, 422 and the bundle's static files.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from safevoice.settings import Settings
from safevoice.storage.db import Database
from safevoice.web.app import create_app
from safevoice.web.bundle import Bundle
from safevoice.web.security import API_CSP, PAGE_CSP, page_csp
from safevoice.web.verify import external_references, scan_html
from tests.support.asgi import client_for

EXPECTED = {
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "cache-control": "no-store",
}
CASE = "AAAAAAAAAAAAAAAAAAAAAA"

# How the walk calls each route: (method, path template) → requests (path, body) to make.
WALK: dict[tuple[str, str], list[tuple[str, dict[str, object] | None]]] = {
    ("GET", "/"): [("/", None)],
    ("GET", "/report/{channel}"): [("/report/general", None), ("/report/nowhere", None)],
    ("POST", "/report/{channel}"): [("/report/general", {"text": "x"})],
    ("GET", "/follow-up"): [("/follow-up", None)],
    ("POST", "/follow-up"): [("/follow-up", {"code": "x"})],
    ("GET", "/static/{name}"): [("/static/nothing.js", None)],
    ("GET", "/bundle.json"): [("/bundle.json", None)],
    ("GET", "/api/v1/manifest"): [("/api/v1/manifest", None)],
    ("GET", "/api/v1/manifest/handovers"): [("/api/v1/manifest/handovers", None)],
    ("GET", "/api/v1/channels"): [("/api/v1/channels", None)],
    ("GET", "/api/v1/intake"): [("/api/v1/intake", None)],
    ("GET", "/api/v1/ready"): [("/api/v1/ready", None)],
    ("POST", "/api/v1/challenges"): [
        ("/api/v1/challenges", {"purpose": "submit"}),
        ("/api/v1/challenges", {"purpose": 1, "extra": True}),
    ],
    ("POST", "/api/v1/cases"): [("/api/v1/cases", {"proof": {}})],
    ("POST", "/api/v1/login"): [("/api/v1/login", {})],
    ("POST", "/api/v1/logout"): [("/api/v1/logout", None)],
    ("GET", "/api/v1/cases"): [("/api/v1/cases", None)],
    ("GET", "/api/v1/cases/{case_id}"): [
        (f"/api/v1/cases/{CASE}", None),
        ("/api/v1/cases/x", None),
    ],
    ("GET", "/api/v1/openapi.json"): [("/api/v1/openapi.json", None)],
    ("GET", "/api/v1/cases/export"): [("/api/v1/cases/export", None)],
    ("POST", "/api/v1/cases/{case_id}/objects"): [(f"/api/v1/cases/{CASE}/objects", {})],
    ("POST", "/api/v1/cases/{case_id}/status"): [(f"/api/v1/cases/{CASE}/status", {})],
    ("POST", "/api/v1/cases/{case_id}/claim"): [(f"/api/v1/cases/{CASE}/claim", {})],
    ("POST", "/api/v1/cases/{case_id}/recuse"): [(f"/api/v1/cases/{CASE}/recuse", None)],
    ("POST", "/api/v1/cases/{case_id}/disclosure"): [(f"/api/v1/cases/{CASE}/disclosure", {})],
    ("POST", "/api/v1/cases/{case_id}/redactions"): [(f"/api/v1/cases/{CASE}/redactions", {})],
    ("POST", "/api/v1/cases/{case_id}/rekey"): [(f"/api/v1/cases/{CASE}/rekey", {})],
    ("POST", "/api/v1/cases/{case_id}/actions"): [(f"/api/v1/cases/{CASE}/actions", {})],
    ("PATCH", "/api/v1/actions/{action_id}"): [(f"/api/v1/actions/{CASE}", {})],
    ("GET", "/api/v1/actions"): [("/api/v1/actions", None)],
    ("GET", "/api/v1/stats"): [("/api/v1/stats", None)],
    ("GET", "/api/v1/audit/checkpoint"): [("/api/v1/audit/checkpoint", None)],
    ("GET", "/api/v1/audit/checkpoints"): [("/api/v1/audit/checkpoints", None)],
    ("GET", "/api/v1/audit/entries"): [("/api/v1/audit/entries", None)],
    ("POST", "/api/v1/audit/checkpoints/{seq}/countersignatures"): [
        ("/api/v1/audit/checkpoints/0/countersignatures", {})
    ],
    ("POST", "/api/v1/reporter/login"): [("/api/v1/reporter/login", {})],
    ("GET", "/api/v1/reporter/case"): [("/api/v1/reporter/case", None)],
    ("POST", "/api/v1/reporter/objects"): [("/api/v1/reporter/objects", {})],
    ("POST", "/api/v1/uploads"): [("/api/v1/uploads", {"case_id": CASE})],
    ("GET", "/api/v1/uploads/{upload_id}"): [(f"/api/v1/uploads/{CASE}", None)],
    ("PUT", "/api/v1/uploads/{upload_id}/chunks/{index}"): [
        (f"/api/v1/uploads/{CASE}/chunks/0", None)
    ],
    ("POST", "/api/v1/uploads/{upload_id}/finish"): [
        (f"/api/v1/uploads/{CASE}/finish", {"chunks": 1})
    ],
    ("GET", "/api/v1/uploads/{upload_id}/chunks/{index}"): [
        (f"/api/v1/uploads/{CASE}/chunks/0", None)
    ],
    ("POST", "/api/v1/cases/{case_id}/hold"): [(f"/api/v1/cases/{CASE}/hold", {"reason": "x"})],
    ("DELETE", "/api/v1/cases/{case_id}/hold"): [(f"/api/v1/cases/{CASE}/hold", None)],
    ("GET", "/api/v1/retention"): [("/api/v1/retention", None)],
    ("GET", "/surveys"): [("/surveys", None)],
    ("GET", "/survey/{survey_id}"): [(f"/survey/{CASE}", None)],
    ("POST", "/survey/{survey_id}"): [(f"/survey/{CASE}", {"q0": "3"})],
    ("GET", "/api/v1/surveys"): [("/api/v1/surveys", None)],
    ("GET", "/api/v1/surveys/all"): [("/api/v1/surveys/all", None)],
    ("POST", "/api/v1/surveys"): [("/api/v1/surveys", {})],
    ("POST", "/api/v1/surveys/{survey_id}/open"): [(f"/api/v1/surveys/{CASE}/open", None)],
    ("POST", "/api/v1/surveys/{survey_id}/close"): [(f"/api/v1/surveys/{CASE}/close", None)],
    ("POST", "/api/v1/surveys/{survey_id}/answers"): [(f"/api/v1/surveys/{CASE}/answers", {})],
    ("GET", "/api/v1/surveys/{survey_id}/answers"): [(f"/api/v1/surveys/{CASE}/answers", None)],
    ("GET", "/api/v1/lessons"): [("/api/v1/lessons", None)],
    ("POST", "/api/v1/lessons"): [("/api/v1/lessons", {})],
    ("POST", "/api/v1/lessons/{lesson_id}/approvals"): [
        (f"/api/v1/lessons/{CASE}/approvals", {"approval": "x"})
    ],
}


@pytest.fixture
def pages_client(
    database: Database, database_url: str, web_bundle: Bundle
) -> Iterator[httpx.Client]:
    settings = Settings(
        database_url=database_url, bundle_dir=web_bundle.folder, snapshot_ttl_seconds=0
    )
    with client_for(create_app(settings, database=database)) as http:
        yield http


def app_routes(client: httpx.Client) -> set[tuple[str, str]]:
    app = client._transport._transport.app  # type: ignore[attr-defined]  # reaches into httpx's ASGI transport to get the app under test
    found = set()
    pending = list(app.routes)
    while pending:
        route = pending.pop()
        included = getattr(route, "original_router", None)
        if included is not None:  # a router added with include_router
            pending.extend(included.routes)
            continue
        for method in getattr(route, "methods", None) or ():
            if method != "HEAD":
                found.add((method, route.path))
    return found


def check_headers(response: httpx.Response, web_bundle: Bundle) -> None:
    where = f"{response.request.method} {response.request.url.path} → {response.status_code}"
    for name, value in EXPECTED.items():
        assert response.headers.get(name) == value, f"{where}: {name}"
    permissions = response.headers["permissions-policy"]
    for feature in ("camera=()", "microphone=()", "geolocation=()", "payment=()", "usb=()"):
        assert feature in permissions, where
    assert "set-cookie" not in response.headers, where
    assert "server" not in response.headers, where
    csp = response.headers["content-security-policy"]
    assert "'unsafe-inline'" not in csp, where
    assert "'unsafe-eval'" not in csp, where
    assert "frame-ancestors 'none'" in csp, where
    kind = response.headers.get("content-type", "")
    bundle_file = response.request.url.path.startswith("/static/") and response.is_success
    if kind.startswith("text/html"):
        # Pages carry the bundle's page policy: PAGE_CSP plus the hash of its worker starter.
        assert csp == web_bundle.page_csp, where
        assert csp == page_csp(web_bundle.files[web_bundle.starter_script].data), where
    elif kind.startswith(("text/javascript", "text/css")) or bundle_file:
        # Every file of the release bundle (the catalogues too) carries the policy that the
        # bundle record names and `safevoice web verify` compares.
        assert csp == PAGE_CSP, where
    else:
        assert csp == API_CSP, where
    if kind.startswith("text/html"):
        scan = scan_html(response.text)
        # The one inline script a page may carry is the bundle's worker starter, byte for byte.
        assert set(scan.inline_texts) <= {web_bundle.starter_text}, where
        assert scan.inline_scripts == len(scan.inline_texts) <= 1, where
        assert scan.handlers == [], where
        assert external_references(str(response.url), scan.urls) == [], where


def test_every_route_answers_with_the_security_headers_and_only_this_origin(
    pages_client: httpx.Client, web_bundle: Bundle
) -> None:
    assert app_routes(pages_client) == set(WALK), "a route was added or removed: walk it"
    statuses: set[int] = set()
    for (method, _), calls in WALK.items():
        for path, body in calls:
            if path.startswith(("/report/", "/follow-up", "/survey/")) and method == "POST":
                response = pages_client.post(path, data=body)
            else:
                response = pages_client.request(method, path, json=body)
            check_headers(response, web_bundle)
            statuses.add(response.status_code)
    extra = [
        pages_client.get("/no/such/page"),
        pages_client.get("/api/v1/nothing"),
        pages_client.put("/api/v1/cases"),
        pages_client.post("/api/v1/cases", content=b"x" * (3 * 1024 * 1024)),
        *(
            pages_client.get(url, headers={"Accept-Encoding": encoding})
            for url in web_bundle.files
            for encoding in ("gzip", "identity")
        ),
    ]
    for response in extra:
        check_headers(response, web_bundle)
        statuses.add(response.status_code)
    assert {200, 401, 403, 404, 405, 413, 422} <= statuses


def test_pages_and_bundle_files_are_never_cached_and_files_come_compressed_when_asked(
    pages_client: httpx.Client, web_bundle: Bundle
) -> None:
    worker = pages_client.get(web_bundle.worker_script, headers={"Accept-Encoding": "gzip"})
    assert worker.headers["content-encoding"] == "gzip"
    assert worker.headers["cache-control"] == "no-store"
    assert worker.content == web_bundle.files[web_bundle.worker_script].data
    plain = pages_client.get(web_bundle.worker_script, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    refused = pages_client.get(web_bundle.worker_script, headers={"Accept-Encoding": "gzip;q=0"})
    assert "content-encoding" not in refused.headers


def test_without_a_bundle_the_pages_say_so_and_serve_no_script(
    database: Database, database_url: str, tmp_path: Path
) -> None:
    settings = Settings(database_url=database_url, snapshot_ttl_seconds=0)
    with client_for(create_app(settings, database=database)) as http:
        landing = http.get("/")
        report = http.get("/report/general")
        follow_up = http.get("/follow-up")
    assert landing.status_code == 200
    assert "not installed" in landing.text
    for page in (report, follow_up):
        assert page.status_code == 503
        assert scan_html(page.text).scripts == []
        assert scan_html(page.text).inline_scripts == 0
        assert page.headers["content-security-policy"] == PAGE_CSP
