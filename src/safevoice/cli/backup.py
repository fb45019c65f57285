"""``safevoice admin backup|restore|backup-keys`` and ``safevoice audit approve-restore``."""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from safevoice.backup import approval as approvals
from safevoice.backup import service
from safevoice.backup.export import Head, load_export
from safevoice.backup.keys import KeyDirectory
from safevoice.cli.common import console, err_console, fail, make_app, print_json, read_json_file
from safevoice.cli.ops import operator_database
from safevoice.cli.session import Server, logged_in
from safevoice.clock import utcnow
from safevoice.crypto.encoding import b64d
from safevoice.crypto.keys import format_fingerprint
from safevoice.errors import BadEncoding
from safevoice.instance import service as instance
from safevoice.settings import Settings
from safevoice.storage import migrate
from safevoice.storage.blobs import open_blob_store
from safevoice.storage.db import Database

DatabaseOption = Annotated[
    str | None, typer.Option("--database", help="Database URL (default: SAFEVOICE_DATABASE_URL).")
]
BlobsOption = Annotated[
    str | None,
    typer.Option("--blobs", help="Blob store (default: SAFEVOICE_BLOB_STORE or the blob folder)."),
]
KeysDirOption = Annotated[
    Path | None,
    typer.Option(
        "--keys-dir",
        help="Folder of the backup keys, outside the database (default: "
        "SAFEVOICE_BACKUP_KEYS_DIR).",
    ),
]

keys_app = make_app("List and destroy backup keys (operator).")


class _Bar:
    """A progress bar on standard error (nothing when it is not a terminal)."""

    def __init__(self, progress: Progress, label: str) -> None:
        self._progress = progress
        self._task = progress.add_task(label, total=None)

    def start(self, total: int) -> None:
        self._progress.update(self._task, total=total)

    def advance(self, amount: int) -> None:
        self._progress.advance(self._task, amount)


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=err_console,
        transient=True,
    )


def _today(database: Database) -> date:
    """Today in the instance's time zone (UTC for a blank database)."""
    now = utcnow()
    if migrate.current_revision(database.writer) is None:
        return now.date()
    with database.session(write=False) as session:
        zone = instance.get_state(session, instance.TIMEZONE)
    return now.astimezone(ZoneInfo(zone.decode() if zone else "UTC")).date()


def _keys(settings: Settings, keys_dir: Path | None) -> KeyDirectory:
    return KeyDirectory(keys_dir or settings.backup_keys_dir)


def backup(
    database: DatabaseOption = None,
    blobs: BlobsOption = None,
    keys_dir: KeysDirOption = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Folder for the backup file (default: SAFEVOICE_BACKUP_DIR)."),
    ] = None,
) -> None:
    """Write an encrypted backup; rotate the backup key when due and destroy aged-out keys."""
    settings = Settings.from_env()
    db = operator_database(database)
    try:
        if not migrate.is_current(db.writer):
            fail("The database is not migrated to this version; run `safevoice admin migrate`.")
        store = open_blob_store(blobs or settings.blob_store, db)
        with _progress() as progress:
            result = service.create_backup(
                db,
                store,
                keys=_keys(settings, keys_dir),
                out_dir=out or settings.backup_dir,
                today=_today(db),
                rotation_days=settings.backup_key_rotation_days,
                max_age_days=settings.backup_max_age_days,
                progress=_Bar(progress, "backing up"),
            )
    finally:
        db.dispose()
    console.print(f"Backup written: {result.path} ({result.size} bytes)")
    console.print(
        f"  backup {result.header.backup_id}, key {result.header.key_id}, "
        f"audit seq {result.header.audit_seq}"
    )
    console.print(
        f"  {result.counts.rows} rows in {len(result.counts.tables)} tables, "
        f"{result.counts.chunks} blob chunks of {result.counts.uploads} uploads"
    )
    for key in result.destroyed:
        console.print(f"  destroyed backup key {key.id} (created {key.created_on})")
    if result.stale_removed:
        console.print(
            f"  removed {result.stale_removed} unfinished file(s) an interrupted backup left"
        )


