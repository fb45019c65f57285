"""HTTP routes of the audit log: checkpoints, entries, countersignatures (metadata only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status
from pydantic import Field

from safevoice.audit import checkpoints
from safevoice.audit import service as audit
from safevoice.audit.schemas import CheckpointOut, CountersignIn, EntriesOut, EntryOut
from safevoice.protocol.numbers import DECIMAL, INT_MAX, ParamCount
from safevoice.web.deps import (
    AuditorDep,
    MemberOrAuditorDep,
    NowDep,
    SessionDep,
    SnapshotDep,
    WriterSessionDep,
)

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])
PAGE = 1000


@router.get("/checkpoint", response_model=CheckpointOut)
def get_checkpoint(
    _caller: MemberOrAuditorDep, session: WriterSessionDep, snap: SnapshotDep, now: NowDep
) -> CheckpointOut:
    """The latest signed checkpoint; a new one is issued when the head moved."""
    return CheckpointOut.of(
        checkpoints.latest(session, manifest=snap.require_manifest(), today=snap.today(now))
    )


@router.get("/checkpoints", response_model=list[CheckpointOut])
def get_checkpoints(
    _caller: MemberOrAuditorDep, session: SessionDep, snap: SnapshotDep
) -> list[CheckpointOut]:
    """Every checkpoint issued, with its countersignatures, in sequence order."""
    return [
        CheckpointOut.of(c)
        for c in checkpoints.all_checkpoints(session, manifest=snap.require_manifest())
    ]


@router.get("/entries", response_model=EntriesOut)
def get_entries(
    _caller: MemberOrAuditorDep,
    session: SessionDep,
    after: Annotated[int, Field(ge=-1, le=INT_MAX), DECIMAL, Query()] = -1,
    upto: Annotated[ParamCount | None, Query()] = None,
    limit: Annotated[int, Field(ge=1, le=PAGE), DECIMAL, Query()] = PAGE,
    event: Annotated[str | None, Query(pattern=r"^[a-z_.]{1,40}$")] = None,
) -> EntriesOut:
    """Entries after ``after`` (up to ``upto``) as stored bytes, in chain order."""
    found = audit.entries(session, after=after, upto=upto, limit=limit, event=event)
    return EntriesOut(entries=[EntryOut.of(e) for e in found], head_seq=audit.head(session)[0])


@router.post(
    "/checkpoints/{seq}/countersignatures",
    response_model=CheckpointOut,
    status_code=status.HTTP_201_CREATED,
)
def post_countersignature(
    seq: Annotated[ParamCount, Path()],
    body: CountersignIn,
    auditor: AuditorDep,
    session: SessionDep,
    snap: SnapshotDep,
) -> CheckpointOut:
    """An auditor's countersignature over a checkpoint they verified."""
    return CheckpointOut.of(
        checkpoints.add_countersignature(
            session,
            manifest=snap.require_manifest(),
            auditor_id=auditor.subject,
            seq=seq,
            signature=body.signature,
        )
    )
