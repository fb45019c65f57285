"""Retention: purge 100,000 expired cases (DESIGN.md, Performance: ≤ 30 s on each database).

Creates a fresh instance on SQLite and on PostgreSQL, writes the rows of 100,000 expired cases
straight into the database (a 2 KiB report envelope, three wrapped keys and a status change
each; one case in fifty also has an attachment of two 64 KiB chunks in a folder blob store)
and times `safevoice retention run` doing the whole job: claiming, crypto-shredding, deleting
rows and blobs, tombstones, audit entries, pruning and making the database forget (SQLite WAL
checkpoint and incremental vacuum, PostgreSQL VACUUM).

Usage: .venv/bin/python -m benchmarks.purge [--cases 100000] [--only sqlite|postgresql]
[--allow-busy]. Prints one JSON object on its last line.
The last line carries the load average at the start and the end; timings from a machine
busier than its cores are withheld (null, exit status 3) unless --allow-busy.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import insert

from benchmarks.harness import LoadWatch, add_busy_option, fresh_database, set_up
from safevoice.attachments.models import Attachment, Upload
from safevoice.cases.models import Case, CaseObject, StatusChange, WrappedKey
from safevoice.cli.retention import purge_all
from safevoice.clock import utcnow
from safevoice.crypto.login import random_id
from safevoice.storage.blobs import FileBlobStore
from safevoice.storage.db import Database

CHUNK = 5_000
ENVELOPE = 2048
CHUNK_BYTES = 64 * 1024
WITH_FILES = 50  # one case in this many has an attachment


def populate(url: str, blob_root: Path, count: int) -> None:
    set_up(url)
    database = Database.connect(url, pool_size=2)
    store = FileBlobStore(blob_root)
    received = date(2021, 1, 1)
    expires = utcnow() + timedelta(days=1)
    try:
        for start in range(0, count, CHUNK):
            cases: list[dict[str, object]] = []
            objects: list[dict[str, object]] = []
            keys: list[dict[str, object]] = []
            changes: list[dict[str, object]] = []
            uploads: list[dict[str, object]] = []
            attachments: list[dict[str, object]] = []
            for index in range(start, min(start + CHUNK, count)):
                case_id = random_id()
                closed = index % 2 == 0
                cases.append(
                    {
                        "id": case_id,
                        "channel": "general",
                        "status": "closed" if closed else "acknowledged",
                        "intake_mode": "e2e",
                        "received_on": received,
                        "ack_due_on": received + timedelta(days=7),
                        "feedback_due_on": received + timedelta(days=97),
                        "acknowledged_on": received + timedelta(days=2),
                        "closed_on": received + timedelta(days=40) if closed else None,
                        "epoch": 0,
                        "reply_key": os.urandom(32),
                        "sign_key": os.urandom(32),
                        "thread_next": 1,
                        "thread_head": os.urandom(32),
                        "committee_next": 0,
                        "committee_head": os.urandom(32),
                    }
                )
                objects.append(
                    {
                        "id": random_id(),
                        "case_id": case_id,
                        "chain": "thread",
                        "seq": 0,
                        "kind": "report",
                        "sender": "reporter",
                        "epoch": 0,
                        "envelope": os.urandom(ENVELOPE),
                        "hash": os.urandom(32),
                    }
                )
                keys.extend(
                    {
                        "case_id": case_id,
                        "epoch": 0,
                        "recipient": f"member:m{member}",
                        "sealed": os.urandom(120),
                    }
                    for member in range(3)
                )
                changes.append(
                    {
                        "id": random_id(),
                        "case_id": case_id,
                        "status": "acknowledged",
                        "on": received + timedelta(days=2),
                    }
                )
                if index % WITH_FILES == 0:
                    upload_id = random_id()
                    uploads.append(
                        {
                            "id": upload_id,
                            "case_id": case_id,
                            "received": 2,
                            "total": 2,
                            "expires_at": expires,
                        }
                    )
                    attachments.append({"upload_id": upload_id, "case_id": case_id})
                    for chunk in range(2):
                        store.put_chunk(upload_id, chunk, os.urandom(CHUNK_BYTES))
            with database.unit_of_work() as session:
                for model, rows in (
                    (Case, cases),
                    (CaseObject, objects),
                    (WrappedKey, keys),
                    (StatusChange, changes),
                    (Upload, uploads),
                    (Attachment, attachments),
                ):
                    if rows:
                        session.execute(insert(model), rows)
        database.checkpoint()
    finally:
        database.dispose()


def measure(kind: str, count: int) -> float:
    with fresh_database(kind) as url, tempfile.TemporaryDirectory() as folder:
        blob_root = Path(folder) / "blobs"
        started = time.perf_counter()
        populate(url, blob_root, count)
        print(f"{kind}: {count} cases written in {time.perf_counter() - started:.1f} s")
        database = Database.connect(url, pool_size=2)
        try:
            started = time.perf_counter()
            report = purge_all(database, f"fs:{blob_root}", now=utcnow())
            elapsed = time.perf_counter() - started
        finally:
            database.dispose()
        if report.purged != count:
            sys.exit(f"{kind}: purged {report.purged} of {count} cases")
        left = [p for p in blob_root.iterdir() if p.is_dir()] if blob_root.exists() else []
        if left:
            sys.exit(f"{kind}: {len(left)} uploads were left in the blob store")
        print(f"{kind}: purged {report.purged} cases in {elapsed:.1f} s")
        return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    add_busy_option(parser)
    args = parser.parse_args()
    watch = LoadWatch(allow_busy=args.allow_busy)
    result: dict[str, object] = {"cases": args.cases}
    for kind in ("sqlite", "postgresql"):
        if args.only in (None, kind):
            result[f"{kind}_s"] = round(measure(kind, args.cases), 1)
    watch.emit(result, figures=[k for k in result if k.endswith("_s")])


if __name__ == "__main__":
    main()
