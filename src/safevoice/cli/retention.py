"""``safevoice retention run|hold|release`` and ``safevoice audit retention``.

``run`` is the operator's purge job (on the server's database, from a systemd timer): it
deletes due cases batch by batch, each batch in one transaction with its cases claimed, prunes
short-lived rows and then makes the database forget what it freed. ``hold`` and ``release`` are
for a logged-in committee member, because only a member who can read a case may judge that it
must be kept. ``audit retention`` is the auditor's check of the server's retention state.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from datetime import datetime
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from safevoice.cli.common import console, err_console, fail, make_app, print_json
from safevoice.cli.ops import operator_database
from safevoice.cli.session import Server, logged_in
from safevoice.client.audit import verified_log
from safevoice.clock import utcnow
from safevoice.errors import AuditViolation
from safevoice.protocol.wire import RetentionOverview
from safevoice.retention import job, service
from safevoice.settings import Settings
from safevoice.storage.blobs import open_blob_store
from safevoice.storage.db import Database

app = make_app("Retention: purge due cases (operator), legal holds (committee members).")

DatabaseOption = Annotated[
    str | None, typer.Option("--database", help="Database URL (default: SAFEVOICE_DATABASE_URL).")
]
CaseArgument = Annotated[str, typer.Argument(help="The case id.")]


def purge_all(
    database: Database,
    blobs_spec: str,
    *,
    now: datetime,
    batch: int = job.BATCH,
    show_progress: bool = False,
) -> job.RunReport:
    """The purge job on the configured blob store, with a progress bar if asked."""
    blobs = open_blob_store(blobs_spec, database)
    with Progress(
        TextColumn("purging"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        disable=not show_progress,
        transient=True,
    ) as progress:
        task = progress.add_task("purge", total=None)
        return job.run(
            database,
            blobs,
            now=now,
            batch=batch,
            on_start=lambda due: progress.update(task, total=due),
            on_batch=lambda count: progress.advance(task, count),
        )


@app.command("run")
def run_command(
    dry: Annotated[
        bool, typer.Option("--dry-run", help="Only list the cases that are due; change nothing.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    database: DatabaseOption = None,
) -> None:
    """Delete every case past its retention limit (held cases excepted) and expired rows."""
    settings = Settings.from_env()
    db = operator_database(database)
    try:
        if dry:
            report, planned = job.dry_run(db, now=utcnow())
        else:
            report = purge_all(
                db,
                settings.blob_store,
                now=utcnow(),
                show_progress=not as_json and sys.stderr.isatty(),
            )
            planned = []
    finally:
        db.dispose()
    if as_json:
        result = asdict(report)
        if dry:
            result["cases"] = [asdict(entry) for entry in planned]
        print_json(result)
        return
    policies = ", ".join(f"{count} {name}" for name, count in sorted(report.by_policy.items()))
    if dry:
        for entry in planned:
            console.print(
                f"  {entry.case_id}  {escape(entry.channel)}  {entry.policy}, due {entry.due_on}"
            )
        console.print(
            f"Dry run on {report.today}: {report.due} case(s) would be purged"
            + (f" ({policies})" if policies else "")
            + "; nothing was changed."
        )
        return
    console.print(
        f"Purged {report.purged} case(s) on {report.today}" + (f" ({policies})" if policies else "")
    )
    pruned = report.pruned
    console.print(
        f"Pruned {pruned['challenges']} spent challenge(s), {pruned['idempotency_keys']} "
        f"idempotency key(s), {pruned['sessions']} session(s) and {pruned['uploads']} "
        "unfinished upload(s)."
    )
    console.print(f"Folded {report.folded} reporter event(s) of past days into the audit log.")


@app.command("hold")
def hold_command(
    case_id: CaseArgument,
    reason: Annotated[str, typer.Option(help="Why the case must be kept (stays on the server).")],
    server: Server = None,
) -> None:
    """Place a legal hold on a case you can read: it is kept until the hold is released."""
    context = logged_in(server)
    with context.api:
        case_id = context.case_id(case_id)
        hold = context.api.hold(case_id, reason=reason)
    console.print(f"Case {hold.case_id} is under legal hold since {hold.held_on}.")


@app.command("release")
def release_command(case_id: CaseArgument, server: Server = None) -> None:
    """Release a case's legal hold; its retention policy applies again."""
    context = logged_in(server)
    with context.api:
        case_id = context.case_id(case_id)
        context.api.release(case_id)
    console.print(f"The legal hold on case {case_id} is released.")


def print_findings(view: RetentionOverview, findings: service.Findings) -> None:
    console.print(
        f"Retention on {view.today}: {len(view.cases)} live case(s), "
        f"{sum(c.held for c in view.cases)} under legal hold, {len(view.tombstones)} purged."
    )
    policies = Table("channel", "after closure", "maximum age", "never acknowledged")
    for p in view.policies:
        policies.add_row(
            p.channel, f"{p.days_after_closure} d", f"{p.max_age_days} d", f"{p.unused_days} d"
        )
    console.print(policies, markup=False)
    if findings.upcoming:
        upcoming = Table("case", "channel", "policy", "due", title="Upcoming purges")
        for case in findings.upcoming:
            upcoming.add_row(case.case_id, case.channel, case.policy, str(case.due_on))
        console.print(upcoming, markup=False)
    else:
        console.print("No purge is due in the next 30 days.")
    for violation in findings.violations:
        err_console.print(f"[bold red]Violation:[/] {escape(violation)}")
    if not findings.violations:
        console.print(
            "Every live case is within its policy, every purge matches one, and every case the "
            "audit log records is accounted for."
        )


def audit_retention(
    server: Server = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Check that every live case is within its policy, every purge matched one, and every case
    the verified audit log says was received is still live or was purged by a logged purge."""
    context = logged_in(server)
    with context.api as api:
        view = api.retention()
        try:
            log = [entry.parsed() for entry in verified_log(api, context.manifest())]
        except AuditViolation as exc:
            fail(f"The audit log cannot be trusted, so retention cannot be checked: {exc.message}")
    findings = service.check(view, log=log)
    if as_json:
        print_json(
            {
                "today": view.today.isoformat(),
                "live": len(view.cases),
                "held": sum(c.held for c in view.cases),
                "purged": len(view.tombstones),
                "violations": findings.violations,
                "upcoming": [json.loads(c.model_dump_json()) for c in findings.upcoming],
            }
        )
    else:
        print_findings(view, findings)
    if findings.violations:
        raise typer.Exit(code=1)
