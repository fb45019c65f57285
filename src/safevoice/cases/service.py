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

from sqlalchemy import Select, and_, exists, func, select, update
from sqlalchemy.orm import Session

from safevoice.audit import service as audit
from safevoice.cases.models import Case, CaseObject, Recusal, WrappedKey
from safevoice.crypto.encoding import b64e
from safevoice.errors import NotFound
from safevoice.protocol import deadlines
from safevoice.protocol.wire import (
    CaseDetail,
    CaseExport,
    CaseObjectOut,
    CaseSummary,
    WrappedKeyOut,
)

NOT_FOUND = "There is no such case, or you are not one of its recipients."


def summary(case: Case, today: date) -> CaseSummary:
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


def readable_cases(session: Session, *, label: str) -> list[Case]:
    return list(session.scalars(_readable(label).order_by(Case.id)))


def list_for_recipient(
    session: Session, *, label: str, today: date, overdue_only: bool = False
) -> list[CaseSummary]:
    summaries = [summary(case, today) for case in readable_cases(session, label=label)]
    if overdue_only:
        return [s for s in summaries if s.ack_overdue or s.feedback_overdue]
    return summaries


def readable_case(session: Session, *, label: str, case_id: str) -> Case:
    case = session.scalars(_readable(label).where(Case.id == case_id)).one_or_none()
    if case is None:
        raise NotFound(NOT_FOUND)
    return case


def detail_for_recipient(session: Session, *, label: str, case_id: str, today: date) -> CaseDetail:
    case = readable_case(session, label=label, case_id=case_id)
    audit.record_reads(session, case_ids=[case.id], actor=label, on=today)
    objects = session.scalars(
        select(CaseObject)
        .where(CaseObject.case_id == case.id)
        .order_by(CaseObject.chain, CaseObject.seq)
    )
    wraps = session.scalars(
        select(WrappedKey).where(
            WrappedKey.case_id == case.id,
            WrappedKey.recipient == label,
        )
    )
    return CaseDetail(
        case=summary(case, today),
        objects=[object_out(o) for o in objects],
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
                case=summary(case, today),
                objects=objects[case.id],
                wrapped_keys=wraps[case.id],
                recused=sorted(recused[case.id]),
            )
            for case in page
        ],
        next=ids[-1] if more else None,
    )


def visible_case_ids(session: Session, *, label: str, member_id: str) -> set[str]:
    """The cases a member may know exist: those they hold a key for, or recused from."""
    held = set(session.scalars(select(WrappedKey.case_id).where(WrappedKey.recipient == label)))
    recused = set(session.scalars(select(Recusal.case_id).where(Recusal.member_id == member_id)))
    return held | recused


def flag_for_rekey(session: Session, labels: Iterable[str]) -> int:
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
        .values(rekey_needed=True)
        .execution_options(synchronize_session=False)
    )
    return int(flagged.rowcount)  # type: ignore[attr-defined]  # Session.execute is typed as Result; an UPDATE returns a CursorResult, which has rowcount


def waiting_for_rekey(session: Session) -> int:
    return int(
        session.scalar(select(func.count()).select_from(Case).where(Case.rekey_needed.is_(True)))
        or 0
    )
