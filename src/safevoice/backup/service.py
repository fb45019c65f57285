"""Backups and restores of a whole instance: database rows, blobs, instance salt and manifest.

A backup reads every table in one consistent snapshot (REPEATABLE READ on PostgreSQL, one read
transaction on SQLite), in primary-key order, through SQLAlchemy, so the same code serves both
databases; then the chunks of every upload through the blob store. Everything is pushed into one
encrypted stream (``safevoice.backup.archive``) under the current backup key. Login sessions are
left out: a restore must not bring back a token that was revoked after the backup.

A restore is all-or-nothing: every row is replaced in one transaction; blobs are written before
it commits and removed again if it fails. Restoring a backup older than the newest audit log
needs an approval a member or auditor signed beforehand; the restore then appends an
``instance.restored`` entry carrying it and re-applies every purge the newer log records, inside
the same transaction, so no purged case comes back.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from alembic.runtime.migration import MigrationContext
from sqlalchemy import Table, delete, func, insert, select
from sqlalchemy.orm import Session

from safevoice.attachments.models import Upload
from safevoice.audit import service as audit
from safevoice.audit.models import AuditEntry, AuditHead
from safevoice.backup import approval as approvals
from safevoice.backup.archive import (
    FILE_SUFFIX,
    ArchiveWriter,
    read_header,
    read_messages,
    remove_stale_archives,
)
from safevoice.backup.export import AuditExport, Head
from safevoice.backup.keys import BackupKey, KeyDirectory
from safevoice.cases.models import Case
from safevoice.clock import aware
from safevoice.crypto.backup import BackupHeader, new_id
from safevoice.crypto.encoding import b64d, b64e, canonical_json, u32
from safevoice.crypto.manifest import Manifest, SignedManifest, parse_payload
from safevoice.errors import BadEncoding, ConfigError, Conflict, Forbidden, VerificationFailed
from safevoice.instance import service as instance
from safevoice.instance.models import Channel
from safevoice.members.models import LoginSession
from safevoice.retention import policy as rules
from safevoice.retention import service as retention
from safevoice.retention.models import LegalHold
from safevoice.schema import metadata
from safevoice.storage import dialect, migrate
from safevoice.storage.blob_models import BlobChunk
from safevoice.storage.blobs import BlobStore, DatabaseBlobStore
from safevoice.storage.db import Database

# Rows worth of about this many bytes go into one encrypted message.
BATCH_BYTES = 1024 * 1024
BATCH_ROWS = 2000
RESTORED_EVENT = "instance.restored"
PURGED_EVENT = "case.purged"
OPERATOR = "operator"


class Progress(Protocol):
    def start(self, total: int) -> None: ...

    def advance(self, amount: int) -> None: ...


class _NoProgress:
    def start(self, total: int) -> None:
        pass

    def advance(self, amount: int) -> None:
        pass


def backed_up_tables() -> list[Table]:
    """Every table of the schema in dependency order, except the blob chunks (which travel
    through the blob store) and login sessions (never restored)."""
    skipped = {BlobChunk.__tablename__, LoginSession.__tablename__}
    return [t for t in metadata.sorted_tables if t.name not in skipped]


def _encode(value: Any) -> Any:
    if isinstance(value, bytes | memoryview):
        return {"$b": b64e(bytes(value))}
    if isinstance(value, datetime):
        return {"$t": aware(value).isoformat()}
    if isinstance(value, date):
        return {"$d": value.isoformat()}
    return value


def _decode(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    if "$b" in value:
        return b64d(value["$b"], what="stored value")
    if "$t" in value:
        return datetime.fromisoformat(value["$t"])
    if "$d" in value:
        return date.fromisoformat(value["$d"])
    raise BadEncoding("The backup holds a value of an unknown type.")


@dataclass
class Counts:
    tables: dict[str, int] = field(default_factory=dict)
    uploads: int = 0
    chunks: int = 0

    @property
    def rows(self) -> int:
        return sum(self.tables.values())

    def to_json(self) -> dict[str, Any]:
        return {"tables": self.tables, "uploads": self.uploads, "chunks": self.chunks}

    @classmethod
    def from_json(cls, data: Any) -> Counts:
        try:
            tables = {str(k): int(v) for k, v in data["tables"].items()}
            return cls(tables=tables, uploads=int(data["uploads"]), chunks=int(data["chunks"]))
        except (KeyError, TypeError, ValueError, AttributeError):
            raise BadEncoding("The backup's counts are malformed.") from None


@dataclass(frozen=True)
class BackupResult:
    path: Path
    header: BackupHeader
    counts: Counts
    size: int
    destroyed: list[BackupKey]
    stale_removed: int = 0
    """Temporary files of interrupted runs removed first (backups and key files)."""


def _revision(session: Session) -> str | None:
    return MigrationContext.configure(session.connection()).get_current_revision()


def _audit_head(session: Session) -> Head:
    row = session.get(AuditHead, audit.HEAD_ROW)
    if row is None:
        return Head(seq=-1, hash=audit.GENESIS)
    return Head(seq=row.seq, hash=bytes(row.hash))


def _read_chunk(session: Session, blobs: BlobStore, upload_id: str, index: int) -> bytes:
    if isinstance(blobs, DatabaseBlobStore):
        data = session.scalar(
            select(BlobChunk.data).where(BlobChunk.upload_id == upload_id, BlobChunk.index == index)
        )
        if data is None:
            raise Conflict(
                f"A chunk of upload {upload_id} disappeared during the backup (was a purge "
                "running?); run the backup again."
            )
        return bytes(data)
    try:
        return blobs.get_chunk(upload_id, index)
    except Exception as exc:
        raise Conflict(
            f"A chunk of upload {upload_id} could not be read during the backup (was a purge "
            "running?); run the backup again."
        ) from exc


def _rows(session: Session, table: Table) -> Iterator[list[list[Any]]]:
    """The table's rows in primary-key order, in batches of about BATCH_BYTES."""
    result = session.execute(
        select(table).order_by(*table.primary_key.columns).execution_options(yield_per=500)
    )
    batch: list[list[Any]] = []
    size = 0
    for row in result:
        encoded = [_encode(v) for v in row]
        batch.append(encoded)
        size += sum(len(v) if isinstance(v, str | bytes) else 8 for v in row)
        if size >= BATCH_BYTES or len(batch) >= BATCH_ROWS:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def create_backup(
    database: Database,
    blobs: BlobStore,
    *,
    keys: KeyDirectory,
    out_dir: Path,
    today: date,
    rotation_days: int,
    max_age_days: int,
    progress: Progress | None = None,
) -> BackupResult:
    """Remove what interrupted runs left, destroy aged-out keys, rotate if due, and write one
    encrypted backup into ``out_dir``."""
    progress = progress or _NoProgress()
    stale = remove_stale_archives(out_dir) + keys.remove_stale_temporaries()
    destroyed = keys.destroy_expired(today=today, max_age_days=max_age_days)
    key = keys.mark_used(keys.current(today=today, rotation_days=rotation_days), today=today)
    tables = backed_up_tables()
    with database.session(write=False) as session:
        dialect.read_consistently(database, session)
        signed = instance.current_signed_manifest(session)
        manifest = parse_payload(signed.payload) if signed is not None else None
        head = _audit_head(session)
        counts = Counts(
            tables={
                t.name: int(session.scalar(select(func.count()).select_from(t)) or 0)
                for t in tables
            }
        )
        uploads = [
            (upload_id, received)
            for upload_id, received in session.execute(
                select(Upload.id, Upload.received).order_by(Upload.id)
            )
        ]
        counts.uploads = len(uploads)
        counts.chunks = sum(received for _, received in uploads)
        header = BackupHeader(
            backup_id=new_id(),
            instance_id=manifest.instance_id if manifest is not None else None,
            created_on=today,
            key_id=key.id,
            revision=_revision(session),
            audit_seq=head.seq,
            audit_head=head.hash,
        )
        meta = {
            "revision": header.revision,
            "instance_salt": b64e(manifest.instance_salt) if manifest is not None else None,
            "manifest": signed.to_json() if signed is not None else None,
            "counts": counts.to_json(),
        }
        path = out_dir / f"safevoice-{today.isoformat()}-{header.backup_id}{FILE_SUFFIX}"
        writer = ArchiveWriter(path, key.key, header)
        try:
            progress.start(counts.rows + counts.chunks)
            writer.add("meta", canonical_json(meta))
            for table in tables:
                columns = [c.name for c in table.columns]
                for batch in _rows(session, table):
                    body = {"table": table.name, "columns": columns, "rows": batch}
                    writer.add("rows", canonical_json(body))
                    progress.advance(len(batch))
            for upload_id, received in uploads:
                for index in range(received):
                    data = _read_chunk(session, blobs, upload_id, index)
                    writer.add("blob", upload_id.encode(), u32(index), data)
                    progress.advance(1)
            writer.add("end", canonical_json(counts.to_json()), last=True)
            writer.commit()
        except BaseException:
            writer.abort()
            raise
    return BackupResult(
        path=path,
        header=header,
        counts=counts,
        size=path.stat().st_size,
        destroyed=destroyed,
        stale_removed=stale,
    )


