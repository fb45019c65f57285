"""HTTP routes of the audit log: checkpoints, entries, countersignatures (metadata only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status
from pydantic import Field

from safevoice.audit import checkpoints
from safevoice.audit import service as audit
from safevoice.audit.models import AuditEntry
from safevoice.audit.schemas import CountersignIn
from safevoice.cases import service as cases
from safevoice.crypto.encoding import b64e
from safevoice.instance import service as instance
from safevoice.protocol.numbers import DECIMAL, INT_MAX, ParamCount
from safevoice.protocol.wire import CheckpointOut, CountersignatureOut, EntriesOut, EntryOut
from safevoice.web.answers import DeclaredRoute, refusals
from safevoice.web.deps import (
    AuditorDep,
    MemberOrAuditorDep,
    NowDep,
    SessionDep,
    SnapshotDep,
    WriterSessionDep,
)

router = APIRouter(prefix="/api/v1/audit", tags=["audit"], route_class=DeclaredRoute)
PAGE = 1000


def entry_out(entry: AuditEntry, visible: set[str] | None = None) -> EntryOut:
    """An audit entry on the wire: its stored canonical bytes (or, withheld, their hash) and
    its chain hash, base64url."""
    body, body_hash = audit.shown_to(entry, visible)
    return EntryOut(
        seq=entry.seq,
        body=b64e(body) if body is not None else None,
        body_hash=b64e(body_hash) if body_hash is not None else None,
        hash=b64e(entry.hash),
    )


def checkpoint_out(checkpoint: checkpoints.Checkpoint) -> CheckpointOut:
    """A checkpoint on the wire, with every countersignature it has gathered."""
    return CheckpointOut(
        instance_id=checkpoint.instance_id,
        seq=checkpoint.seq,
        head=b64e(checkpoint.head),
        signature=b64e(checkpoint.signature),
        countersignatures=[
            CountersignatureOut(auditor=a, signature=b64e(s))
            for a, s in checkpoint.countersignatures
        ],
    )


@router.get("/checkpoint", responses=refusals(404), response_model=CheckpointOut)
def get_checkpoint(
    _caller: MemberOrAuditorDep, session: WriterSessionDep, snap: SnapshotDep, now: NowDep
) -> CheckpointOut:
    """The latest signed checkpoint; a new one is issued when the head moved."""
    return checkpoint_out(
        instance.latest_checkpoint(session, manifest=snap.require_manifest(), today=snap.today(now))
    )


@router.get("/checkpoints", response_model=list[CheckpointOut])
def get_checkpoints(
    _caller: MemberOrAuditorDep, session: SessionDep, snap: SnapshotDep
) -> list[CheckpointOut]:
    """Every checkpoint issued, with its countersignatures, in sequence order."""
    return [
        checkpoint_out(c)
        for c in checkpoints.all_checkpoints(session, manifest=snap.require_manifest())
    ]


@router.get("/entries", response_model=EntriesOut, response_model_exclude_none=True)
def get_entries(
    caller: MemberOrAuditorDep,
    session: SessionDep,
    after: Annotated[int, Field(ge=-1, le=INT_MAX), DECIMAL, Query()] = -1,
    upto: Annotated[ParamCount | None, Query()] = None,
    limit: Annotated[int, Field(ge=1, le=PAGE), DECIMAL, Query()] = PAGE,
    event: Annotated[str | None, Query(pattern=r"^[a-z_.]{1,40}$")] = None,
) -> EntriesOut:
    """Entries after ``after`` (up to ``upto``) as stored bytes, in chain order.

    Auditors get every entry; a member gets the entries about cases they cannot know of as
    hashes only (and none of them when filtering by event), so the log never shows them a case
    the reporter excluded them from.
    """
    visible = (
        None
        if caller.role == "auditor"
        else cases.visible_case_ids(session, label=caller.label, member_id=caller.subject)
    )
    found = audit.entries(session, after=after, upto=upto, limit=limit, event=event)
    shown = [entry_out(e, visible) for e in found]
    if event is not None:
        shown = [e for e in shown if e.body is not None]
    return EntriesOut(entries=shown, head_seq=audit.head(session)[0])


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
    return checkpoint_out(
        checkpoints.add_countersignature(
            session,
            manifest=snap.require_manifest(),
            auditor_id=auditor.subject,
            seq=seq,
            signature=body.signature,
        )
    )
