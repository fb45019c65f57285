"""HTTP routes of the members' case view: metadata lists and envelopes to decrypt locally."""

from __future__ import annotations

from datetime import date
from functools import partial
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Path, Query, status
from pydantic import Field

from safevoice.attachments import service as attachments
from safevoice.cases import redaction, service, stats, workflow
from safevoice.cases.schemas import (
    ActionIn,
    ActionUpdateIn,
    ClaimIn,
    DisclosureIn,
    RedactionIn,
    RekeyIn,
    StatusIn,
)
from safevoice.protocol.numbers import DECIMAL
from safevoice.protocol.wire import (
    ID_PATTERN,
    ActionOut,
    CaseDetail,
    CaseExport,
    CasePage,
    DisclosureOut,
    ObjectOut,
    Statistics,
)
from safevoice.web.answers import DeclaredRoute, refusals
from safevoice.web.deps import (
    BlobsDep,
    DatabaseDep,
    MemberDep,
    MemberOrAuditorDep,
    NowDep,
    RecipientDep,
    SessionDep,
    SnapshotDep,
    WriterSessionDep,
)

router = APIRouter(prefix="/api/v1", tags=["cases"], route_class=DeclaredRoute)

CaseId = Annotated[str, Path(min_length=22, max_length=22, pattern=ID_PATTERN)]
MONTH = r"^[0-9]{4}-[0-9]{2}$"
FromMonth = Annotated[
    str | None, Query(alias="from", pattern=MONTH, description="First month (YYYY-MM).")
]
ToMonth = Annotated[
    str | None, Query(alias="to", pattern=MONTH, description="Last month (YYYY-MM).")
]
ChannelName = Annotated[str | None, Query(min_length=1, max_length=64)]


@router.get("/cases", responses=refusals(400), response_model=CasePage)
def get_cases(
    recipient: RecipientDep,
    session: SessionDep,
    snap: SnapshotDep,
    now: NowDep,
    overdue: bool = False,
    changed_since: Annotated[
        date | None,
        Query(description="Only cases changed on this day (the instance's) or later."),
    ] = None,
    cursor: Annotated[
        str | None,
        Query(min_length=1, max_length=64, description="The `next` of the previous page."),
    ] = None,
    limit: Annotated[int, Field(ge=1, le=service.LIST_PAGE_MAX), DECIMAL, Query()] = (
        service.LIST_PAGE
    ),
) -> CasePage:
    """Cases the caller can read, metadata only, a page at a time in case-id order (the ids
    are random, so the order means nothing)."""
    return service.list_for_recipient(
        session,
        label=recipient.label,
        today=snap.today(now),
        overdue_only=overdue,
        changed_since=changed_since,
        cursor=cursor,
        limit=limit,
    )


@router.get("/cases/export", response_model=CaseExport)
def get_cases_export(
    recipient: RecipientDep,
    session: WriterSessionDep,
    snap: SnapshotDep,
    now: NowDep,
    after: Annotated[str | None, Query(min_length=22, max_length=22, pattern=ID_PATTERN)] = None,
    limit: Annotated[int, Field(ge=1, le=service.EXPORT_PAGE), DECIMAL, Query()] = (
        service.EXPORT_PAGE
    ),
) -> CaseExport:
    """Every readable case with its envelopes and the caller's wrapped keys, page by page."""
    return service.export_for_recipient(
        session, label=recipient.label, today=snap.today(now), after=after, limit=limit
    )


@router.get("/cases/{case_id}", response_model=CaseDetail)
def get_case(
    case_id: CaseId,
    recipient: RecipientDep,
    session: WriterSessionDep,
    snap: SnapshotDep,
    now: NowDep,
) -> CaseDetail:
    """One case's envelopes and the caller's own wrapped keys; decryption happens locally.
    Each fetch is a ``case.read`` audit entry."""
    return service.detail_for_recipient(
        session, label=recipient.label, case_id=case_id, today=snap.today(now)
    )


@router.post(
    "/cases/{case_id}/status",
    responses=refusals(409),
    response_model=list[ObjectOut],
    status_code=status.HTTP_201_CREATED,
)
def post_status(
    case_id: CaseId,
    body: StatusIn,
    member: MemberDep,
    session: SessionDep,
    snap: SnapshotDep,
    now: NowDep,
) -> list[ObjectOut]:
    """Move a case to a new status, with the signed status object the reporter will see."""
    return workflow.change_status(
        session, snap, principal=member, case_id=case_id, body=body, now=now
    )


@router.post(
    "/cases/{case_id}/claim", responses=refusals(409), status_code=status.HTTP_204_NO_CONTENT
)
def post_claim(
    case_id: CaseId,
    body: ClaimIn,
    member: MemberDep,
    session: SessionDep,
    snap: SnapshotDep,
    now: NowDep,
) -> None:
    """Take the case (or accept an offer), or offer it to another member."""
    workflow.claim(session, snap, principal=member, case_id=case_id, body=body, now=now)