@dataclass(frozen=True)
class PurgeRecord:
    """A purge the newer audit log records, to be applied again after the restore."""

    seq: int
    case_id: str
    on: date | None
    detail: Mapping[str, Any]


Reapply = Callable[[Session, PurgeRecord], bool]
"""Purge one case again inside the restore's transaction; False if it is already gone."""


def purge_again(blobs: BlobStore, *, today: date) -> Reapply:
    """Re-apply a purge the newer audit log records, through retention's own ``purge_case``,
    under the policy and on the day the log names, so the new entry says what the lost one
    said."""

    def run(session: Session, purge: PurgeRecord) -> bool:
        case = session.get(Case, purge.case_id)
        if case is None:
            return False
        # The newer log purged the case, so a hold the backup still shows was released since.
        session.execute(delete(LegalHold).where(LegalHold.case_id == purge.case_id))
        policy = str(purge.detail.get("policy", ""))
        on = purge.on or today
        if policy == rules.AFTER_CLOSURE and case.closed_on is None:
            # Closed after the backup: the log names the day of the purge, not of the closure.
            # Take the latest closure day consistent with that purge.
            channel = session.get(Channel, case.channel)
            days = channel.retain_days_after_closure if channel is not None else 0
            case.closed_on = on - timedelta(days=days)
        return retention.purge_case(session, blobs, purge.case_id, today=on, policy=policy)

    return run


