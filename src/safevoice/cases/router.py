"""HTTP routes of the members' case view: metadata lists and envelopes to decrypt locally."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from safevoice.cases import service, stats
from safevoice.cases.schemas import CaseDetail, CaseSummary, Statistics
from safevoice.web.deps import MemberDep, MemberOrAuditorDep, NowDep, SessionDep, SnapshotDep

router = APIRouter(prefix="/api/v1", tags=["cases"])

CaseId = Annotated[str, Path(min_length=22, max_length=22, pattern=r"^[A-Za-z0-9_-]+$")]
MONTH = r"^[0-9]{4}-[0-9]{2}$"
FromMonth = Annotated[
    str | None, Query(alias="from", pattern=MONTH, description="First month (YYYY-MM).")
]
ToMonth = Annotated[
    str | None, Query(alias="to", pattern=MONTH, description="Last month (YYYY-MM).")
]
ChannelName = Annotated[str | None, Query(min_length=1, max_length=64)]


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


@router.get("/stats", response_model=Statistics)
def get_stats(
    _caller: MemberOrAuditorDep,
    session: SessionDep,
    snap: SnapshotDep,
    now: NowDep,
    period_from: FromMonth = None,
    period_to: ToMonth = None,
    channel: ChannelName = None,
) -> Statistics:
    """Workflow statistics over every case, from metadata only, small counts suppressed."""
    return stats.figures(
        session,
        period_from=period_from,
        period_to=period_to,
        channel=channel,
        today=snap.today(now),
    )
