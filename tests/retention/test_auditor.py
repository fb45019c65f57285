"""The auditor's view of retention: the API route and ``safevoice audit retention``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import update

from safevoice.cli.retention import purge_all
from safevoice.clock import utcnow
from safevoice.crypto.manifest import Manifest
from safevoice.retention.models import LegalHold, Tombstone
from safevoice.settings import Settings
from safevoice.storage.db import Database
from safevoice.web.app import create_app
from tests.api.test_login import login
from tests.conftest import Cli
from tests.dialogue.test_dialogue_api import bearer
from tests.support.threaded import serve_app
from tests.support.workflow import insert_case
from tests.support.world import World


@pytest.fixture
def served(database: Database, database_url: str) -> Iterator[str]:
    app = create_app(Settings(database_url=database_url, snapshot_ttl_seconds=0), database=database)
    with serve_app(app) as url:
        yield url


def as_auditor(cli: Cli, url: str, world: World) -> None:
    cli.safevoice(
        "login", "--server", url, "--key", str(world.key_file("audrey")), "--pin", world.pin
    )


def test_only_auditors_read_the_retention_state_and_it_holds_no_content(
    client: httpx.Client, database: Database, manifest: Manifest, world: World
) -> None:
    case_id = insert_case(database, date(2026, 2, 1), ack_after=3)
    member = bearer(login(client, world.members["alice"], manifest))
    auditor = bearer(login(client, world.auditor, manifest, role="auditor"))

    assert client.get("/api/v1/retention", headers=member).status_code == 403
    assert client.get("/api/v1/retention").status_code == 401
    view = client.get("/api/v1/retention", headers=auditor).json()

    (case,) = view["cases"]
    assert case == {
        "case_id": case_id,
        "channel": "general",
        "received_on": "2026-02-01",
        "status": "acknowledged",
        "acknowledged_on": "2026-02-04",
        "closed_on": None,
        "held": False,
        "policy": "max_age",
        "due_on": "2029-01-31",
    }
    assert {p["channel"] for p in view["policies"]} == {"general", "safety"}
    assert view["tombstones"] == []


def test_the_auditors_check_names_an_overdue_case_and_passes_once_it_is_purged(
    cli: Cli, served: str, world: World, database: Database, tmp_path: Path
) -> None:
    today = utcnow().date()
    overdue = insert_case(database, today - timedelta(days=400), channel="safety", ack_after=1)
    held = insert_case(database, today - timedelta(days=400), channel="safety", ack_after=1)
    soon = insert_case(database, today - timedelta(days=80))
    with database.unit_of_work() as session:
        session.add(LegalHold(case_id=held, held_by="member:alice", held_on=today, reason="x"))
    as_auditor(cli, served, world)

    failing = cli.safevoice("audit", "retention", expect=1)

    assert f"Case {overdue} (safety) was due for deletion on" in failing.stderr
    assert held not in failing.stderr
    assert soon in failing.stdout  # listed among the upcoming purges
    result = json.loads(cli.safevoice("audit", "retention", "--json", expect=1).stdout)
    assert len(result["violations"]) == 1
    assert [c["case_id"] for c in result["upcoming"]] == [soon]

    purge_all(database, f"fs:{tmp_path / 'blobs'}", now=utcnow())
    passing = cli.safevoice("audit", "retention")

    assert "Every live case is within its policy, every purge matches one" in passing.stdout
    assert "1 purged" in passing.stdout


def test_the_auditors_check_catches_a_purge_before_its_due_day(
    cli: Cli, served: str, world: World, database: Database, tmp_path: Path
) -> None:
    today = utcnow().date()
    case_id = insert_case(database, today - timedelta(days=400), channel="safety", ack_after=1)
    purge_all(database, f"fs:{tmp_path / 'blobs'}", now=utcnow())
    as_auditor(cli, served, world)
    cli.safevoice("audit", "retention")
    with database.unit_of_work() as session:
        session.execute(
            update(Tombstone)
            .where(Tombstone.case_id == case_id)
            .values(purged_on=today - timedelta(days=100))
        )

    result = cli.safevoice("audit", "retention", expect=1)

    assert f"Case {case_id} was purged on {today - timedelta(days=100)}, before it was due" in (
        result.stderr
    )


def test_a_member_cannot_run_the_auditors_check(cli: Cli, served: str, world: World) -> None:
    cli.safevoice(
        "login", "--server", served, "--key", str(world.key_file("alice")), "--pin", world.pin
    )

    result = cli.safevoice("audit", "retention", expect=1)

    assert "Only auditors may do this." in result.stderr
