"""What members (and the archive recipient) may see of cases.

A recipient sees a case only while holding a wrapped key for its current epoch (invariant 6,
COMPLIANCE.md G2); for every other case, existing or not, the answer is the same "not found",
so nobody learns whom a reporter excluded. Recipients are named by their label
(``member:<id>`` or ``archive:<id>``); a member who recused sees the case no more. Lists are
ordered by the random case id, never by arrival.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy import ScalarSelect, Select, and_, exists, func, select, update
from sqlalchemy.orm import Session

from safevoice.audit import service as audit
from safevoice.cases.models import Case, CaseObject, Recusal, WrappedKey
from safevoice.crypto.encoding import b64d, b64e
from safevoice.errors import BadEncoding, BadRequest, NotFound
from safevoice.protocol import deadlines
from safevoice.protocol.listing import marks_digest
from safevoice.protocol.wire import (
    CaseDetail,
    CaseExport,
    CaseObjectOut,
    CasePage,
    CaseSummary,
    ReadableSet,
    WrappedKeyOut,
)

NOT_FOUND = "There is no such case, or you are not one of its recipients."


def summary(case: Case, today: date, *, objects: int) -> CaseSummary:
    return CaseSummary(
        id=case.id,
        channel=case.channel,
        status=case.status,
        intake_mode=case.intake_mode,
        received_on=case.received_on,
        ack_due_on=case.ack_due_on,
        feedback_due_on=case.feedback_due_on,
        acknowledged_on=case.acknowledged_on,
        feedback_on=case.feedback_on,
        closed_on=case.closed_on,
        outcome=case.outcome,
        handler=case.handler,
        offered_to=case.offered_to,
        epoch=case.epoch,
        rekey_needed=case.rekey_needed,
        thread_length=case.thread_next,
        last_reporter_seq=case.last_reporter_seq,
        ack_overdue=ack_overdue(case, today=today),
        feedback_overdue=feedback_overdue(case, today=today),
        today=today,
        version=case.version,
        objects=objects,
    )


def ack_overdue(case: Case, *, today: date) -> bool:
    """Whether the case's acknowledgement is late on ``today``; the same answer for every reader."""
    return deadlines.ack_overdue(
        ack_due_on=case.ack_due_on, acknowledged_on=case.acknowledged_on, today=today
    )


def feedback_overdue(case: Case, *, today: date) -> bool:
    """Whether the case's feedback is late on ``today``; the same answer for every reader."""
    return deadlines.feedback_overdue(
        feedback_due_on=case.feedback_due_on,
        feedback_on=case.feedback_on,
        closed_on=case.closed_on,
        today=today,
    )


def object_out(row: CaseObject) -> CaseObjectOut:
    return CaseObjectOut.model_validate(
        {
            "chain": row.chain,
            "seq": row.seq,
            "envelope": json.loads(row.envelope),
            "redaction": json.loads(row.redaction) if row.redaction is not None else None,
        }
    )


def _readable(label: str) -> Select[Case]:
    """Cases for which the recipient holds a key of the current epoch and has not recused."""
    query = select(Case).join(
        WrappedKey,
        and_(
            WrappedKey.case_id == Case.id,
            WrappedKey.epoch == Case.epoch,
            WrappedKey.recipient == label,
        ),
    )
    kind, _, ident = label.partition(":")
    if kind != "member":
        return query
    recused = select(Recusal.case_id).where(Recusal.case_id == Case.id, Recusal.member_id == ident)
    return query.where(~recused.exists())


def changed(on: date) -> dict[str, Any]:
    """The values that advance a case's change marker (``Case.version``, ``Case.changed_on``),
    for an UPDATE of the case that already happens."""
    return {"version": Case.version + 1, "changed_on": on}


def mark_changed(session: Session, case_id: str, *, on: date) -> None:
    """Advance the case's change marker after a change that appends no object (a claim, a
    recusal, an action's state, a redaction): a member's next sync fetches the case again.
    Appending an object advances it in ``transcript.append``."""
    session.execute(update(Case).where(Case.id == case_id).values(**changed(on)))


