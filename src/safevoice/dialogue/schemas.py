"""Request and response bodies of the dialogue API (docs/protocol.md, "Dialogue")."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from safevoice.cases.schemas import CaseObjectOut, WrappedKeyOut
from safevoice.intake.schemas import ID_PATTERN, ChallengeOut, ChannelOut, EnvelopeIn, ManifestOut

B64 = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]*$")]


class ReporterLoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sign_key: Annotated[B64, Field(min_length=43, max_length=43)]
    challenge: Annotated[B64, Field(max_length=64)]
    solution: Annotated[B64, Field(max_length=16)]
    signature: Annotated[B64, Field(min_length=86, max_length=86)]


class ReporterTokenOut(BaseModel):
    token: str
    expires_at: datetime


class ObjectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    envelope: EnvelopeIn
    feedback: bool = False
    uploads: Annotated[
        list[Annotated[str, Field(min_length=22, max_length=22, pattern=ID_PATTERN)]],
        Field(max_length=20),
    ] = []


class ObjectOut(BaseModel):
    chain: str
    seq: int
    hash: str


class ReporterCaseInfo(BaseModel):
    """What the reporter may see of the case's metadata."""

    id: str
    status: str
    received_on: date
    ack_due_on: date
    feedback_due_on: date
    acknowledged_on: date | None
    closed_on: date | None
    epoch: int
    # The instance's day, and whether a legal deadline has passed without the acknowledgement
    # or feedback it promised (computed as for members), so the reporter is told plainly.
    today: date
    ack_overdue: bool
    feedback_overdue: bool


class ReporterCaseView(BaseModel):
    case: ReporterCaseInfo
    objects: list[CaseObjectOut]
    wrapped_keys: list[WrappedKeyOut]


class FollowUpPageData(BaseModel):
    """What the follow-up page embeds for its script: the signed manifest to verify, a
    reporter-login challenge, and the channels' questions (to label a report's answers)."""

    manifest: ManifestOut
    challenge: ChallengeOut
    channels: list[ChannelOut]
