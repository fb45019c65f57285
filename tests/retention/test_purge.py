"""The purge job: due cases are gone from every table, the blob store and the SQLite files;
tombstones and audit entries remain; held cases stay; dry runs and second runs change nothing;
two jobs at once purge each case once (COMPLIANCE.md D10)."""

from __future__ import annotations

import threading
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from safevoice.attachments.models import Upload
from safevoice.audit import service as audit
from safevoice.audit.models import AuditStaging
from safevoice.cases.models import Case
from safevoice.cli.retention import purge_all
from safevoice.crypto.manifest import Manifest
from safevoice.errors import NotFound
from safevoice.retention.job import dry_run, instance_today
from safevoice.storage.blobs import open_blob_store
from safevoice.storage.db import Database
from tests.api.test_login import login
from tests.dialogue.test_dialogue_api import bearer
from tests.retention.support import (
    RECORD_TABLES,
    app_api,
    audit_events,
    later,
    noon,
    row_counts,
    stored_secrets,
    submit_with_file,
    tables_mentioning,
    tombstones,
)
from tests.support.workflow import insert_case
from tests.support.world import World


@pytest.fixture(params=["fs", "db", "s3"])
def blob_spec(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "fs":
        return f"fs:{tmp_path / 'blobs'}"
    if request.param == "db":
        return "db"
    endpoint = request.getfixturevalue("s3_endpoint")
    return f"s3://safevoice-test/{tmp_path.name}?endpoint={endpoint}"


def sqlite_bytes(database: Database) -> bytes:
    """The SQLite file and its -wal file, as they lie on disk."""
    path = Path(database.url.removeprefix("sqlite:///"))
    wal = Path(f"{path}-wal")
    return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


def received_on(database: Database, case_id: str) -> date:
    with database.session(write=False) as session:
        case = session.get(Case, case_id)
        assert case is not None
        return case.received_on


def upload_ids(database: Database, case_id: str) -> list[str]:
    with database.session(write=False) as session:
        return list(session.scalars(select(Upload.id).where(Upload.case_id == case_id)))


def test_d10_every_case_is_deleted_when_its_retention_deadline_passes_unless_held(
    database: Database,
    database_url: str,
    blob_spec: str,
    client: httpx.Client,
    manifest: Manifest,
    world: World,
    tmp_path: Path,
) -> None:
    api = app_api(database, database_url, blob_spec)
    # Never acknowledged: "general" keeps such a case 90 days, "safety" 60.
    unused = submit_with_file(api, manifest, tmp_path / "files")
    held = submit_with_file(api, manifest, tmp_path / "files")
    today = received_on(database, unused)
    # Closed after 10 days: "general" keeps it 60 days after closure, so due on day 70.
    closed = insert_case(database, today, ack_after=1, close_after=10)
    # Acknowledged and open: only the three-year maximum age applies.
    open_case = insert_case(database, today, ack_after=1)
    # A "safety" case never acknowledged: 60 days.
    safety = insert_case(database, today, channel="safety")
    token = login(client, world.members["alice"], manifest)
    answer = client.post(
        f"/api/v1/cases/{held}/hold", json={"reason": "Court order 12/2026"}, headers=bearer(token)
    )
    assert answer.status_code == 201, answer.text
    secrets = stored_secrets(database, unused)
    uploads = upload_ids(database, unused)
    assert uploads
    assert secrets
    blobs = open_blob_store(blob_spec, database)
    assert blobs.get_chunk(uploads[0], 0)
    if database.sqlite:
        database.checkpoint()
        assert all(secret in sqlite_bytes(database) for secret in secrets)

    report = purge_all(database, blob_spec, now=later(100))

    purged = {unused, closed, safety}
    assert report.purged == 3
    assert report.by_policy == {"unused": 2, "after_closure": 1}
    for case_id in purged:
        assert tables_mentioning(database, case_id) <= RECORD_TABLES
    for upload_id in uploads:
        with pytest.raises(NotFound):
            blobs.get_chunk(upload_id, 0)
    stones = tombstones(database)
    assert set(stones) == purged
    assert stones[closed].policy == "after_closure"
    assert stones[closed].received_on == today
    assert stones[closed].purged_on == today + timedelta(days=100)
    assert stones[safety].channel == "safety"
    entries = {e["case_id"]: e for e in audit_events(database, "case.purged")}
    assert set(entries) == purged
    assert entries[unused]["actor"] == "retention"
    assert entries[unused]["detail"] == {
        "channel": "general",
        "policy": "unused",
        "received": today.isoformat(),
    }
    with database.session(write=False) as session:
        remaining = set(session.scalars(select(Case.id)))
    assert {held, open_case} <= remaining
    assert upload_ids(database, held)
    if database.sqlite:
        contents = sqlite_bytes(database)
        assert all(secret not in contents for secret in secrets)


def test_a_case_is_kept_until_its_due_day_and_purged_on_it(
    database: Database, tmp_path: Path
) -> None:
    received = date(2026, 1, 10)
    case_id = insert_case(database, received, channel="safety", ack_after=2, close_after=20)
    due = received + timedelta(days=20 + 30)
    spec = f"fs:{tmp_path / 'blobs'}"

    _, planned = dry_run(database, now=noon(due - timedelta(days=1)))
    assert planned == []
    assert purge_all(database, spec, now=noon(due - timedelta(days=1))).purged == 0
    report = purge_all(database, spec, now=noon(due))

    assert report.purged == 1
    assert tombstones(database)[case_id].purged_on == due
    assert tombstones(database)[case_id].since_on == received + timedelta(days=20)
    assert tombstones(database)[case_id].policy_days == 30


def test_a_dry_run_lists_due_cases_and_changes_nothing(database: Database) -> None:
    old = insert_case(database, date(2020, 1, 1))
    insert_case(database, date.today())
    before = row_counts(database)

    report, planned = dry_run(database, now=later(0))

    assert report.due == 1
    assert [(p.case_id, p.policy) for p in planned] == [(old, "unused")]
    assert row_counts(database) == before


def test_a_second_run_is_a_no_op(database: Database, tmp_path: Path) -> None:
    for _ in range(3):
        insert_case(database, date(2020, 1, 1), ack_after=1)
    spec = f"fs:{tmp_path / 'blobs'}"
    first = purge_all(database, spec, now=later(0))
    counts = row_counts(database)

    second = purge_all(database, spec, now=later(0))

    assert first.purged == 3
    assert first.by_policy == {"max_age": 3}
    assert second.purged == 0
    assert row_counts(database) == counts


def test_two_jobs_at_once_purge_each_case_exactly_once(
    database: Database, database_url: str, tmp_path: Path
) -> None:
    ids = {insert_case(database, date(2020, 1, 1), readers=("alice",)) for _ in range(24)}
    spec = f"fs:{tmp_path / 'blobs'}"
    start = threading.Barrier(2)
    reports = []

    def job() -> None:
        own = Database.connect(database_url, pool_size=2)
        try:
            start.wait()
            reports.append(purge_all(own, spec, now=later(0), batch=3))
        finally:
            own.dispose()

    threads = [threading.Thread(target=job) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(r.purged for r in reports) == len(ids)
    assert set(tombstones(database)) == ids
    purged_entries = [e["case_id"] for e in audit_events(database, "case.purged")]
    assert sorted(purged_entries) == sorted(ids)


def test_purge_case_purges_once_and_refuses_a_held_case(database: Database, tmp_path: Path) -> None:
    from safevoice.errors import Conflict
    from safevoice.retention.models import LegalHold
    from safevoice.retention.service import purge_case

    blobs = open_blob_store(f"fs:{tmp_path / 'blobs'}", database)
    case_id = insert_case(database, date(2020, 1, 1), ack_after=1, close_after=5)
    held = insert_case(database, date(2020, 1, 1))
    with database.unit_of_work() as session:
        session.add(
            LegalHold(case_id=held, held_by="member:alice", held_on=date.today(), reason="r")
        )
    today = date(2024, 1, 1)

    with database.unit_of_work() as session:
        first = purge_case(session, blobs, case_id, today=today, policy="after_closure")
    with database.unit_of_work() as session:
        second = purge_case(session, blobs, case_id, today=today, policy="after_closure")
    with database.unit_of_work() as session, pytest.raises(Conflict):
        purge_case(session, blobs, held, today=today, policy="max_age")

    assert (first, second) == (True, False)
    assert tombstones(database)[case_id].since_on == date(2020, 1, 6)
    assert set(tombstones(database)) == {case_id}
    assert len(audit_events(database, "case.purged")) == 1


def test_the_daily_run_folds_reporter_events_of_past_days_into_the_audit_log(
    database: Database, tmp_path: Path
) -> None:
    now = later(0)
    today = instance_today(database, now)  # the instance's day, not UTC's
    with database.unit_of_work() as session:
        for day in (today - timedelta(days=1), today - timedelta(days=1), today):
            audit.record(
                session, event="message.posted", case_id=None, actor=audit.REPORTER, on=day
            )

    report = purge_all(database, f"fs:{tmp_path / 'blobs'}", now=now)

    assert report.folded == 2
    folded = [e for e in audit_events(database, "message.posted") if e["actor"] == "reporter"]
    assert [e["on"] for e in folded] == [(today - timedelta(days=1)).isoformat()] * 2
    with database.session(write=False) as session:
        staged = list(session.scalars(select(AuditStaging.on)))
    assert staged == [today]  # today's event waits until the day is over