def readable_cases(session: Session, *, label: str) -> list[Case]:
    return list(session.scalars(_readable(label).order_by(Case.id)))


LIST_PAGE = 500
LIST_PAGE_MAX = 1000
_CURSOR_VERSION = b"\x01"
BAD_CURSOR = (
    "The cursor is not one this server gave out (or it was cut short); list the cases again "
    "from the first page, without a cursor."
)


def cursor_after(case_id: str) -> str:
    """The opaque cursor of the page that starts after ``case_id``. Clients only hand it back;
    what is inside may change with the server."""
    return b64e(_CURSOR_VERSION + b64d(case_id, size=16, what="case id"))


def case_after(cursor: str) -> str:
    """The case id a cursor continues after; a sentence (400) for anything else."""
    try:
        raw = b64d(cursor, size=17, what="cursor")
    except BadEncoding:
        raise BadRequest(BAD_CURSOR) from None
    if raw[:1] != _CURSOR_VERSION:
        raise BadRequest(BAD_CURSOR)
    return b64e(raw[1:])


def _object_count() -> ScalarSelect[int]:
    """How many objects the case holds, counted from the stored rows in the same statement as
    the case (one snapshot, so its version and count belong together): an object removed
    behind the server's back changes the case's mark."""
    return (
        select(func.count()).where(CaseObject.case_id == Case.id).correlate(Case).scalar_subquery()
    )


def list_for_recipient(
    session: Session,
    *,
    label: str,
    today: date,
    overdue_only: bool = False,
    changed_since: date | None = None,
    cursor: str | None = None,
    limit: int = LIST_PAGE,
) -> CasePage:
    """One page of the readable cases' summaries in case-id order (keyset, never an offset).

    With ``changed_since``, only cases whose latest change was on that day or later; the first
    page of such a listing also carries the digest of every readable case's marks, which lets
    the client notice what the day filter cannot show (``protocol.listing``).
    """
    query = _readable(label).add_columns(_object_count()).order_by(Case.id).limit(limit + 1)
    if cursor is not None:
        query = query.where(Case.id > case_after(cursor))
    if changed_since is not None:
        query = query.where(Case.changed_on >= changed_since)
    rows = session.execute(query).all()
    more = len(rows) > limit
    page = [(case, int(count)) for case, count in rows[:limit]]
    summaries = [summary(case, today, objects=count) for case, count in page]
    if overdue_only:
        summaries = [s for s in summaries if s.ack_overdue or s.feedback_overdue]
    return CasePage(
        cases=summaries,
        next=cursor_after(page[-1][0].id) if more else None,
        today=today,
        readable=(
            readable_set(session, label=label)
            if changed_since is not None and cursor is None
            else None
        ),
    )


def readable_set(session: Session, *, label: str) -> ReadableSet:
    """The count and marks digest of every case the recipient can read: one narrow query
    (ids, versions and object counts from the index), whatever the number of cases."""
    marks = session.execute(
        _readable(label).with_only_columns(Case.id, Case.version, _object_count())
    ).all()
    return ReadableSet(
        count=len(marks),
        digest=marks_digest(
            (case_id, (version, int(objects))) for case_id, version, objects in marks
        ),
    )


def readable_case(session: Session, *, label: str, case_id: str) -> Case:
    case = session.scalars(_readable(label).where(Case.id == case_id)).one_or_none()
    if case is None:
        raise NotFound(NOT_FOUND)
    return case


