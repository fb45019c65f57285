"""Request and response bodies of the intake API (docs/protocol.md, "Submission")."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt

B64 = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]*$")]
# Random ids are base64url that never starts with "-" (it would read as a command-line option).
ID_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_-]*$"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EnvelopeIn(Strict):
    v: StrictInt
    case_id: Annotated[B64, Field(min_length=22, max_length=22)]
    kind: Annotated[str, Field(max_length=16)]
    sender: Annotated[str, Field(max_length=64)]
    seq: StrictInt
    prev: Annotated[B64, Field(max_length=43)]
    epoch: StrictInt
    key_commit: Annotated[B64, Field(max_length=43)]
    nonce: Annotated[B64, Field(max_length=32)]
    ct: Annotated[B64, Field(max_length=700_000)]
    sig: Annotated[B64, Field(max_length=86)]


class ReporterKeysIn(Strict):
    reply_key: Annotated[B64, Field(min_length=43, max_length=43)]
    sign_key: Annotated[B64, Field(min_length=43, max_length=43)]


class WrappedKeyIn(Strict):
    recipient: Annotated[str, Field(min_length=1, max_length=64)]
    sealed: Annotated[B64, Field(max_length=400)]


class CaseIn(Strict):
    id: Annotated[str, Field(min_length=22, max_length=22, pattern=ID_PATTERN)]
    channel: Annotated[str, Field(min_length=1, max_length=64)]
    reporter: ReporterKeysIn
    report: EnvelopeIn
    wrapped_keys: Annotated[list[WrappedKeyIn], Field(min_length=2, max_length=64)]
    uploads: Annotated[
        list[Annotated[str, Field(min_length=22, max_length=22, pattern=ID_PATTERN)]],
        Field(max_length=20),
    ] = []


class ProofIn(Strict):
    challenge: Annotated[B64, Field(max_length=64)]
    solution: Annotated[B64, Field(max_length=16)]


class SubmissionIn(Strict):
    proof: ProofIn
    case: CaseIn


class ReceiptOut(BaseModel):
    instance_id: str
    case_id: str
    report_hash: str
    day: str
    sig: str


class SubmissionOut(BaseModel):
    case_id: str
    received_on: date
    receipt: ReceiptOut
    # What happens next, as the server will hold the committee to it (absent in answers
    # stored before these fields existed and replayed to a retry).
    ack_due_on: date | None = None
    feedback_due_on: date | None = None


class ChallengeOut(BaseModel):
    challenge: str
    purpose: str
    difficulty: int
    expires: int


class Question(BaseModel):
    """One question of a channel's questionnaire, answered inside the encrypted report."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[str, Field(pattern=r"^[a-z0-9_]{1,32}$")]
    label: Annotated[str, Field(min_length=1, max_length=300)]
    type: Literal["text", "choice", "date"]
    required: bool = False
    options: list[Annotated[str, Field(max_length=200)]] = []
    help: Annotated[str, Field(max_length=500)] = ""


class RetentionOut(BaseModel):
    """When a channel's cases are deleted: days after closure, and at the latest."""

    days_after_closure: int
    max_age_days: int


class ChannelOut(BaseModel):
    name: str
    title: str
    description: str
    questionnaire: list[Question]
    retention: RetentionOut | None = None


class SignatureOut(BaseModel):
    root_fp: str
    root_key: str
    sig: str


class ManifestOut(BaseModel):
    payload: str
    signatures: list[SignatureOut]


class IntakeOut(BaseModel):
    manifest: ManifestOut
    channels: list[ChannelOut]
    challenge: ChallengeOut
    limits: dict[str, int]
    archive: bool = False
    """Whether the published manifest names an archive recipient (for the landing page; a
    client that encrypts takes the recipients from the verified manifest only)."""


class ChallengeRequest(Strict):
    purpose: Annotated[str, Field(max_length=32)]
