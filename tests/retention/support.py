"""Building cases for the retention tests and looking for what a purge must leave behind."""

from __future__ import annotations

import os
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import inspect, select, text

from safevoice.audit.models import AuditEntry
from safevoice.cases.models import CaseObject
from safevoice.client.api import Api
from safevoice.crypto.manifest import Manifest
from safevoice.retention.models import Tombstone
from safevoice.settings import Settings
from safevoice.storage.db import Database
from safevoice.web.app import create_app
from tests.attachments.test_uploads import Flaky, submit_with_files

# Where a purged case's id may still appear: its tombstone and the audit log.
RECORD_TABLES = {"tombstone", "audit_entry", "audit_staging"}


def app_api(database: Database, url: str, blob_spec: str) -> Api:
    settings = Settings(database_url=url, snapshot_ttl_seconds=0, blob_store=blob_spec)
    return Api("http://testserver", transport=Flaky(create_app(settings, database=database), set()))


def submit_with_file(api: Api, manifest: Manifest, folder: Path, size: int = 40_000) -> str:
    """A real end-to-end encrypted report with one attachment; returns the case id."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"evidence-{os.urandom(4).hex()}.bin"
    path.write_bytes(os.urandom(size))
    case_id, _ = submit_with_files(api, manifest, [path])
    return case_id


def tables_mentioning(database: Database, needle: str) -> set[str]:
    """Every table with a row in which any column holds ``needle`` (as text or bytes)."""
    found = set()
    names = inspect(database.writer).get_table_names()
    with database.session(write=False) as session:
        for table in names:
            for row in session.execute(text(f'SELECT * FROM "{table}"')):  # noqa: S608 (names from the schema)
                for value in row:
                    if isinstance(value, memoryview):
                        value = bytes(value)
                    if isinstance(value, str):
                        value = value.encode()
                    if isinstance(value, bytes) and needle.encode() in value:
                        found.add(table)
    return found


def stored_secrets(database: Database, case_id: str) -> list[bytes]:
    """Slices of what a case stored: its envelopes (as stored), to look for in files later."""
    with database.session(write=False) as session:
        query = select(CaseObject.envelope).where(CaseObject.case_id == case_id)
        envelopes = session.scalars(query)
        return [bytes(e)[len(e) // 2 : len(e) // 2 + 48] for e in envelopes]


def tombstones(database: Database) -> dict[str, Tombstone]:
    with database.session(write=False) as session:
        return {t.case_id: t for t in session.scalars(select(Tombstone))}


def audit_events(database: Database, event: str) -> list[dict[str, Any]]:
    import json

    with database.session(write=False) as session:
        bodies = [json.loads(bytes(b)) for b in session.scalars(select(AuditEntry.body))]
    return [b for b in bodies if b["event"] == event]


def later(days: int) -> datetime:
    from safevoice.clock import utcnow

    return utcnow() + timedelta(days=days)


def noon(day: date) -> datetime:
    """A moment on ``day`` in the test instance's time zone (a fixed clock)."""
    from datetime import UTC, time

    return datetime.combine(day, time(11), tzinfo=UTC)


def row_counts(database: Database) -> dict[str, int]:
    names = inspect(database.writer).get_table_names()
    with database.session(write=False) as session:
        return {
            table: int(session.scalar(text(f'SELECT count(*) FROM "{table}"')) or 0)  # noqa: S608 (names from the schema)
            for table in names
        }