def detail_for_recipient(session: Session, *, label: str, case_id: str, today: date) -> CaseDetail:
    case = readable_case(session, label=label, case_id=case_id)
    audit.record_reads(session, case_ids=[case.id], actor=label, on=today)
    objects = list(
        session.scalars(
            select(CaseObject)
            .where(CaseObject.case_id == case.id)
            .order_by(CaseObject.chain, CaseObject.seq)
        )
    )
    wraps = session.scalars(
        select(WrappedKey).where(
            WrappedKey.case_id == case.id,
            WrappedKey.recipient == label,
        )
    )
    shown = [object_out(o) for o in objects]
    return CaseDetail(
        case=summary(case, today, objects=len(shown)),
        objects=shown,
        wrapped_keys=[
            WrappedKeyOut(epoch=w.epoch, recipient=w.recipient, sealed=b64e(w.sealed))
            for w in wraps
        ],
        recused=sorted(
            session.scalars(select(Recusal.member_id).where(Recusal.case_id == case.id))
        ),
    )


EXPORT_PAGE = 500


def export_for_recipient(
    session: Session, *, label: str, today: date, after: str | None, limit: int
) -> CaseExport:
    """Readable cases in pages, each with its objects and the member's own wrapped keys.

    Three queries per page whatever its size, so a member can sync thousands of cases quickly.
    """
    query = _readable(label).order_by(Case.id).limit(limit + 1)
    if after is not None:
        query = query.where(Case.id > after)
    page = list(session.scalars(query))
    more = len(page) > limit
    page = page[:limit]
    ids = [case.id for case in page]
    audit.record_reads(session, case_ids=ids, actor=label, on=today)
    objects: dict[str, list[CaseObjectOut]] = {i: [] for i in ids}
    for row in session.scalars(
        select(CaseObject)
        .where(CaseObject.case_id.in_(ids))
        .order_by(CaseObject.case_id, CaseObject.chain, CaseObject.seq)
    ):
        objects[row.case_id].append(object_out(row))
    wraps: dict[str, list[WrappedKeyOut]] = {i: [] for i in ids}
    for wrap in session.scalars(
        select(WrappedKey).where(WrappedKey.case_id.in_(ids), WrappedKey.recipient == label)
    ):
        wraps[wrap.case_id].append(
            WrappedKeyOut(epoch=wrap.epoch, recipient=wrap.recipient, sealed=b64e(wrap.sealed))
        )
    recused: dict[str, list[str]] = {i: [] for i in ids}
    for recusal in session.scalars(select(Recusal).where(Recusal.case_id.in_(ids))):
        recused[recusal.case_id].append(recusal.member_id)
    return CaseExport(
        cases=[
            CaseDetail(
                case=summary(case, today, objects=len(objects[case.id])),
                objects=objects[case.id],
                wrapped_keys=wraps[case.id],
                recused=sorted(recused[case.id]),
            )
            for case in page
        ],
        next=ids[-1] if more else None,
        today=today,
    )


def visible_case_ids(session: Session, *, label: str, member_id: str) -> set[str]:
    """The cases a member may know exist: those they hold a key for, or recused from."""
    held = set(session.scalars(select(WrappedKey.case_id).where(WrappedKey.recipient == label)))
    recused = set(session.scalars(select(Recusal.case_id).where(Recusal.member_id == member_id)))
    return held | recused


def flag_for_rekey(session: Session, labels: Iterable[str], *, on: date) -> int:
    """Make every case that still has a key wrapped to one of these recipients wait for a
    re-key: nothing new is written to it under keys a departed member or a lost key could
    open, until a remaining member (or the archive recipient) runs ``safevoice cases rekey
    --all``. Returns how many cases now wait."""
    recipients = sorted(labels)
    if not recipients:
        return 0
    held = exists().where(
        WrappedKey.case_id == Case.id,
        WrappedKey.epoch == Case.epoch,
        WrappedKey.recipient.in_(recipients),
    )
    flagged = session.execute(
        update(Case)
        .where(held, Case.rekey_needed.is_(False))
        .values(rekey_needed=True, **changed(on))
        .execution_options(synchronize_session=False)
    )
    return int(flagged.rowcount)  # type: ignore[attr-defined]  # Session.execute is typed as Result; an UPDATE returns a CursorResult, which has rowcount


def waiting_for_rekey(session: Session) -> int:
    return int(
        session.scalar(select(func.count()).select_from(Case).where(Case.rekey_needed.is_(True)))
        or 0
    )
