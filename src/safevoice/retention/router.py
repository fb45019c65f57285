"""HTTP routes of retention: legal holds (members) and the retention state (auditors)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, status

from safevoice.protocol.wire import ID_PATTERN, HoldOut, RetentionOverview
from safevoice.retention import service
from safevoice.retention.schemas import HoldIn
from safevoice.web.answers import DeclaredRoute, refusals
from safevoice.web.deps import AuditorDep, MemberDep, NowDep, SessionDep, SnapshotDep

router = APIRouter(prefix="/api/v1", tags=["retention"], route_class=DeclaredRoute)

CaseId = Annotated[str, Path(min_length=22, max_length=22, pattern=ID_PATTERN)]


@router.post(
    "/cases/{case_id}/hold",
    responses=refusals(409),
    response_model=HoldOut,
    status_code=status.HTTP_201_CREATED,
)
def post_hold(
    case_id: CaseId,
    body: HoldIn,
    member: MemberDep,
    session: SessionDep,
    snap: SnapshotDep,
    now: NowDep,
) -> HoldOut:
    """Place a legal hold on a case the member can read: it is not purged until released."""
    return service.place_hold(
        session, label=member.label, case_id=case_id, reason=body.reason, today=snap.today(now)
    )


@router.delete(
    "/cases/{case_id}/hold", responses=refusals(409), status_code=status.HTTP_204_NO_CONTENT
)
def delete_hold(
    case_id: CaseId, member: MemberDep, session: SessionDep, snap: SnapshotDep, now: NowDep
) -> None:
    """Release a case's legal hold; its retention policy applies again from now on."""
    service.release_hold(session, label=member.label, case_id=case_id, today=snap.today(now))


@router.get("/retention", response_model=RetentionOverview)
def get_retention(
    auditor: AuditorDep, session: SessionDep, snap: SnapshotDep, now: NowDep
) -> RetentionOverview:
    """Every live case's retention state and every tombstone, for auditors: metadata only."""
    return service.overview(session, today=snap.today(now))
