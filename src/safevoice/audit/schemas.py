"""Wire formats of the audit API: entries as stored bytes, checkpoints with countersignatures."""

from __future__ import annotations

from pydantic import BaseModel, Field

from safevoice.audit.checkpoints import Checkpoint
from safevoice.audit.models import AuditEntry
from safevoice.crypto.encoding import b64e


class EntryOut(BaseModel):
    seq: int
    body: str = Field(description="base64url of the entry's stored canonical JSON bytes")
    hash: str

    @classmethod
    def of(cls, entry: AuditEntry) -> EntryOut:
        return cls(seq=entry.seq, body=b64e(entry.body), hash=b64e(entry.hash))


class EntriesOut(BaseModel):
    entries: list[EntryOut]
    head_seq: int


class CountersignatureOut(BaseModel):
    auditor: str
    signature: str


class CheckpointOut(BaseModel):
    instance_id: str
    seq: int
    head: str
    signature: str
    countersignatures: list[CountersignatureOut]

    @classmethod
    def of(cls, checkpoint: Checkpoint) -> CheckpointOut:
        return cls(
            instance_id=checkpoint.instance_id,
            seq=checkpoint.seq,
            head=b64e(checkpoint.head),
            signature=b64e(checkpoint.signature),
            countersignatures=[
                CountersignatureOut(auditor=a, signature=b64e(s))
                for a, s in checkpoint.countersignatures
            ],
        )


class CountersignIn(BaseModel):
    signature: str = Field(min_length=86, max_length=86)
