"""The audit hook and the hash chain.

``record`` writes inside the caller's transaction. Events whose actor is the reporter go to the
staging table with their day only; everything else is appended to the chain at once under a
lock on ``audit_head``, so two concurrent appends can never fork it. An entry's hash is
``BLAKE2b("safevoice-audit-v1" ‖ prev ‖ stored bytes)``. Entries never carry report content,
anything identifying a reporter, or whom a reporter excluded.

``fold_staged`` moves the staged reporter events of complete days into the chain in an order
drawn from the system's CSPRNG, with the day only; staging stays a plain insert, so submissions
never wait for the chain's lock.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Mapping
from datetime import date

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from safevoice.audit.models import AuditEntry, AuditHead, AuditStaging
from safevoice.crypto.encoding import canonical_json
from safevoice.crypto.hashing import audit_body_hash, entry_hash
from safevoice.crypto.login import random_id
from safevoice.protocol.audit import body_version

REPORTER = "reporter"
ENTRY_VERSION = 2
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
        # Version 2 chains the hash of these bytes, so an entry can be withheld from a member
        # who may not know its case while their client still re-hashes the whole chain.
        "v": ENTRY_VERSION,
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
    digest = entry_hash(head.hash, body, version=ENTRY_VERSION)
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
        digest = entry_hash(digest, body, version=ENTRY_VERSION)
        rows.append({"seq": seq, "body": body, "hash": digest})
    if rows:
        session.execute(insert(AuditEntry), rows)
        head.seq, head.hash = seq, digest
    return len(rows)


def record_reads(session: Session, *, case_ids: Iterable[str], actor: str, on: date) -> int:
    """One ``case.read`` entry per case a member fetched (never per message)."""
    return append_many(
        session, ((("case.read", case_id, actor, on, None)) for case_id in sorted(set(case_ids)))
    )


def fold_staged(session: Session, *, today: date) -> int:
    """Fold the staged reporter events of days before ``today`` into the chain.

    Only complete days are folded, so an entry never narrows a submission below its day; within
    them the order is a uniform shuffle from ``secrets.SystemRandom``, so the chain never orders
    submissions by time. The head is locked before the staging rows are read, so two folds
    running at once (several workers or hosts) add each event exactly once. Returns how many.
    """
    _locked_head(session)
    staged = list(session.scalars(select(AuditStaging).where(AuditStaging.on < today)))
    if not staged:
        return 0
    secrets.SystemRandom().shuffle(staged)
    events = []
    for row in staged:
        data = json.loads(row.body)
        events.append(
            (str(data["event"]), data.get("case_id"), REPORTER, row.on, data.get("detail"))
        )
    session.execute(delete(AuditStaging).where(AuditStaging.id.in_([r.id for r in staged])))
    return append_many(session, events)


def head(session: Session) -> tuple[int, bytes]:
    """The chain's newest sequence number and hash (-1 and the genesis hash when empty)."""
    row = session.get(AuditHead, HEAD_ROW)
    return (row.seq, row.hash) if row is not None else (-1, GENESIS)


def entries(
    session: Session, *, after: int, upto: int | None, limit: int, event: str | None = None
) -> list[AuditEntry]:
    """Entries with ``after < seq <= upto`` in chain order (restore entries only, if asked)."""
    query = select(AuditEntry).where(AuditEntry.seq > after).order_by(AuditEntry.seq).limit(limit)
    if upto is not None:
        query = query.where(AuditEntry.seq <= upto)
    if event is not None:
        # The event name sits in the canonical JSON body; this is a filter, the client checks.
        needle = f'"event":"{event}"'.encode()
        return [e for e in session.scalars(query.limit(None)) if needle in e.body][:limit]
    return list(session.scalars(query))


def shown_to(entry: AuditEntry, visible: set[str] | None) -> tuple[bytes | None, bytes | None]:
    """(body, body hash) of an entry as a reader may see it; ``visible`` None means everything.

    A version-2 entry about a case outside ``visible`` is shown as the hash of its bytes only:
    the reader's client still re-hashes the chain, but learns neither the case id nor who did
    what in it. Version-1 entries (written before withholding existed) are shown whole, since
    their hash covers the bytes themselves.
    """
    if visible is None or body_version(entry.body) != ENTRY_VERSION:
        return entry.body, None
    case_id = json.loads(entry.body).get("case_id")
    if case_id is None or case_id in visible:
        return entry.body, None
    return None, audit_body_hash(entry.body)
