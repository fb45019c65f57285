"""Helpers for backup tests: a case with a file, table snapshots, audit entries and exports."""

from __future__ import annotations

import json
import os
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from safevoice.audit import service as audit
from safevoice.audit.models import AuditEntry
from safevoice.backup.service import backed_up_tables
from safevoice.clock import aware
from safevoice.crypto.manifest import Manifest
from safevoice.storage.db import Database
from tests.attachments.test_uploads import make_api, submit_with_files


def submit_case_with_file(
    database: Database, url: str, blob_spec: str, manifest: Manifest, folder: Path, size: int
) -> tuple[str, bytes]:
    """Submit a report carrying one attachment of ``size`` random bytes; return the case id."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"evidence-{os.urandom(4).hex()}.bin"
    content = os.urandom(size)
    path.write_bytes(content)
    case_id, _ = submit_with_files(make_api(database, url, blob_spec), manifest, [path])
    return case_id, content


def _plain(value: Any) -> Any:
    if isinstance(value, memoryview):
        return bytes(value)
    if isinstance(value, datetime):
        return aware(value)
    return value


def table_rows(database: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every backed-up table's rows in primary-key order."""
    with database.session(write=False) as session:
        return {
            table.name: [
                tuple(_plain(v) for v in row)
                for row in session.execute(select(table).order_by(*table.primary_key.columns))
            ]
            for table in backed_up_tables()
        }


def operator_event(
    database: Database, event: str = "policy.changed", on: date | None = None
) -> None:
    """Append one operator entry to the audit chain (it moves the head past a backup)."""
    with database.unit_of_work() as session:
        audit.record(
            session,
            event=event,
            case_id=None,
            actor="operator",
            on=on or date.today(),
            detail={"channel": "general"},
        )


def audit_chain(database: Database) -> list[tuple[int, bytes, bytes]]:
    with database.session(write=False) as session:
        return [
            (seq, bytes(body), bytes(digest))
            for seq, body, digest in session.execute(
                select(AuditEntry.seq, AuditEntry.body, AuditEntry.hash).order_by(AuditEntry.seq)
            )
        ]


def write_json(path: Path, value: object) -> Path:
    path.write_text(json.dumps(value))
    return path
