"""The signed acknowledgement promises the reporter the very feedback day the server stores.

The member's client writes the feedback day into the acknowledgement it signs; the server
stores the deadline when it records the acknowledgement. Both come from one function on the
instance's day (its time zone, not the client's UTC day), across month ends (COMPLIANCE.md D3).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from safevoice.cases.models import Case
from safevoice.client.member import default_status_text
from safevoice.crypto.casefile import STATUS_FORMAT, body_plaintext, member_label
from safevoice.crypto.envelope import seal
from safevoice.crypto.manifest import Manifest
from safevoice.instance import service as instance
from safevoice.protocol import deadlines
from safevoice.protocol.wire import CaseDetail
from safevoice.settings import Settings
from safevoice.storage.db import Database
from safevoice.web.app import create_app
from safevoice.web.deps import get_now
from tests.api.test_login import login as member_login
from tests.dialogue.test_dialogue_api import bearer, new_case
from tests.support.asgi import client_for
from tests.support.world import World


@pytest.fixture
def app(database: Database, database_url: str, blob_spec: str) -> FastAPI:
    settings = Settings(database_url=database_url, snapshot_ttl_seconds=0, blob_store=blob_spec)
    return create_app(settings, database=database)


@pytest.fixture
def http(app: FastAPI) -> Iterator[httpx.Client]:
    with client_for(app) as client:
        yield client


def at(app: FastAPI, moment: datetime) -> None:
    async def fixed() -> datetime:
        return moment

    app.dependency_overrides[get_now] = fixed


def acknowledge(
    http: httpx.Client,
    app: FastAPI,
    database: Database,
    manifest: Manifest,
    world: World,
    *,
    zone: str,
    received: date,
    moment: datetime,
    client_day: str | None = None,
) -> tuple[str, httpx.Response, str]:
    at(app, moment)
    sub = new_case(http, manifest)
    alice = world.members["alice"]
    headers = bearer(member_login(http, alice, manifest))
    with database.unit_of_work() as session:
        instance.set_state(session, instance.TIMEZONE, zone.encode())
        session.execute(
            update(Case)
            .where(Case.id == sub.case_id)
            .values(
                received_on=received,
                ack_due_on=deadlines.ack_due(received),
                feedback_due_on=deadlines.feedback_due(received, None),
            )
        )
    detail = CaseDetail.model_validate(
        http.get(f"/api/v1/cases/{sub.case_id}", headers=headers).json()
    )
    text = default_status_text(detail.case, "acknowledged")
    day = client_day or detail.case.today.isoformat()
    envelope = seal(
        sub.case.keys.thread,
        body_plaintext(STATUS_FORMAT, status="acknowledged", outcome=None, on=day, text=text),
        case_id=sub.case.case_id,
        kind="status",
        sender=member_label("alice"),
        seq=1,
        prev=sub.case.report.transcript_hash(),
        epoch=0,
        sign_seed=alice.sign_seed,
    )
    response = http.post(
        f"/api/v1/cases/{sub.case_id}/status",
        json={"status": "acknowledged", "envelope": envelope.to_json(), "on": day},
        headers=headers,
    )
    stored = http.get(f"/api/v1/cases/{sub.case_id}", headers=headers).json()["case"]
    return text, response, str(stored["feedback_due_on"])


@pytest.mark.parametrize(
    ("zone", "received", "moment", "promised"),
    [
        # 23:30 UTC on 30 November is already 1 December in Auckland: 1 March, not 28 February.
        ("Pacific/Auckland", date(2026, 11, 27), datetime(2026, 11, 30, 23, 30), "2027-03-01"),
        # 02:00 UTC on 1 December is still 30 November in New York: clamped to 28 February.
        ("America/New_York", date(2026, 11, 27), datetime(2026, 12, 1, 2, 0), "2027-02-28"),
        # A leap year: 30 November 2027 + 3 months is 29 February 2028.
        ("UTC", date(2027, 11, 29), datetime(2027, 11, 30, 12, 0), "2028-02-29"),
        # 16:00 UTC on 31 January is 1 February in Tokyo: 1 May, not 30 April.
        ("Asia/Tokyo", date(2027, 1, 25), datetime(2027, 1, 31, 16, 0), "2027-05-01"),
    ],
)
def test_the_acknowledgement_promises_the_stored_feedback_day(
    http: httpx.Client,
    app: FastAPI,
    database: Database,
    manifest: Manifest,
    world: World,
    zone: str,
    received: date,
    moment: datetime,
    promised: str,
) -> None:
    text, response, stored = acknowledge(
        http,
        app,
        database,
        manifest,
        world,
        zone=zone,
        received=received,
        moment=moment.replace(tzinfo=UTC),
    )

    assert response.status_code == 201, response.text
    assert re.findall(r"\d{4}-\d{2}-\d{2}", text) == [stored]
    assert stored == promised


def test_a_status_dated_with_another_day_than_the_instances_is_refused(
    http: httpx.Client, app: FastAPI, database: Database, manifest: Manifest, world: World
) -> None:
    moment = datetime(2026, 11, 30, 23, 30, tzinfo=UTC)
    _, response, stored = acknowledge(
        http,
        app,
        database,
        manifest,
        world,
        zone="Pacific/Auckland",
        received=date(2026, 11, 27),
        moment=moment,
        client_day=moment.date().isoformat(),
    )

    assert response.status_code == 409
    assert "2026-12-01" in response.json()["error"]["message"]
    assert stored == "2027-03-04"  # unchanged: nothing was recorded
