"""HTTP routes of lessons learned: propose a summary, approve one, list them (members)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, status

from safevoice.lessons import service
from safevoice.protocol.wire import ID_PATTERN, ApprovalIn, LessonIn, LessonOut
from safevoice.web.answers import DeclaredRoute, refusals
from safevoice.web.deps import MemberDep, NowDep, SessionDep, SnapshotDep

router = APIRouter(prefix="/api/v1", tags=["lessons"], route_class=DeclaredRoute)

LessonId = Annotated[str, Path(min_length=22, max_length=22, pattern=ID_PATTERN)]


@router.get("/lessons", response_model=list[LessonOut])
def get_lessons(member: MemberDep, session: SessionDep) -> list[LessonOut]:
    """Proposed summaries of the cases the member can read, with their approvals."""
    return service.listed(session, member=member)


@router.post(
    "/lessons",
    responses=refusals(404, 409),
    response_model=LessonOut,
    status_code=status.HTTP_201_CREATED,
)
def post_lesson(
    body: LessonIn, member: MemberDep, session: SessionDep, snap: SnapshotDep, now: NowDep
) -> LessonOut:
    """Propose a closed case's summary for the digest, with the proposer's own approval."""
    return service.propose(session, snap, member=member, body=body, now=now)


@router.post(
    "/lessons/{lesson_id}/approvals",
    responses=refusals(409),
    response_model=LessonOut,
    status_code=status.HTTP_201_CREATED,
)
def post_approval(
    lesson_id: LessonId,
    body: ApprovalIn,
    member: MemberDep,
    session: SessionDep,
    snap: SnapshotDep,
    now: NowDep,
) -> LessonOut:
    """A second member's approval of one exact summary."""
    return service.approve(session, snap, member=member, lesson_id=lesson_id, body=body, now=now)