@dataclass
class LiveState:
    """What the database holds before a restore, read once (the plan decides on it)."""

    revision: str | None
    manifest: Manifest | None
    head: Head | None
    uploads: set[str]
    holds_data: bool
    hashes: dict[int, bytes]
    purges: list[PurgeRecord]


@dataclass(frozen=True)
class RestoreResult:
    header: BackupHeader
    counts: Counts
    approved_by: str | None
    reapplied: list[str]
    rolled_back_from: Head | None
    newer_manifest: int | None
    """The live database's manifest version when it was newer than the backup's."""


def _purge_record(seq: int, data: Any) -> PurgeRecord | None:
    if not isinstance(data, dict) or data.get("event") != PURGED_EVENT:
        return None
    case_id = data.get("case_id")
    detail = data.get("detail") or {}
    if not isinstance(case_id, str) or not isinstance(detail, dict):
        raise VerificationFailed(f"The purge entry at seq {seq} names no case.")
    try:
        on = date.fromisoformat(data["on"]) if "on" in data else None
    except (TypeError, ValueError):
        raise VerificationFailed(f"The purge entry at seq {seq} has no valid day.") from None
    return PurgeRecord(seq=seq, case_id=case_id, on=on, detail=detail)


def _live_state(database: Database, backup_seq: int, wanted: set[int]) -> LiveState:
    with database.session(write=False) as session:
        revision = _revision(session)
        if revision is None:
            return LiveState(None, None, None, set(), False, {}, [])
        signed = instance.current_signed_manifest(session)
        manifest = parse_payload(signed.payload) if signed is not None else None
        head = _audit_head(session)
        hashes = {
            seq: bytes(digest)
            for seq, digest in session.execute(
                select(AuditEntry.seq, AuditEntry.hash).where(AuditEntry.seq.in_(wanted))
            )
        }
        purges = []
        for seq, body in session.execute(
            select(AuditEntry.seq, AuditEntry.body)
            .where(AuditEntry.seq > backup_seq)
            .order_by(AuditEntry.seq)
        ):
            record = _purge_record(seq, json.loads(bytes(body)))
            if record is not None:
                purges.append(record)
        holds_data = any(
            session.scalar(select(func.count()).select_from(t)) for t in backed_up_tables()
        )
        return LiveState(
            revision=revision,
            manifest=manifest,
            head=head if head.seq >= 0 else None,
            uploads=set(session.scalars(select(Upload.id))),
            holds_data=holds_data,
            hashes=hashes,
            purges=purges,
        )


