"""Retention: purge 100,000 expired cases (DESIGN.md, Performance: ≤ 30 s on each database).

Creates a fresh instance on SQLite and on PostgreSQL and writes the rows of N expired cases
that look like handled ones straight into the database (bulk inserts, not the API; only the
purge is timed). Each case has a 2 KiB report and two to four thread messages; a committee
chain with a triage record, two notes, a status record per change and, when closed, the
closure; its status changes; a corrective action in one case of two; three wrapped keys, and
a recusal with a second key epoch in one case of twenty-five; the audit entries that such a
life writes (received, messages, notes, status, actions). One case in ten has an attachment of
one or two 64 KiB chunks in the blob store (a folder by default, ``--blobs db`` for the
database store). Then it times ``safevoice retention run`` in-process doing the whole job:
claiming, crypto-shredding, deleting rows and blobs, tombstones, audit entries, pruning and
making the database forget (SQLite WAL checkpoint, VACUUM and WAL truncation; PostgreSQL
VACUUM and the rewrite of the case tables in key order).

Usage: .venv/bin/python -m benchmarks.purge [--cases 10000] [--only sqlite|postgresql]
[--blobs fs|db] [--profile FILE] [--allow-busy]. Prints one JSON object on its last line.
``--profile`` writes a cProfile of the purge (``FILE.sqlite`` / ``FILE.postgresql``).
The last line carries the load average at the start and the end; timings from a machine
busier than its cores are withheld (null, exit status 3) unless --allow-busy.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import func, insert, select

from benchmarks.harness import LoadWatch, add_busy_option, fresh_database, set_up
from safevoice.attachments.models import Attachment, Upload
from safevoice.audit import service as audit
from safevoice.cases.models import (
    Case,
    CaseObject,
    CorrectiveAction,
    Recusal,
    StatusChange,
    WrappedKey,
)
from safevoice.cli.retention import purge_all
from safevoice.clock import utcnow
from safevoice.crypto.login import random_id
from safevoice.storage.base import Base
from safevoice.storage.blob_models import BlobChunk
from safevoice.storage.db import Database

CHUNK = 2_000  # cases per setup transaction
REPORT = 2048
MESSAGE = 700
NOTE = 500
RECORD = 300
CHUNK_BYTES = 64 * 1024
WITH_FILES = 10  # one case in this many has an attachment
WITH_RECUSAL = 25  # one case in this many had a member recuse (and a second key epoch)
MEMBERS = 3
# Every table that holds rows of a case, in an order that inserts satisfy the foreign keys in;
# none may keep a row after the purge.
CASE_TABLES: tuple[type[Base], ...] = (
    Case,
    CaseObject,
    WrappedKey,
    StatusChange,
    Recusal,
    CorrectiveAction,
    Upload,
    Attachment,
    BlobChunk,
)


@dataclass
class Batch:
    """The rows of a chunk of cases, per table, and the audit events their lives wrote."""

    rows: dict[type[Base], list[dict[str, object]]] = field(
        default_factory=lambda: {model: [] for model in CASE_TABLES}
    )
    events: list[tuple[str, str | None, str, date, dict[str, str | int] | None]] = field(
        default_factory=list
    )
    blobs: list[tuple[str, int]] = field(default_factory=list)


def _object(
    case_id: str, chain: str, seq: int, kind: str, sender: str, size: int
) -> dict[str, object]:
    return {
        "id": random_id(),
        "case_id": case_id,
        "chain": chain,
        "seq": seq,
        "kind": kind,
        "sender": sender,
        "epoch": 0,
        "envelope": os.urandom(size),
        "hash": os.urandom(32),
    }


def add_case(batch: Batch, index: int, *, received: date, expires: object) -> None:
    """Append the rows of one handled case (closed or acknowledged) to ``batch``."""
    case_id = random_id()
    closed = index % 2 == 0
    acknowledged = received + timedelta(days=2)
    rows = batch.rows
    member = f"member:m{index % MEMBERS}"
    messages = 2 + index % 3
    thread = [_object(case_id, "thread", 0, "report", "reporter", REPORT)]
    thread += [
        _object(case_id, "thread", seq, "message", "reporter" if seq % 2 else member, MESSAGE)
        for seq in range(1, messages + 1)
    ]
    statuses = ["acknowledged", "investigating"] + (["closed"] if closed else [])
    committee = [("triage", NOTE), ("note", NOTE), ("note", NOTE)]
    committee += [("status", RECORD)] * len(statuses)
    has_action = index % 2 == 0
    if has_action:
        committee.append(("action", RECORD))
    if closed:
        committee.append(("closure", RECORD))
    committee_rows = [
        _object(case_id, "committee", seq, kind, member, size)
        for seq, (kind, size) in enumerate(committee)
    ]
    rows[Case].append(
        {
            "id": case_id,
            "channel": "general",
            "status": statuses[-1],
            "intake_mode": "e2e",
            "received_on": received,
            "ack_due_on": received + timedelta(days=7),
            "feedback_due_on": received + timedelta(days=97),
            "acknowledged_on": acknowledged,
            "feedback_on": received + timedelta(days=30),
            "closed_on": received + timedelta(days=40) if closed else None,
            "outcome": "substantiated" if closed else None,
            "handler": member,
            "epoch": 0,
            "reply_key": os.urandom(32),
            "sign_key": os.urandom(32),
            "thread_next": len(thread),
            "last_reporter_seq": messages - (messages + 1) % 2,
            "thread_head": os.urandom(32),
            "committee_next": len(committee_rows),
            "committee_head": os.urandom(32),
        }
    )
    rows[CaseObject] += thread + committee_rows
    rows[WrappedKey] += [
        {"case_id": case_id, "epoch": 0, "recipient": f"member:m{m}", "sealed": os.urandom(120)}
        for m in range(MEMBERS)
    ]
    if index % WITH_RECUSAL == 0:
        rows[Recusal].append({"case_id": case_id, "member_id": "m2", "on": acknowledged})
        rows[WrappedKey] += [
            {"case_id": case_id, "epoch": 1, "recipient": f"member:m{m}", "sealed": os.urandom(120)}
            for m in range(MEMBERS - 1)
        ]
    rows[StatusChange] += [
        {"id": random_id(), "case_id": case_id, "status": status, "on": acknowledged}
        for status in statuses
    ]
    if has_action:
        rows[CorrectiveAction].append(
            {
                "id": random_id(),
                "case_id": case_id,
                "owner": member,
                "due_on": received + timedelta(days=30),
                "state": "done",
                "created_on": received + timedelta(days=10),
                "done_on": received + timedelta(days=25),
            }
        )
    if index % WITH_FILES == 0:
        upload_id = random_id()
        chunks = 1 + index // WITH_FILES % 2
        rows[Upload].append(
            {
                "id": upload_id,
                "case_id": case_id,
                "received": chunks,
                "total": chunks,
                "expires_at": expires,
            }
        )
        rows[Attachment].append({"upload_id": upload_id, "case_id": case_id})
        batch.blobs += [(upload_id, chunk) for chunk in range(chunks)]
    events: list[tuple[str, dict[str, str | int] | None]] = [
        ("case.received", {"channel": "general"}),
        ("case.assigned", None),
    ]
    events += [("message.posted", None)] * messages
    events += [("note.added", None)] * 2 + [("triage.added", None)]
    events += [("case.status", {"status": status}) for status in statuses]
    if has_action:
        events += [("action.added", None), ("action.updated", None)]
    batch.events += [(event, case_id, member, acknowledged, detail) for event, detail in events]


def store_blobs(batch: Batch, blob_root: Path | None) -> None:
    """Write the attachment chunks: files in the folder store's layout (one folder per upload,
    one file per chunk, without the store's fsync: this is set-up), or ``blob_chunk`` rows."""
    for upload_id, index in batch.blobs:
        data = os.urandom(CHUNK_BYTES)
        if blob_root is None:
            batch.rows[BlobChunk].append({"upload_id": upload_id, "index": index, "data": data})
            continue
        folder = blob_root / upload_id
        folder.mkdir(mode=0o700, exist_ok=True)
        (folder / f"{index:08d}").write_bytes(data)


