"""HTTP routes of the audit log: checkpoints, entries, countersignatures (metadata only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status
from pydantic import Field

from safevoice.audit import checkpoints
from safevoice.audit import service as audit
from safevoice.audit.models import AuditEntry
from safevoice.audit.schemas import CountersignIn
from safevoice.crypto.encoding import b64e
from safevoice.instance import service as instance
from safevoice.protocol.numbers import DECIMAL, INT_MAX, ParamCount
from safevoice.protocol.wire import CheckpointOut, CountersignatureOut, EntriesOut, EntryOut
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


def entry_out(entry: AuditEntry) -> EntryOut:
    """An audit entry on the wire: its stored canonical bytes and hash, base64url."""
    return EntryOut(seq=entry.seq, body=b64e(entry.body), hash=b64e(entry.hash))


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


@router.get("/checkpoint", response_model=CheckpointOut)
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
    return EntriesOut(entries=[entry_out(e) for e in found], head_seq=audit.head(session)[0])


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