def _prepare_revision(database: Database, header: BackupHeader) -> None:
    """A blank database is migrated to the backup's revision; any other must already be at it."""
    current = migrate.current_revision(database.writer)
    if current == header.revision:
        return
    if current is None and header.revision is not None:
        if not migrate.is_known(header.revision):
            raise ConfigError(
                f"The backup was taken at migration {header.revision}, which this version of "
                "SafeVoice does not have; restore it with the version that made it."
            )
        migrate.upgrade(database.writer, header.revision)
        return
    raise ConfigError(
        f"The database is at migration {current} but the backup was taken at "
        f"{header.revision}; restore into a blank database or one at {header.revision}, then "
        "run `safevoice admin migrate`."
    )


def _newest(live: LiveState, export: AuditExport | None) -> Head | None:
    """The newest head known, after checking that the live log and the export agree."""
    export_head = export.head if export is not None else None
    if live.head is not None and export is not None and export_head is not None:
        shorter, longer_hash = (
            (live.head, export.hash_at(live.head.seq))
            if export_head.seq >= live.head.seq
            else (export_head, live.hashes.get(export_head.seq))
        )
        if longer_hash != shorter.hash:
            raise Forbidden(
                f"The audit export and the live audit log disagree at seq {shorter.seq}."
            )
    heads = [h for h in (live.head, export_head) if h is not None]
    return max(heads, key=lambda h: h.seq) if heads else None


def _hash_on_newest(seq: int, live: LiveState, export: AuditExport | None) -> bytes | None:
    if seq < 0:
        return audit.GENESIS
    if export is not None and export.hash_at(seq) is not None:
        return export.hash_at(seq)
    return live.hashes.get(seq)


_UPLOAD_ID = re.compile(r"[A-Za-z0-9_-]{22}")


@contextmanager
def _damaged(what: str) -> Iterator[None]:
    """A part that decrypted but does not hold what its kind says is refused, not a crash.

    Only the key's holder can write such a part, yet a restore must still end with a sentence
    and nothing written, never a traceback."""
    try:
        yield
    except (ValueError, KeyError, TypeError, AttributeError, IndexError):
        raise VerificationFailed(f"The backup is damaged (its {what} is malformed).") from None


def read_meta(kind: str, parts: list[bytes]) -> dict[str, Any]:
    """The backup's first part: its description (counts and manifest)."""
    if kind != "meta" or len(parts) != 1:
        raise VerificationFailed("The backup does not start with its description.")
    with _damaged("description"):
        data = json.loads(parts[0].decode("utf-8"))
    if not isinstance(data, dict):
        raise VerificationFailed("The backup's description is malformed.")
    return data