def populate(url: str, blob_root: Path | None, count: int) -> dict[str, int]:
    """Write ``count`` expired cases; returns how many rows each case table holds."""
    set_up(url, members=MEMBERS)
    database = Database.connect(url, pool_size=2)
    if blob_root is not None:
        blob_root.mkdir(mode=0o700)
    received = date(2021, 1, 1)
    expires = utcnow() + timedelta(days=1)
    try:
        for start in range(0, count, CHUNK):
            batch = Batch()
            for index in range(start, min(start + CHUNK, count)):
                add_case(batch, index, received=received, expires=expires)
            store_blobs(batch, blob_root)
            with database.unit_of_work() as session:
                for model, rows in batch.rows.items():
                    if rows:
                        session.execute(insert(model), rows)
                audit.append_many(session, batch.events)
        database.checkpoint()
        return rows_left(database)
    finally:
        database.dispose()


def rows_left(database: Database) -> dict[str, int]:
    with database.session(write=False) as session:
        return {
            model.__tablename__: session.scalar(select(func.count()).select_from(model)) or 0
            for model in CASE_TABLES
        }


def database_bytes(url: str) -> int:
    """The size of the database: the SQLite file with its WAL, or the PostgreSQL database."""
    database = Database.connect(url, pool_size=1)
    try:
        path = database.sqlite_path
        if path is not None:
            return sum(f.stat().st_size for f in path.parent.glob(f"{path.name}*"))
        with database.session(write=False) as session:
            return int(session.scalar(select(func.pg_database_size(func.current_database()))) or 0)
    finally:
        database.dispose()