def restore(
    backup_file: Annotated[Path, typer.Argument(metavar="BACKUP", help="The backup file.")],
    database: DatabaseOption = None,
    blobs: BlobsOption = None,
    keys_dir: KeysDirOption = None,
    approval: Annotated[
        Path | None,
        typer.Option(help="Approval signed by a member or auditor (audit approve-restore)."),
    ] = None,
    audit_export: Annotated[
        Path | None,
        typer.Option(help="The newest audit export; its later purges are applied again."),
    ] = None,
    no_audit_export: Annotated[
        bool,
        typer.Option(
            "--no-audit-export",
            help="No audit export exists: restore without re-applying later purges.",
        ),
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Replace a database that holds data.")] = False,
) -> None:
    """Restore a backup into a blank database or one at the same migration (all or nothing)."""
    if not backup_file.is_file():
        fail(f"There is no backup file {backup_file}.")
    if audit_export is not None and no_audit_export:
        fail("Give --audit-export or --no-audit-export, not both.")
    settings = Settings.from_env()
    approved = (
        approvals.Approval.from_json(read_json_file(approval, what="restore approval"))
        if approval is not None
        else None
    )
    export = load_export(audit_export) if audit_export is not None else None
    db = operator_database(database)
    try:
        store = open_blob_store(blobs or settings.blob_store, db)
        today = _today(db)
        with _progress() as progress:
            result = service.restore_backup(
                db,
                store,
                backup_file,
                keys=_keys(settings, keys_dir),
                today=today,
                max_age_days=settings.backup_max_age_days,
                approval=approved,
                export=export,
                without_export=no_audit_export,
                replace=yes,
                reapply=service.purge_again(store, today=today),
                progress=_Bar(progress, "restoring"),
            )
    finally:
        db.dispose()
    header = result.header
    console.print(f"Backup {header.backup_id} of {header.created_on} restored.")
    console.print(
        f"  {result.counts.rows} rows in {len(result.counts.tables)} tables, "
        f"{result.counts.chunks} blob chunks of {result.counts.uploads} uploads"
    )
    if result.rolled_back_from is not None:
        console.print(
            f"  audit log rolled back from seq {result.rolled_back_from.seq} to "
            f"{header.audit_seq}, approved by {result.approved_by}; "
            f"{len(result.reapplied)} later purges applied again"
        )
    if result.newer_manifest is not None:
        console.print(
            f"  The live database had manifest version {result.newer_manifest}, newer than the "
            "backup's: publish it again with `safevoice manifest publish`."
        )
    console.print("  Everyone logs in again: sessions are not part of backups.")


def show(
    backup_file: Annotated[Path, typer.Argument(metavar="BACKUP", help="The backup file.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show a backup's cleartext header (no key needed)."""
    header = service.inspect_backup(backup_file)
    if as_json:
        print_json(header.to_json())
        return
    for name, value in header.to_json().items():
        console.print(f"{name}: {value}")


@keys_app.command("list")
def list_keys(
    keys_dir: KeysDirOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the backup keys and the day each one is destroyed."""
    settings = Settings.from_env()
    rows = []
    for key in _keys(settings, keys_dir).stored():
        due = key.destroy_due(settings.backup_max_age_days)
        rows.append(
            {
                "id": key.id,
                "created_on": key.created_on.isoformat(),
                "first_backup_on": key.first_backup_on.isoformat() if key.first_backup_on else None,
                "destroyed_on": due.isoformat() if due else None,
            }
        )
    if as_json:
        print_json(rows)
        return
    if not rows:
        console.print("There is no backup key.")
    for row in rows:
        console.print(
            f"{row['id']}  created {row['created_on']}  first backup "
            f"{row['first_backup_on'] or '-'}  destroyed on {row['destroyed_on'] or '-'}"
        )


@keys_app.command("prune")
def prune_keys(keys_dir: KeysDirOption = None) -> None:
    """Destroy the backup keys whose oldest backup is past the maximum backup age."""
    settings = Settings.from_env()
    keys = _keys(settings, keys_dir)
    stale = keys.remove_stale_temporaries()
    destroyed = keys.destroy_expired(
        today=utcnow().date(), max_age_days=settings.backup_max_age_days
    )
    if stale:
        console.print(f"Destroyed {stale} unfinished key file(s) an interrupted backup left.")
    for key in destroyed:
        console.print(f"Destroyed backup key {key.id} (created {key.created_on}).")
    if not destroyed:
        console.print("No backup key is due for destruction.")


def approve_restore(
    backup_file: Annotated[Path, typer.Argument(metavar="BACKUP", help="The backup file.")],
    server: Server = None,
    key: Annotated[Path | None, typer.Option(help="Your private key file.")] = None,
    out: Annotated[
        Path | None, typer.Option(help="Where to write the approval (default: next to BACKUP).")
    ] = None,
) -> None:
    """Approve restoring BACKUP, rolling the audit log back from your saved checkpoint."""
    if not backup_file.is_file():
        fail(f"There is no backup file {backup_file}.")
    header = service.inspect_backup(backup_file)
    ctx = logged_in(server)
    with ctx.api:
        manifest = ctx.manifest()
    saved = ctx.remembered.checkpoint
    if not saved:
        fail(
            "You have no saved checkpoint of this instance's audit log; verify the log with "
            "`safevoice audit verify` first."
        )
    try:
        checkpoint = Head(
            seq=int(saved["seq"]), hash=b64d(str(saved["head"]), size=32, what="checkpoint head")
        )
    except (KeyError, TypeError, ValueError, BadEncoding):
        fail("Your saved checkpoint is damaged; verify the audit log again.")
    keys = ctx.keys(key)
    signed = approvals.approve(
        header, checkpoint=checkpoint, instance_id=manifest.instance_id, keys=keys
    )
    target = out or backup_file.with_name(
        f"{backup_file.name}.approval-{keys.public.kind}-{keys.public.id}.json"
    )
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(signed.to_json(), handle, indent=2, sort_keys=True)
        handle.write("\n")
    console.print(f"Approval written: {target}")
    console.print(
        f"  restore of backup {header.backup_id} ({header.created_on}) rolls the audit log back "
        f"from seq {checkpoint.seq} to {header.audit_seq}"
    )
    console.print(f"  signed by {signed.approver} ({format_fingerprint(keys.public.fingerprint)})")