def read_rows(
    parts: list[bytes], tables: Mapping[str, Table]
) -> tuple[Table, list[dict[str, Any]]]:
    """A ``rows`` part: its table and its rows, values decoded."""
    with _damaged("batch of rows"):
        batch = json.loads(parts[0].decode("utf-8"))
        table = tables.get(batch.get("table"))
        if table is None:
            raise VerificationFailed("The backup holds a table this schema lacks.")
        columns = batch["columns"]
        if not isinstance(columns, list) or not set(columns) <= set(table.columns.keys()):
            raise VerificationFailed("The backup holds a column this schema lacks.")
        rows = [{c: _decode(v) for c, v in zip(columns, row, strict=True)} for row in batch["rows"]]
    return table, rows


def read_blob(parts: list[bytes]) -> tuple[str, int, bytes]:
    """A ``blob`` part: upload id, chunk index and the chunk's bytes."""
    with _damaged("file chunk"):
        raw_id, index, data = parts
        upload_id = raw_id.decode("ascii")
    if not _UPLOAD_ID.fullmatch(upload_id):
        raise VerificationFailed("The backup is damaged (a file chunk names no valid upload).")
    return upload_id, int.from_bytes(index, "big"), data


def read_end(parts: list[bytes]) -> Counts:
    """The ``end`` part: the counts the backup announces."""
    with _damaged("end"):
        return Counts.from_json(json.loads(parts[0].decode("utf-8")))


def inspect_backup(path: Path) -> BackupHeader:
    return read_header(path)


def check_usable(
    header: BackupHeader, *, today: date, max_age_days: int, export: AuditExport | None
) -> None:
    """Refuse a backup before the database is touched: too old, or an export of another instance."""
    age = (today - header.created_on).days
    if age > max_age_days:
        raise Forbidden(
            f"This backup is {age} days old, past the maximum backup age of {max_age_days} "
            "days: it must not be restored, and its key is destroyed at the next backup run."
        )
    if export is not None and header.instance_id not in (None, export.instance_id):
        raise Forbidden("The audit export belongs to another instance than the backup.")


@dataclass(frozen=True)
class RestorePlan:
    """What a restore will do, decided before anything is written.

    ``older``: the audit log went further than the backup (a roll-back, which needs an export
    and an approval); ``newest``: the newest audit head known; ``purges``: the purges recorded
    after the backup, to apply again.
    """

    older: bool
    newest: Head | None
    purges: list[PurgeRecord]


def plan_restore(
    header: BackupHeader,
    live: LiveState,
    *,
    export: AuditExport | None,
    approval: approvals.Approval | None,
    without_export: bool,
    replace: bool,
    can_reapply: bool,
    backup_manifest: Manifest | None = None,
) -> RestorePlan:
    """The refusal rules of a restore, in order, from what is known before anything is written:
    the backup's header, the live state, the audit export, the approval and the manifest the
    backup holds (which trusts the approver when the database holds none).

    Pure: it reads only its arguments, so each rule is tested on its own.
    """
    live_instance = live.manifest.instance_id if live.manifest is not None else None
    if live_instance is not None and live_instance != header.instance_id:
        raise Forbidden(
            f"The database belongs to instance {live_instance}, the backup to another one."
        )
    if live.holds_data and not replace:
        raise Conflict(
            "The database holds data and the restore would replace all of it; confirm with --yes."
        )
    newest = _newest(live, export)
    older = newest is not None and newest.seq > header.audit_seq
    if newest is None and not without_export:
        raise Forbidden(
            "Nothing shows how far the audit log went after this backup: give the newest "
            "audit export with --audit-export FILE (auditors keep one), or --no-audit-export "
            "if none exists, accepting that later purges cannot be re-applied."
        )
    if (
        newest is not None
        and newest.seq >= header.audit_seq >= 0
        and _hash_on_newest(header.audit_seq, live, export) != header.audit_head
    ):
        raise Forbidden(
            f"The backup's audit head (seq {header.audit_seq}) is not part of the newest "
            "audit log: the backup comes from another history and is not restored."
        )
    if older and newest is not None:  # (older implies a newest head; the test narrows the type)
        approved = _approved_rollback(header, newest, export=export, approval=approval)
        _check_approval(approved, header, newest, trusted=live.manifest or backup_manifest)
    purges = _purges_after(header.audit_seq, live, export) if older else []
    if purges and not can_reapply:
        raise ConfigError("This installation cannot re-apply purges; nothing was restored.")
    return RestorePlan(older=older, newest=newest, purges=purges)


