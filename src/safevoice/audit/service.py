"""The audit hook and the hash chain.

``record`` writes inside the caller's transaction. Events whose actor is the reporter go to the
staging table with their day only; everything else is appended to the chain at once under a
lock on ``audit_head``, so two concurrent appends can never fork it. An entry's hash is
``BLAKE2b("safevoice-audit-v1" ‖ prev ‖ stored bytes)``. Entries never carry report content,
anything identifying a reporter, or whom a reporter excluded.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from safevoice.audit.models import AuditEntry, AuditHead, AuditStaging
from safevoice.crypto.encoding import canonical_json
from safevoice.crypto.hashing import audit_hash
from safevoice.crypto.login import random_id

REPORTER = "reporter"
GENESIS = bytes(32)
HEAD_ROW = 1


def entry_body(
    *,
    seq: int | None,
    event: str,
    case_id: str | None,
    actor: str,
    on: date,
    detail: Mapping[str, str | int] | None,
) -> bytes:
    body: dict[str, object] = {
        "event": event,
        "case_id": case_id,
        "actor": actor,
        "on": on.isoformat(),
    }
    if seq is not None:
        body["seq"] = seq
    if detail:
        body["detail"] = dict(detail)
    return canonical_json(body)


def staged_row(
    *, event: str, case_id: str | None, on: date, detail: Mapping[str, str | int] | None = None
) -> dict[str, object]:
    """The staging row of a reporter event, for callers that write rows in bulk."""
    body = entry_body(seq=None, event=event, case_id=case_id, actor=REPORTER, on=on, detail=detail)
    return {"id": random_id(), "on": on, "body": body}


def record(
    session: Session,
    *,
    event: str,
    case_id: str | None,
    actor: str,
    on: date,
    detail: Mapping[str, str | int] | None = None,
) -> None:
    """Record an audit event in the caller's transaction."""
    if actor == REPORTER:
        row = staged_row(event=event, case_id=case_id, on=on, detail=detail)
        session.execute(insert(AuditStaging), [row])
        return
    append(session, event=event, case_id=case_id, actor=actor, on=on, detail=detail)


def _locked_head(session: Session) -> AuditHead:
    head = session.scalars(
        select(AuditHead).where(AuditHead.id == HEAD_ROW).with_for_update()
    ).one_or_none()
    if head is None:
        head = AuditHead(id=HEAD_ROW, seq=-1, hash=GENESIS)
        session.add(head)
        session.flush()
    return head


def append(
    session: Session,
    *,
    event: str,
    case_id: str | None,
    actor: str,
    on: date,
    detail: Mapping[str, str | int] | None = None,
) -> AuditEntry:
    """Append one entry to the chain (used directly by the daily fold of staged events)."""
    head = _locked_head(session)
    seq = head.seq + 1
    body = entry_body(seq=seq, event=event, case_id=case_id, actor=actor, on=on, detail=detail)
    digest = audit_hash(head.hash, body)
    entry = AuditEntry(seq=seq, body=body, hash=digest)
    session.add(entry)
    head.seq, head.hash = seq, digest
    return entry


def append_many(
    session: Session,
    events: Iterable[tuple[str, str | None, str, date, Mapping[str, str | int] | None]],
) -> int:
    """Append several entries (event, case id, actor, day, detail) under one lock of the head."""
    head = _locked_head(session)
    rows: list[dict[str, object]] = []
    seq, digest = head.seq, head.hash
    for event, case_id, actor, on, detail in events:
        seq += 1
        body = entry_body(seq=seq, event=event, case_id=case_id, actor=actor, on=on, detail=detail)
        digest = audit_hash(digest, body)
        rows.append({"seq": seq, "body": body, "hash": digest})
    if rows:
        session.execute(insert(AuditEntry), rows)
        head.seq, head.hash = seq, digest
    return len(rows)
