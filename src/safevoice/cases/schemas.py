"""Response bodies of the members' case API: metadata in the clear, content as envelopes."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel

from safevoice.intake.schemas import EnvelopeIn


class CaseSummary(BaseModel):
    id: str
    channel: str
    status: str
    intake_mode: str
    received_on: date
    ack_due_on: date
    feedback_due_on: date
    acknowledged_on: date | None
    closed_on: date | None
    outcome: str | None
    epoch: int
    thread_length: int
    last_reporter_seq: int
    ack_overdue: bool
    feedback_overdue: bool


class WrappedKeyOut(BaseModel):
    epoch: int
    recipient: str
    sealed: str


class CaseObjectOut(BaseModel):
    chain: str
    seq: int
    envelope: EnvelopeIn


class CaseDetail(BaseModel):
    case: CaseSummary
    objects: list[CaseObjectOut]
    wrapped_keys: list[WrappedKeyOut]