def _approved_rollback(
    header: BackupHeader,
    newest: Head,
    *,
    export: AuditExport | None,
    approval: approvals.Approval | None,
) -> approvals.Approval:
    """The approval a roll-back needs, refusing one without the export or the approval."""
    if export is None:
        raise Forbidden(
            f"This backup is older than the audit log (seq {header.audit_seq} < "
            f"{newest.seq}): give the newest audit export with "
            "--audit-export FILE so that every later purge is applied again."
        )
    if approval is None:
        raise Forbidden(
            f"This backup is older than the audit log (seq {header.audit_seq} < "
            f"{newest.seq}): restoring it needs an approval a member or "
            "auditor signed beforehand (`safevoice audit approve-restore BACKUP`), given "
            "with --approval FILE."
        )
    return approval


@dataclass
class _Loaded:
    """What the loader put in place: uploads it wrote to an outside blob store (removed again
    if the restore fails) and every upload the backup held."""

    written: set[str] = field(default_factory=set)
    restored_uploads: set[str] = field(default_factory=set)


def _load_rows(session: Session, parts: list[bytes], tables: dict[str, Table]) -> tuple[str, int]:
    """Insert one batch of rows; return its table's name and how many rows it held."""
    table, rows = read_rows(parts, tables)
    session.execute(insert(table), rows)
    return table.name, len(rows)


def _load_chunk(session: Session, parts: list[bytes], *, blobs: BlobStore) -> str:
    """Put one chunk of an upload where uploads live; return the upload's id."""
    upload_id, index, data = read_blob(parts)
    if isinstance(blobs, DatabaseBlobStore):
        session.add(BlobChunk(upload_id=upload_id, index=index, data=data))
    else:
        blobs.put_chunk(upload_id, index, data)
    return upload_id


def _load(
    session: Session,
    messages: Iterator[tuple[str, list[bytes]]],
    *,
    counts: Counts,
    blobs: BlobStore,
    live_uploads: set[str],
    loaded: _Loaded,
    progress: Progress,
) -> None:
    """Stream the backup's parts into the emptied database, one batch or chunk at a time, and
    check that what arrived is exactly what the backup's counts announce."""
    in_db = isinstance(blobs, DatabaseBlobStore)
    tables = {t.name: t for t in backed_up_tables()}
    for table in reversed(metadata.sorted_tables):
        if table.name != BlobChunk.__tablename__ or in_db:
            session.execute(delete(table))
    seen = Counts(tables=dict.fromkeys(tables, 0))
    ended = False
    for kind, parts in messages:
        if kind == "rows":
            name, count = _load_rows(session, parts, tables)
            seen.tables[name] += count
            progress.advance(count)
        elif kind == "blob":
            upload_id = read_blob(parts)[0]
            if not in_db and upload_id not in live_uploads:
                loaded.written.add(upload_id)  # before the write, so a failed one is removed too
            _load_chunk(session, parts, blobs=blobs)
            if upload_id not in loaded.restored_uploads:
                loaded.restored_uploads.add(upload_id)
                seen.uploads += 1
            seen.chunks += 1
            progress.advance(1)
        elif kind == "end":
            if read_end(parts) != counts:
                raise VerificationFailed("The backup's counts do not match.")
            ended = True
        else:
            raise VerificationFailed("The backup holds a part of an unknown kind.")
    if not ended or seen != counts:
        raise VerificationFailed("The backup's content does not match its counts.")
    session.flush()


