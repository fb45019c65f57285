"""GET /api/v1/stats on SQLite and PostgreSQL: who may ask, filters, and metadata only."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import event, select, update

from safevoice.cases.models import Case
from safevoice.clock import utcnow
from safevoice.crypto.login import token_digest
from safevoice.crypto.manifest import Manifest
from safevoice.members.models import LoginSession
from safevoice.members.service import reporter_token
from safevoice.storage.db import Database
from tests.api.test_login import login
from tests.support.workflow import row_id, seed_two_months
from tests.support.world import World

PERIOD = {"from": "2024-03", "to": "2024-04"}


@pytest.fixture
def cases(database: Database) -> None:
    seed_two_months(database)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def member(client: httpx.Client, manifest: Manifest, world: World) -> dict[str, str]:
    return bearer(login(client, world.members["alice"], manifest))


@pytest.fixture
def auditor(client: httpx.Client, manifest: Manifest, world: World) -> dict[str, str]:
    return bearer(login(client, world.auditor, manifest, role="auditor"))


def stats(client: httpx.Client, headers: dict[str, str], **params: str) -> dict[str, Any]:
    response = client.get("/api/v1/stats", params=params, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.mark.usefixtures("cases")
def test_a_member_gets_figures_over_their_cases_with_small_counts_suppressed(
    client: httpx.Client, member: dict[str, str]
) -> None:
    body = stats(client, member, **PERIOD)

    assert body["received_total"] == 12
    assert body["received_per_month"] == [
        {"month": "2024-03", "count": 7},
        {"month": "2024-04", "count": 5},
    ]
    # Two safety cases are "<5", and the general count beside the total would give them away.
    assert body["received_per_channel"] == [
        {"channel": "general", "count": "hidden"},
        {"channel": "safety", "count": "<5"},
    ]
    assert body["median_days_to_acknowledge"] == 4.0
    assert body["median_days_to_close"] == 33.0
    assert body["percent_acknowledged_within_7_days"] == 50  # 6 of 7 acknowledged + 5 overdue
    assert body["percent_substantiated"] == 29
    assert body["percent_closed_with_corrective_action"] == 100
    assert body["percent_actions_done_on_time"] == 100
    assert body["median_days_per_step"][0] == {"status": "received", "median_days": 4.0}
    assert body["percent_feedback_within_3_months"] == 0
    # Quarter by channel: the safety cells are small, so the whole table is withheld.
    assert {cell["count"] for cell in body["received_per_quarter"]} == {"hidden"}
    assert [cell["quarter"] for cell in body["received_per_quarter"]] == [
        "2024-Q1",
        "2024-Q1",
        "2024-Q2",
        "2024-Q2",
    ]
    assert body["share_per_channel"] == [
        {"channel": "general", "percent": "hidden"},
        {"channel": "safety", "percent": "<5"},
    ]
    assert body["percent_reporter_followed_up"] == 0
    assert body["median_days_to_action_done"] == 50.0  # March 4 to April 20..26


@pytest.mark.usefixtures("cases")
def test_an_auditor_gets_the_same_figures_as_a_member_who_reads_every_case(
    client: httpx.Client, auditor: dict[str, str], member: dict[str, str]
) -> None:
    assert stats(client, auditor, **PERIOD) == stats(client, member, **PERIOD)


@pytest.mark.usefixtures("cases")
def test_filters_narrow_the_cases_and_small_results_stay_suppressed(
    client: httpx.Client, member: dict[str, str]
) -> None:
    safety = stats(client, member, channel="safety", **PERIOD)
    march = stats(client, member, **{"from": "2024-03", "to": "2024-03"})

    assert safety["channel"] == "safety"
    assert safety["received_total"] == "<5"
    assert safety["received_per_channel"] == [{"channel": "safety", "count": "<5"}]
    assert march["received_total"] == 7
    assert march["received_per_month"] == [{"month": "2024-03", "count": 7}]
    assert march["median_days_to_acknowledge"] == 4.0


@pytest.mark.usefixtures("cases")
def test_the_share_of_reporters_who_came_back_counts_a_reporter_message_after_the_report(
    client: httpx.Client, member: dict[str, str], database: Database
) -> None:
    with database.unit_of_work() as session:
        first_three = select(Case.id).order_by(Case.received_on, Case.id).limit(3)
        chosen = list(session.scalars(first_three))
        session.execute(update(Case).where(Case.id.in_(chosen)).values(last_reporter_seq=2))

    assert stats(client, member, **PERIOD)["percent_reporter_followed_up"] == 25  # 3 of 12
    # Among the two safety cases, the share would single someone out.
    safety = stats(client, member, channel="safety", **PERIOD)
    assert safety["percent_reporter_followed_up"] == "<5"


def test_without_a_period_the_figures_cover_the_twelve_months_up_to_today(
    client: httpx.Client, member: dict[str, str]
) -> None:
    body = stats(client, member)

    assert len(body["received_per_month"]) == 12
    assert body["period_to"] == date.fromisoformat(body["today"]).strftime("%Y-%m")
    assert body["received_total"] == "<5"


def test_reporters_and_strangers_get_no_statistics(
    client: httpx.Client, database: Database
) -> None:
    token = reporter_token(row_id())
    with database.unit_of_work() as session:
        session.add(
            LoginSession(
                token_digest=token_digest(token),
                role="reporter",
                subject="",
                expires_at=utcnow() + timedelta(minutes=30),
            )
        )

    assert client.get("/api/v1/stats").status_code == 401
    assert client.get("/api/v1/stats", headers=bearer("not-a-token")).status_code == 401
    refused = client.get("/api/v1/stats", headers=bearer(token))
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "forbidden"


BAD_FILTERS = [
    ({"from": "2024-13"}, 400, "bad_request"),
    ({"from": "March"}, 422, "invalid_request"),
    ({"from": "2024-05", "to": "2024-04"}, 400, "bad_request"),
    ({"from": "2000-01", "to": "2024-04"}, 400, "bad_request"),
    ({"channel": "no-such-channel"}, 404, "not_found"),
]


def test_bad_filters_are_refused_without_echoing_them(
    client: httpx.Client, member: dict[str, str]
) -> None:
    for params, status, code in BAD_FILTERS:
        response = client.get("/api/v1/stats", params=params, headers=member)

        assert (response.status_code, response.json()["error"]["code"]) == (status, code), params
        for value in params.values():
            assert value not in response.text


@pytest.fixture
def statements(database: Database) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(str(args[2]).lower())

    engines = {database.writer, database.reader}
    for engine in engines:
        event.listen(engine, "before_cursor_execute", record)
    yield seen
    for engine in engines:
        event.remove(engine, "before_cursor_execute", record)


@pytest.mark.usefixtures("cases")
def test_statistics_read_metadata_only_never_content_or_keys(
    client: httpx.Client,
    auditor: dict[str, str],
    member: dict[str, str],
    statements: list[str],
) -> None:
    stats(client, auditor, **PERIOD)

    assert any("case_file" in s for s in statements)
    assert not [s for s in statements if "case_object" in s or "wrapped_key" in s]
    statements.clear()
    stats(client, member, **PERIOD)
    # A member's population needs to know which cases the member holds a key for; the keys
    # themselves are never selected, nor any content.
    assert not [s for s in statements if "case_object" in s or "wrapped_key.sealed" in s]


def test_a_member_counts_only_the_cases_they_can_read(
    client: httpx.Client,
    database: Database,
    manifest: Manifest,
    world: World,
    auditor: dict[str, str],
) -> None:
    from tests.support.workflow import insert_case

    for day in range(1, 8):
        insert_case(database, date(2024, 3, day))
    for day in range(10, 16):
        insert_case(database, date(2024, 3, day), readers=("alice",))
    bob = bearer(login(client, world.members["bob"], manifest))

    as_bob = stats(client, bob, **PERIOD)
    as_auditor = stats(client, auditor, **PERIOD)

    assert as_bob["received_total"] == 7
    assert as_auditor["received_total"] == 13
