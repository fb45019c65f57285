"""Lessons-learned rules: a member who can read a closed case proposes a summary; a second
member approves it; nothing of its text reaches the server or the audit log.

The four-eyes rule is kept twice: here, where an approval must come from another member than
the proposer and must verify over the exact summary's hash, and in every member's client, which
publishes a summary only with two valid approvals from two members of the manifest.
"""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from safevoice.audit import service as audit
from safevoice.cases.service import readable_case, readable_cases
from safevoice.crypto.committee_box import Sealed, check_shape, recipients_of
from safevoice.crypto.encoding import b64d, b64e, canonical_json
from safevoice.crypto.lesson import approval_verifies, binding
from safevoice.errors import BadRequest, Conflict, Forbidden, NotFound
from safevoice.instance.service import Snapshot
from safevoice.lessons.models import Lesson, LessonApproval
from safevoice.members.service import Principal
from safevoice.protocol.wire import ApprovalIn, LessonIn, LessonOut

CLOSED = "closed"


def _check_approval(
    snap: Snapshot, member_id: str, approval: str, *, lesson_id: str, digest: bytes
) -> bytes:
    sig = b64d(approval, size=64, what="approval")
    if not approval_verifies(
        snap.require_manifest(), member_id, sig, lesson_id=lesson_id, digest=digest
    ):
        raise BadRequest("The approval is not this member's signature over this summary.")
    return sig


def _audit(
    session: Session,
    snap: Snapshot,
    event: str,
    *,
    case_id: str,
    member: Principal,
    lesson_id: str,
    now: datetime,
) -> None:
    """The audit entry of a step: who, which case and lesson, never the text."""
    audit.record(
        session,
        event=event,
        case_id=case_id,
        actor=member.label,
        on=snap.today(now),
        detail={"lesson": lesson_id},
    )


def propose(
    session: Session, snap: Snapshot, *, member: Principal, body: LessonIn, now: datetime
) -> LessonOut:
    case = readable_case(session, label=member.label, case_id=body.case_id)
    if case.status != CLOSED:
        raise Conflict("Lessons are proposed for publication once the case is closed.")
    manifest = snap.require_manifest()
    digest = b64d(body.digest, size=32, what="digest")
    sealed = Sealed.from_json(body.sealed.model_dump())
    check_shape(
        sealed, list(recipients_of(manifest)), binding(manifest.instance_id, body.lesson_id)
    )
    sig = _check_approval(
        snap, member.subject, body.approval, lesson_id=body.lesson_id, digest=digest
    )
    if session.get(Lesson, body.lesson_id) is not None:
        raise Conflict("A lesson with this id already exists; the client must pick a new id.")
    session.add(
        Lesson(
            id=body.lesson_id,
            case_id=case.id,
            proposer=member.subject,
            digest=digest,
            sealed=canonical_json(sealed.to_json()),
        )
    )
    session.add(LessonApproval(lesson_id=body.lesson_id, member=member.subject, sig=sig))
    _audit(
        session,
        snap,
        "lesson.proposed",
        case_id=case.id,
        member=member,
        lesson_id=body.lesson_id,
        now=now,
    )
    session.flush()
    return _out(session, session.get_one(Lesson, body.lesson_id))


def approve(
    session: Session,
    snap: Snapshot,
    *,
    member: Principal,
    lesson_id: str,
    body: ApprovalIn,
    now: datetime,
) -> LessonOut:
    lesson = session.get(Lesson, lesson_id)
    if lesson is None:
        raise NotFound("There is no such lesson.")
    readable_case(session, label=member.label, case_id=lesson.case_id)
    if lesson.proposer == member.subject:
        raise Forbidden("A second committee member must approve a summary, not its author.")
    sig = _check_approval(
        snap, member.subject, body.approval, lesson_id=lesson_id, digest=lesson.digest
    )
    session.add(LessonApproval(lesson_id=lesson_id, member=member.subject, sig=sig))
    try:
        session.flush()
    except IntegrityError:
        raise Conflict("You already approved this summary.") from None
    _audit(
        session,
        snap,
        "lesson.approved",
        case_id=lesson.case_id,
        member=member,
        lesson_id=lesson_id,
        now=now,
    )
    return _out(session, lesson)


def listed(session: Session, *, member: Principal) -> list[LessonOut]:
    """The lessons of every case the member can read, in no meaningful order."""
    case_ids = {c.id for c in readable_cases(session, label=member.label)}
    rows = session.scalars(select(Lesson).order_by(Lesson.id))
    return [_out(session, row) for row in rows if row.case_id in case_ids]


def _out(session: Session, row: Lesson) -> LessonOut:
    approvals = session.scalars(
        select(LessonApproval)
        .where(LessonApproval.lesson_id == row.id)
        .order_by(LessonApproval.member)
    )
    return LessonOut.model_validate(
        {
            "lesson_id": row.id,
            "case_id": row.case_id,
            "proposer": row.proposer,
            "digest": b64e(row.digest),
            "sealed": json.loads(row.sealed),
            "approvals": [{"member": a.member, "sig": b64e(a.sig)} for a in approvals],
        }
    )
