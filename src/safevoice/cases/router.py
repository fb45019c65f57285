"""HTTP routes of the members' case view: metadata lists and envelopes to decrypt locally."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from safevoice.cases import service
from safevoice.cases.schemas import CaseDetail, CaseSummary
from safevoice.web.deps import MemberDep, NowDep, SessionDep, SnapshotDep

router = APIRouter(prefix="/api/v1", tags=["cases"])

CaseId = Annotated[str, Path(min_length=22, max_length=22, pattern=r"^[A-Za-z0-9_-]+$")]


@router.get("/cases", response_model=list[CaseSummary])
def get_cases(
    member: MemberDep, session: SessionDep, snap: SnapshotDep, now: NowDep
) -> list[CaseSummary]:
    """Cases the caller can read, metadata only, in no meaningful order."""
    return service.list_for_member(session, member_id=member.subject, today=snap.today(now))


@router.get("/cases/{case_id}", response_model=CaseDetail)
def get_case(
    case_id: CaseId, member: MemberDep, session: SessionDep, snap: SnapshotDep, now: NowDep
) -> CaseDetail:
    """One case's envelopes and the caller's own wrapped keys; decryption happens locally."""
    return service.detail_for_member(
        session, member_id=member.subject, case_id=case_id, today=snap.today(now)
    )
