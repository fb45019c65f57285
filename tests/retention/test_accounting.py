"""The auditor accounts for every case the audit log says was received.

A case is either live (and within its policy) or purged by a logged purge on a day that is not
in the future and matches its tombstone. Rows deleted behind the server's back, and a purge run
with the clock moved forward, are named by both ``audit retention`` and ``audit verify``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete

from safevoice.audit import service as audit
from safevoice.cases.models import Case, WrappedKey
from safevoice.cli.retention import purge_all
from safevoice.clock import utcnow
from safevoice.retention.job import instance_today
from safevoice.settings import Settings
from safevoice.storage.db import Database
from safevoice.web.app import create_app
from tests.conftest import Cli
from tests.support.threaded import serve_app
from tests.support.workflow import insert_case
from tests.support.world import World


@pytest.fixture
def served(database: Database, database_url: str) -> Iterator[str]:
    app = create_app(Settings(database_url=database_url, snapshot_ttl_seconds=0), database=database)
    with serve_app(app) as url:
        yield url


def received(database: Database, day: date, **kwargs: object) -> str:
    """A case as the daily fold leaves it: its rows, and its ``case.received`` entry."""
    case_id = insert_case(database, day, **kwargs)  # type: ignore[arg-type]  # test keywords
    with database.unit_of_work() as session:
        audit.append(session, event="case.received", case_id=case_id, actor=audit.REPORTER, on=day)
    return case_id


def as_auditor(cli: Cli, url: str, world: World) -> None:
    cli.safevoice(
        "login", "--server", url, "--key", str(world.key_file("audrey")), "--pin", world.pin
    )


def saved_checkpoint(cli: Cli, url: str, world: World, tmp_path: Path) -> Path:
    as_auditor(cli, url, world)
    checkpoint = tmp_path / "checkpoint.json"
    cli.safevoice("audit", "countersign", "--out", str(checkpoint))
    return checkpoint


def verify(cli: Cli, url: str, world: World, tmp_path: Path, checkpoint: Path) -> tuple[str, str]:
    as_auditor(cli, url, world)  # a purge with the clock moved forward ended every session
    export = tmp_path / "export.json"
    cli.safevoice("audit", "export", "--out", str(export))
    assert "retention" in json.loads(export.read_text())
    result = cli.safevoice(
        "audit",
        "verify",
        str(export),
        "--checkpoint",
        str(checkpoint),
        "--pin",
        world.pin,
        expect=1,
    )
    retention = cli.safevoice("audit", "retention", expect=1)
    return result.stderr, retention.stderr


def test_a_case_deleted_by_hand_is_named_by_the_retention_check_and_by_verify(
    cli: Cli, served: str, world: World, database: Database, tmp_path: Path
) -> None:
    today = utcnow().date()
    kept = received(database, today - timedelta(days=20))
    gone = received(database, today - timedelta(days=10))
    checkpoint = saved_checkpoint(cli, served, world, tmp_path)
    cli.safevoice("audit", "retention")
    with database.unit_of_work() as session:
        session.execute(delete(WrappedKey).where(WrappedKey.case_id == gone))
        session.execute(delete(Case).where(Case.id == gone))

    verified, retention = verify(cli, served, world, tmp_path, checkpoint)

    for said in (verified, retention):
        flat = " ".join(said.split())
        assert f"Case {gone}, received according to audit entry" in flat
        assert "neither live nor purged by a logged purge" in flat
        assert kept not in flat


def test_a_purge_run_with_the_clock_moved_forward_is_named(
    cli: Cli, served: str, world: World, database: Database, tmp_path: Path
) -> None:
    today = utcnow().date()
    early = received(database, today - timedelta(days=80))
    checkpoint = saved_checkpoint(cli, served, world, tmp_path)
    cli.safevoice("audit", "retention")

    moved = utcnow() + timedelta(days=60)
    report = purge_all(database, f"fs:{tmp_path / 'blobs'}", now=moved)
    assert report.purged == 1

    verified, retention = verify(cli, served, world, tmp_path, checkpoint)

    future = instance_today(database, moved).isoformat()  # the instance's day, not UTC's
    for said in (verified, retention):
        flat = " ".join(said.split())
        assert f"records the purge of case {early} on {future}, a day still in the future" in flat
    assert f"The tombstone of case {early} is dated {future}" in " ".join(retention.split())


def test_an_untouched_history_passes_both_checks(
    cli: Cli, served: str, world: World, database: Database, tmp_path: Path
) -> None:
    today = utcnow().date()
    received(database, today - timedelta(days=20))
    received(database, today - timedelta(days=400), channel="safety", ack_after=1)
    checkpoint = saved_checkpoint(cli, served, world, tmp_path)
    purge_all(database, f"fs:{tmp_path / 'blobs'}", now=utcnow())
    export = tmp_path / "export.json"
    cli.safevoice("audit", "export", "--out", str(export))

    cli.safevoice(
        "audit", "verify", str(export), "--checkpoint", str(checkpoint), "--pin", world.pin
    )
    passing = cli.safevoice("audit", "retention")

    assert "every case the audit log records is accounted for" in " ".join(passing.stdout.split())
