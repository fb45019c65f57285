"""The purge job: a thin, idempotent runner around the retention rules.

Each batch of due cases is claimed and purged in its own transaction, so an interrupted run
leaves whole cases either purged or untouched and the next run carries on; several runs at once
(on several hosts) share the work without purging a case twice. After the cases it prunes the
short-lived rows and makes the database forget what it freed. It reports counts only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime

from safevoice.attachments import service as attachments
from safevoice.audit import service as audit
from safevoice.errors import IncompleteDeletion
from safevoice.instance.service import snapshot
from safevoice.retention import service
from safevoice.storage import dialect
from safevoice.storage.blobs import BlobStore
from safevoice.storage.db import Database

# Cases per transaction. Each batch holds SQLite's write lock while it runs (submissions wait,
# they are not refused): about a second for 10,000 small cases, several seconds for batches of
# realistic cases in a database of 100,000 (README, Performance). Fewer, larger commits write
# fewer pages, because secure_delete makes every commit write the zeroed pages.
BATCH = 5000


@dataclass
class RunReport:
    today: date
    dry_run: bool
    due: int = 0
    purged: int = 0
    by_policy: dict[str, int] = field(default_factory=dict)
    pruned: dict[str, int] = field(default_factory=dict)
    folded: int = 0

    def count(self, policy: str) -> None:
        self.by_policy[policy] = self.by_policy.get(policy, 0) + 1


def instance_today(database: Database, now: datetime) -> date:
    with database.session(write=False) as session:
        return snapshot(session).today(now)


def run(
    database: Database,
    blobs: BlobStore,
    *,
    now: datetime,
    batch: int = BATCH,
    on_start: Callable[[int], None] | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> RunReport:
    """Purge every due case, prune short-lived rows, fold the reporter events of past days into
    the audit chain, then make the database forget."""
    today = instance_today(database, now)
    with database.session(write=False) as session:
        due = service.count_due(session, today=today)
    report = RunReport(today=today, dry_run=False, due=due)
    if on_start is not None:
        on_start(due)
    while True:
        with database.unit_of_work() as session, dialect.bulk_write_cache(session):
            purged = service.purge_due(session, blobs, today=today, limit=batch)
        if not purged:
            break
        report.purged += len(purged)
        for entry in purged:
            report.count(entry.policy)
        if on_batch is not None:
            on_batch(len(purged))
    with database.unit_of_work() as session:
        report.pruned = service.prune_short_lived(session, now=now)
    # The daily run is also when the reporter events of past days join the audit chain, in
    # random order (logins that ask for a checkpoint fold too; whichever comes first does it).
    with database.unit_of_work() as session:
        report.folded = audit.fold_staged(session, today=today)
    uploads = 0
    while swept := attachments.sweep_expired(database, blobs, now=now):
        uploads += swept
    report.pruned["uploads"] = uploads
    try:
        service.forget(database)
    except IncompleteDeletion as exc:
        raise IncompleteDeletion(
            f"The run purged {report.purged} case(s) and pruned what had expired. {exc.message}"
        ) from None
    return report


def dry_run(database: Database, *, now: datetime) -> tuple[RunReport, list[service.Planned]]:
    """What a run would purge now; changes nothing."""
    today = instance_today(database, now)
    with database.session(write=False) as session:
        planned = service.plan(session, today=today)
    report = RunReport(today=today, dry_run=True, due=len(planned))
    for entry in planned:
        report.count(entry.policy)
    return report, planned
