"""HTTP routes of the dialogue: reporter login, the reporter's view, and appending objects."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, status

from safevoice.dialogue import service
from safevoice.dialogue.schemas import ObjectIn, ReporterLoginIn
from safevoice.instance.flood import note_accepted
from safevoice.protocol.wire import ID_PATTERN, ObjectOut, ReporterCaseView, ReporterTokenOut
from safevoice.web.answers import DeclaredRoute, refusals
from safevoice.web.deps import (
    DatabaseDep,
    MemberDep,
    NowDep,
    ReporterDep,
    SessionDep,
    SnapshotDep,
)

router = APIRouter(prefix="/api/v1", tags=["dialogue"], route_class=DeclaredRoute)

CaseId = Annotated[str, Path(min_length=22, max_length=22, pattern=ID_PATTERN)]


@router.post("/reporter/login", responses=refusals(401), response_model=ReporterTokenOut)
def post_reporter_login(
    request: Request, body: ReporterLoginIn, database: DatabaseDep, snap: SnapshotDep, now: NowDep
) -> ReporterTokenOut:
    """Log in as a case's reporter with a challenge signed by the key derived from the code."""
    answer = service.reporter_login(database, snap, body=body, now=now)
    note_accepted(request.app.state.flood, database, now)
    return answer


@router.get("/reporter/case", response_model=ReporterCaseView)
def get_reporter_case(
    reporter: ReporterDep, session: SessionDep, snap: SnapshotDep, now: NowDep
) -> ReporterCaseView:
    """The reporter's thread, status and deadlines, and the reporter's own wrapped key."""
    return service.reporter_view(session, case_id=reporter.subject, today=snap.today(now))


@router.post(
    "/reporter/objects",
    responses=refusals(409),
    response_model=ObjectOut,
    status_code=status.HTTP_201_CREATED,
)
def post_reporter_object(
    body: ObjectIn, reporter: ReporterDep, session: SessionDep, snap: SnapshotDep, now: NowDep
) -> ObjectOut:
    """Append the reporter's next message to the thread."""
    return service.append_object(
        session,
        snap,
        principal=reporter,
        case_id=reporter.subject,
        envelope_json=body.envelope.model_dump(),
        now=now,
        uploads=body.uploads,
    )


@router.post(
    "/cases/{case_id}/objects",
    responses=refusals(409),
    response_model=ObjectOut,
    status_code=status.HTTP_201_CREATED,
)
def post_case_object(
    case_id: CaseId,
    body: ObjectIn,
    member: MemberDep,
    session: SessionDep,
    snap: SnapshotDep,
    now: NowDep,
) -> ObjectOut:
    """Append a member's next message (thread) or note (committee chain) to a case."""
    return service.append_object(
        session,
        snap,
        principal=member,
        case_id=case_id,
        envelope_json=body.envelope.model_dump(),
        now=now,
        feedback=body.feedback,
        uploads=body.uploads,
    )
