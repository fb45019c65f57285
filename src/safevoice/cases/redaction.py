"""Removing personal data that is manifestly irrelevant from a case (COMPLIANCE.md D9).

A member who reads the case replaces one object (a report, message or note) by a redacted
version they encrypted under the same key, with a signed record (crypto/redaction.py). The
server checks that the record and the redacted version are the member's, for exactly that
object, on today's day, then overwrites the original ciphertext: the row keeps the original's
transcript hash, so the chain still verifies, and no copy of the original stays. The files the
record lists as removed must be attachments of that object (of the case, for files attached
before their position was recorded); their chunks and rows are deleted in the same request.
Once the request committed, the database is made to forget the overwritten bytes
(storage/dialect.py ``reclaim_deleted``, as the retention purge does). The audit entry names
the object and how many files went, never their content.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from safevoice.audit import service as audit
from safevoice.cases import transcript
from safevoice.cases.models import CaseObject
from safevoice.cases.schemas import RedactionIn
from safevoice.cases.service import mark_changed
from safevoice.crypto.encoding import canonical_json
from safevoice.crypto.envelope import Envelope
from safevoice.crypto.redaction import REDACTABLE_KINDS, Redaction, check_redacted
from safevoice.errors import (
    BadEnvelope,
    BadRequest,
    Forbidden,
    IncompleteDeletion,
    NotFound,
    VerificationFailed,
)
from safevoice.instance.service import Snapshot
from safevoice.members.service import Principal
from safevoice.protocol.wire import ObjectOut
from safevoice.storage import dialect
from safevoice.storage.db import Database

log = logging.getLogger("safevoice.cases")

# The tables whose freed bytes must be forgotten after a redaction, and after one that removed
# files (the database blob store keeps their chunks in ``blob_chunk``).
TOUCHED_TABLES = ("case_object",)
TOUCHED_WITH_FILES = (*TOUCHED_TABLES, "attachment", "upload", "blob_chunk")

RemoveFiles = Callable[[Session, CaseObject, list[str]], None]
"""Checks that every listed upload is attached to the object, then deletes their chunks and
rows (attachments/service.py ``remove_from_object``, handed in by the router)."""


def redact(
    session: Session,
    snap: Snapshot,
    *,
    principal: Principal,
    case_id: str,
    body: RedactionIn,
    now: datetime,
    remove_files: RemoveFiles,
) -> ObjectOut:
    """Replace an object's ciphertext by the member's redacted version, delete the files the
    record removes; an audit entry."""
    case = transcript.load_case(session, case_id)
    author = transcript.author_for(session, snap, principal, case)
    if author.is_reporter:
        raise Forbidden("Only a committee member can redact a case.")
    row = session.scalars(
        select(CaseObject).where(
            CaseObject.case_id == case.id,
            CaseObject.chain == body.chain,
            CaseObject.seq == body.seq,
        )
    ).one_or_none()
    if row is None:
        raise NotFound(f"The case has no {body.chain} object #{body.seq}.")
    if row.kind not in REDACTABLE_KINDS:
        raise BadRequest("Only a report, a message or a note can be redacted.")
    original = Envelope.from_json(json.loads(row.envelope))
    redacted = Envelope.from_json(body.envelope.model_dump())
    record = Redaction.from_json(body.redaction.model_dump())
    if redacted.associated_data() != original.associated_data():
        raise BadEnvelope("The redacted version must keep the original's place, sender and epoch.")
    if record.hash != row.hash:
        raise BadEnvelope("The redaction record names another object than the one stored there.")
    if record.by != author.label:
        raise BadEnvelope("The redaction record names another member than the one logged in.")
    today = snap.today(now)
    if record.on != today.isoformat():
        raise BadEnvelope(f"The redaction record must carry today's day ({today.isoformat()}).")
    try:
        check_redacted(redacted, record, sign_keys=[author.sign_key], chain=row.chain, seq=row.seq)
    except VerificationFailed as exc:
        raise BadEnvelope(f"The redaction is not signed by you: {exc.message}") from None
    removed = [removed.id for removed in record.files]
    if removed:
        remove_files(session, row, removed)
    row.envelope = canonical_json(redacted.to_json())
    row.redaction = canonical_json(record.to_json())
    mark_changed(session, case.id, on=today)
    detail: dict[str, str | int] = {"chain": row.chain, "seq": row.seq, "kind": row.kind}
    if removed:
        detail["files"] = len(removed)
    audit.record(
        session,
        event="case.redaction",
        case_id=case.id,
        actor=author.label,
        on=today,
        detail=detail,
    )
    return ObjectOut(chain=row.chain, seq=row.seq, hash=record.to_json()["hash"])


def forget(database: Database, *, files: bool = False) -> None:
    """After the redaction committed (a background task of the request): make the database
    drop the overwritten ciphertext, and the rows and chunks of removed ``files``, with the
    same forgetting as a purge (SQLite's WAL checkpointed and the file vacuumed, PostgreSQL's
    tables vacuumed and rewritten). When a reader holds the old pages, the daily retention
    run, which forgets the same way, removes them; the log says so without naming the case."""
    tables = TOUCHED_WITH_FILES if files else TOUCHED_TABLES
    try:
        dialect.reclaim_deleted(database, tables, ordered=tables)
    except (IncompleteDeletion, SQLAlchemyError):
        log.warning(
            "what a redaction removed is still in the database's files; "
            "the next retention run removes it"
        )