def measure(kind: str, count: int, *, blobs: str, profile: str | None) -> dict[str, object]:
    with fresh_database(kind) as url, tempfile.TemporaryDirectory() as folder:
        blob_root = Path(folder) / "blobs" if blobs == "fs" else None
        started = time.perf_counter()
        rows = populate(url, blob_root, count)
        size = database_bytes(url)
        chunks = rows["blob_chunk"] if blob_root is None else sum(1 for _ in blob_root.glob("*/*"))
        print(
            f"{kind}: {count} cases written in {time.perf_counter() - started:.1f} s: "
            f"{sum(rows.values()) - rows['blob_chunk']} case rows, {chunks} attachment chunks "
            f"({blobs}), database {size / 2**20:.0f} MiB"
        )
        database = Database.connect(url, pool_size=2)
        profiler = cProfile.Profile() if profile else None
        try:
            started = time.perf_counter()
            if profiler is not None:
                profiler.enable()
            report = purge_all(database, f"fs:{blob_root}" if blob_root else "db", now=utcnow())
            elapsed = time.perf_counter() - started
            if profiler is not None:
                profiler.disable()
                profiler.dump_stats(f"{profile}.{kind}")
            left = rows_left(database)
        finally:
            database.dispose()
        if report.purged != count:
            sys.exit(f"{kind}: purged {report.purged} of {count} cases")
        if any(left.values()):
            sys.exit(f"{kind}: rows left after the purge: {left}")
        uploads = [p for p in blob_root.iterdir() if p.is_dir()] if blob_root else []
        if uploads:
            sys.exit(f"{kind}: {len(uploads)} uploads were left in the blob store")
        after = database_bytes(url)
        print(
            f"{kind}: purged {report.purged} cases in {elapsed:.1f} s "
            f"({count / elapsed:,.0f} cases/s); database {after / 2**20:.0f} MiB after"
        )
        return {
            "s": round(elapsed, 1),
            "mib_before": round(size / 2**20),
            "mib_after": round(after / 2**20),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    parser.add_argument("--blobs", choices=("fs", "db"), default="fs")
    parser.add_argument("--profile", metavar="FILE", help="write a cProfile of each purge")
    add_busy_option(parser)
    args = parser.parse_args()
    watch = LoadWatch(allow_busy=args.allow_busy)
    result: dict[str, object] = {"cases": args.cases, "blobs": args.blobs}
    for kind in ("sqlite", "postgresql"):
        if args.only in (None, kind):
            figures = measure(kind, args.cases, blobs=args.blobs, profile=args.profile)
            result[f"{kind}_s"] = figures.pop("s")
            result[kind] = figures
    watch.emit(result, figures=[k for k in result if k.endswith("_s")])


if __name__ == "__main__":
    main()