def restore_backup(
    database: Database,
    blobs: BlobStore,
    path: Path,
    *,
    keys: KeyDirectory,
    today: date,
    max_age_days: int,
    approval: approvals.Approval | None = None,
    export: AuditExport | None = None,
    without_export: bool = False,
    replace: bool = False,
    reapply: Reapply | None = None,
    progress: Progress | None = None,
) -> RestoreResult:
    """Replace the database's content (and its blobs) with the backup at ``path``.

    The rules are checked first (``check_usable``, then ``plan_restore``, which also checks the
    approval against the trusted manifest); only then is the database emptied and the backup
    streamed in (``_load``), all in one transaction.
    """
    progress = progress or _NoProgress()
    header = read_header(path)
    key = keys.get(header.key_id)
    check_usable(header, today=today, max_age_days=max_age_days, export=export)
    _prepare_revision(database, header)
    wanted = {header.audit_seq}
    if export is not None and export.head is not None:
        wanted.add(export.head.seq)
    live = _live_state(database, header.audit_seq, wanted)
    messages = read_messages(path, key.key)
    meta = read_meta(*next(messages))
    counts = Counts.from_json(meta.get("counts"))
    backup_manifest = (
        parse_payload(SignedManifest.from_json(meta["manifest"]).payload)
        if meta.get("manifest")
        else None
    )
    plan = plan_restore(
        header,
        live,
        export=export,
        approval=approval,
        without_export=without_export,
        replace=replace,
        can_reapply=reapply is not None,
        backup_manifest=backup_manifest,
    )

    loaded = _Loaded()
    reapplied: list[str] = []
    progress.start(counts.rows + counts.chunks)
    try:
        with database.unit_of_work() as session:
            _load(
                session,
                messages,
                counts=counts,
                blobs=blobs,
                live_uploads=live.uploads,
                loaded=loaded,
                progress=progress,
            )
            if _audit_head(session) != Head(seq=header.audit_seq, hash=header.audit_head):
                raise VerificationFailed("The backup's audit log does not match its header.")
            if plan.older and approval is not None:
                audit.append(
                    session,
                    event=RESTORED_EVENT,
                    case_id=None,
                    actor=OPERATOR,
                    on=today,
                    detail=approval.detail(),
                )
                for purge in plan.purges:
                    if reapply is not None and reapply(session, purge):
                        reapplied.append(purge.case_id)
    except BaseException:
        for upload_id in loaded.written:
            blobs.delete(upload_id)
        raise
    if not isinstance(blobs, DatabaseBlobStore):
        for upload_id in live.uploads - loaded.restored_uploads:
            blobs.delete(upload_id)
    retention.forget(database)
    return RestoreResult(
        header=header,
        counts=counts,
        approved_by=approval.approver if plan.older and approval is not None else None,
        reapplied=reapplied,
        rolled_back_from=plan.newest if plan.older else None,
        newer_manifest=_newer_manifest(live.manifest, backup_manifest),
    )


def _check_approval(
    approval: approvals.Approval, header: BackupHeader, newest: Head, *, trusted: Manifest | None
) -> None:
    """The roll-back approval must be signed by a member or auditor of the trusted manifest
    (the live one, else the backup's)."""
    if trusted is None:
        raise Forbidden("No manifest is known to check the approver's key against.")
    approvals.check(approval, header, manifest=trusted, newest=newest)


def _newer_manifest(live: Manifest | None, backup: Manifest | None) -> int | None:
    """The live manifest's version when it is newer than the backup's (to warn the operator)."""
    if live is not None and (backup is None or live.version > backup.version):
        return live.version
    return None


def _purges_after(
    backup_seq: int, live: LiveState, export: AuditExport | None
) -> list[PurgeRecord]:
    """Every purge after the backup that the live log or the export records, each case once."""
    found: dict[str, PurgeRecord] = {p.case_id: p for p in live.purges}
    if export is not None:
        for entry in export.entries:
            if entry.seq > backup_seq:
                record = _purge_record(entry.seq, entry.data)
                if record is not None:
                    found.setdefault(record.case_id, record)
    return sorted(found.values(), key=lambda p: p.seq)