@router.post(
    "/cases/{case_id}/recuse", responses=refusals(409), status_code=status.HTTP_204_NO_CONTENT
)
def post_recuse(
    case_id: CaseId, member: MemberDep, session: SessionDep, snap: SnapshotDep, now: NowDep
) -> None:
    """Declare a conflict of interest; the case must then be re-keyed by another member."""
    workflow.recuse(session, snap, principal=member, case_id=case_id, now=now)


@router.post(
    "/cases/{case_id}/disclosure",
    response_model=DisclosureOut,
    status_code=status.HTTP_201_CREATED,
)
def post_disclosure(
    case_id: CaseId,
    body: DisclosureIn,
    member: MemberDep,
    session: SessionDep,
    snap: SnapshotDep,
    now: NowDep,
) -> DisclosureOut:
    """Record the ground (the reporter's consent or a legal obligation) before any disclosure
    of the reporter's identity; an audit entry."""
    return workflow.record_disclosure_ground(
        session, snap, principal=member, case_id=case_id, body=body, now=now
    )


@router.post(
    "/cases/{case_id}/redactions",
    responses=refusals(409),
    response_model=ObjectOut,
    status_code=status.HTTP_201_CREATED,
)
def post_redaction(
    case_id: CaseId,
    body: RedactionIn,
    background: BackgroundTasks,
    member: MemberDep,
    database: DatabaseDep,
    session: SessionDep,
    snap: SnapshotDep,
    now: NowDep,
    blobs: BlobsDep,
) -> ObjectOut:
    """Replace a report, message or note by the member's redacted version (COMPLIANCE.md D9),
    deleting the attached files its record removes; an audit entry without content. Once the
    transaction committed, the database is made to forget the overwritten ciphertext."""
    answer = redaction.redact(
        session,
        snap,
        principal=member,
        case_id=case_id,
        body=body,
        now=now,
        remove_files=partial(attachments.remove_from_object, store=blobs),
    )
    background.add_task(redaction.forget, database, files=body.redaction.files is not None)
    return answer


@router.post(
    "/cases/{case_id}/rekey",
    responses=refusals(409),
    response_model=ObjectOut,
    status_code=status.HTTP_201_CREATED,
)
def post_rekey(
    case_id: CaseId,
    body: RekeyIn,
    recipient: RecipientDep,
    session: SessionDep,
    snap: SnapshotDep,
    now: NowDep,
) -> ObjectOut:
    """Start the case's next key epoch with an epoch record and new wrapped keys."""
    return workflow.rekey(session, snap, principal=recipient, case_id=case_id, body=body, now=now)


@router.post(
    "/cases/{case_id}/actions",
    responses=refusals(409),
    response_model=ActionOut,
    status_code=status.HTTP_201_CREATED,
)
def post_action(
    case_id: CaseId,
    body: ActionIn,
    member: MemberDep,
    session: SessionDep,
    snap: SnapshotDep,
    now: NowDep,
) -> ActionOut:
    """Plan a corrective action with an owner and a due day."""
    return workflow.add_action(session, snap, principal=member, case_id=case_id, body=body, now=now)


@router.patch("/actions/{action_id}", responses=refusals(409), response_model=ActionOut)
def patch_action(
    action_id: CaseId,
    body: ActionUpdateIn,
    member: MemberDep,
    session: SessionDep,
    snap: SnapshotDep,
    now: NowDep,
) -> ActionOut:
    """Move a corrective action on (in progress, done, or dropped with a reason)."""
    return workflow.update_action(
        session, snap, principal=member, action_id=action_id, body=body, now=now
    )


@router.get("/actions", response_model=list[ActionOut])
def get_actions(
    member: MemberDep,
    session: SessionDep,
    snap: SnapshotDep,
    now: NowDep,
    overdue: bool = False,
) -> list[ActionOut]:
    """Corrective actions of the cases the caller can read."""
    return workflow.list_actions(
        session, member_id=member.subject, today=snap.today(now), overdue_only=overdue
    )


@router.get("/stats", responses=refusals(400, 404), response_model=Statistics)
def get_stats(
    caller: MemberOrAuditorDep,
    session: SessionDep,
    snap: SnapshotDep,
    now: NowDep,
    period_from: FromMonth = None,
    period_to: ToMonth = None,
    channel: ChannelName = None,
) -> Statistics:
    """Workflow statistics from metadata only, small counts suppressed: over the cases a member
    can read, or over every case for an auditor."""
    return stats.figures(
        session,
        period_from=period_from,
        period_to=period_to,
        channel=channel,
        today=snap.today(now),
        member_id=caller.subject if caller.role == "member" else None,
    )
