"""The wire types both sides share: request and response bodies that the client parses and
the server produces, for the intake, the members' case API, statistics and the dialogue.

Invariant: this module imports nothing of SafeVoice but ``protocol.numbers``, so the reporter's
client, the committee's client and every server domain may import it without pulling in storage
or the web app. Integers are JSON integers in both directions: a request's are bounded
(``protocol.numbers``), and a client parsing an answer refuses ``true``, ``"3"`` and ``3.0``.
Request bodies that only one domain accepts stay in that domain's ``schemas.py``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    StrictInt,
    model_serializer,
)

from safevoice.protocol.numbers import Count

B64 = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]*$")]
# Random ids are base64url that never starts with "-" (it would read as a command-line option).
ID_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_-]*$"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EnvelopeIn(Strict):
    # Sequence numbers and epochs are u32 in the format (docs/protocol/formats-and-keys.md 6.2);
    # the server stores them in integer columns, so it accepts at most 2^31 - 1 (422 beyond).
    v: Count
    case_id: Annotated[B64, Field(min_length=22, max_length=22)]
    kind: Annotated[str, Field(max_length=16)]
    sender: Annotated[str, Field(max_length=64)]
    seq: Count
    prev: Annotated[B64, Field(max_length=43)]
    epoch: Count
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
    solution: Annotated[B64, Field(max_length=24)]


class SubmissionIn(Strict):
    proof: ProofIn
    case: CaseIn


class ReceiptOut(BaseModel):
    instance_id: str
    case_id: str
    report_hash: str
    day: str
    sig: str


class ReadyOut(BaseModel):
    """The server can accept reports now (otherwise it answers 503 saying why)."""

    ready: bool


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
    difficulty: StrictInt
    expires: StrictInt


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

    days_after_closure: StrictInt
    max_age_days: StrictInt


class QuestionText(BaseModel):
    """A question's texts in one more language."""

    label: str
    help: str = ""


class ChannelText(BaseModel):
    """A channel's texts in one more language than the instance's default."""

    title: str
    description: str = ""
    questions: dict[str, QuestionText] = {}


class ChannelOut(BaseModel):
    name: str
    title: str
    description: str
    questionnaire: list[Question]
    retention: RetentionOut | None = None
    # The texts in the operator's other languages, by language code; ``title``,
    # ``description`` and the questions above are in the instance's default language.
    translations: dict[str, ChannelText] = {}

    def in_language(self, lang: str) -> ChannelOut:
        """The channel with its texts in ``lang`` (the default language's where it has none),
        without the other languages."""
        text = self.translations.get(lang)
        if text is None:
            return self.model_copy(update={"translations": {}})
        questions = []
        for q in self.questionnaire:
            asked = text.questions.get(q.id)
            if asked is not None:
                q = q.model_copy(update={"label": asked.label, "help": asked.help or q.help})
            questions.append(q)
        return self.model_copy(
            update={
                "title": text.title,
                "description": text.description or self.description,
                "questionnaire": questions,
                "translations": {},
            }
        )


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
    limits: dict[str, StrictInt]
    archive: bool = False
    """Whether the published manifest names an archive recipient (for the landing page; a
    client that encrypts takes the recipients from the verified manifest only)."""


class ChallengeRequest(Strict):
    purpose: Annotated[str, Field(max_length=32)]


# -- members' case API (cases/) -------------------------------------------------------------


class CaseSummary(BaseModel):
    id: str
    channel: str
    status: str
    intake_mode: str
    received_on: date
    ack_due_on: date
    feedback_due_on: date
    acknowledged_on: date | None
    feedback_on: date | None
    closed_on: date | None
    outcome: str | None
    handler: str | None
    offered_to: str | None
    epoch: StrictInt
    rekey_needed: bool
    thread_length: StrictInt
    last_reporter_seq: StrictInt
    ack_overdue: bool
    feedback_overdue: bool
    # The instance's day (its time zone) when this summary was made: clients date what they
    # sign with it, never with their own clock.
    today: date
    # The case's change marker: it rises with every change a member's client syncs (an object,
    # a status, a claim, a recusal, a re-key, an action, a redaction). ``objects`` is how many
    # objects the case holds in both chains, as stored. A client that kept both from its last
    # sync fetches the case again only when one of them moved (docs/protocol/sessions-and-http.md,
    # 11.6.3).
    version: StrictInt
    objects: StrictInt


class ReadableSet(BaseModel):
    """What a member's client checks its whole copy of the case list against: how many cases
    the caller can read, and the digest of their (id, version, objects) marks
    (``protocol.listing.marks_digest``)."""

    count: StrictInt
    digest: str


class CasePage(BaseModel):
    """A page of the readable cases' summaries (``GET /api/v1/cases``)."""

    cases: list[CaseSummary]
    # The opaque cursor of the next page, or null after the last one. A page may hold fewer
    # cases than asked for (with ``overdue``, even none): only a null ``next`` ends the list.
    next: str | None
    # The instance's day when the page was made; a client's next "changed since" starts there.
    today: date
    # Only on the first page of a ``changed_since`` listing: the whole readable set's marks.
    readable: ReadableSet | None = None


class WrappedKeyOut(BaseModel):
    epoch: StrictInt
    recipient: str
    sealed: str


class RemovedFileRecord(Strict):
    """A file a redaction removed: its upload id and its descriptor's digest (7.6)."""

    id: Annotated[str, Field(min_length=22, max_length=22, pattern=ID_PATTERN)]
    digest: Annotated[B64, Field(min_length=43, max_length=43)]


class RedactionRecord(Strict):
    """A member's signed record that an object was replaced by a redacted version
    (docs/protocol/workflow.md 7.6), and which attached files went with the original."""

    hash: Annotated[B64, Field(min_length=43, max_length=43)]
    digest: Annotated[B64, Field(min_length=43, max_length=43)]
    on: Annotated[str, Field(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")]
    by: Annotated[str, Field(min_length=1, max_length=64)]
    sig: Annotated[B64, Field(min_length=86, max_length=86)]
    files: Annotated[list[RemovedFileRecord], Field(min_length=1, max_length=20)] | None = None

    @model_serializer(mode="wrap")
    def _without_empty_files(self, handler: SerializerFunctionWrapHandler) -> Any:
        # A record that removed no file has no "files" at all, as it was signed.
        data = handler(self)
        if isinstance(data, dict) and data.get("files") is None:
            data.pop("files", None)
        return data


class CaseObjectOut(BaseModel):
    chain: str
    seq: StrictInt
    envelope: EnvelopeIn
    redaction: RedactionRecord | None = None
    """Set when ``envelope`` is the redacted version of the object (its original ciphertext
    was removed); ``redaction.hash`` is then the object's transcript hash in its chain."""


class CaseDetail(BaseModel):
    case: CaseSummary
    objects: list[CaseObjectOut]
    wrapped_keys: list[WrappedKeyOut]
    recused: list[str] = []


class CaseExport(BaseModel):
    """A page of cases with everything a member needs to read them locally."""

    cases: list[CaseDetail]
    next: str | None
    # The instance's day when the page was made.
    today: date


class ActionOut(BaseModel):
    id: str
    case_id: str
    owner: str
    due_on: date
    state: str
    created_on: date
    done_on: date | None
    overdue: bool


# -- statistics (cases/stats.py) ----------------------------------------------------------------

# A count, median or percentage built from fewer than 5 cases (or actions) is never given: it is
# this string instead. Counts also know HIDDEN: a count of 5 or more, withheld so that a "<5"
# beside it cannot be worked out from the total (see cases/stats.py for the rule).
Small = Literal["<5"]
Hidden = Literal["hidden"]
CountFigure = StrictInt | Small | Hidden
DaysFigure = float | Small
PercentFigure = StrictInt | Small


class MonthCount(BaseModel):
    month: str
    count: CountFigure


class ChannelCount(BaseModel):
    channel: str
    count: CountFigure


class StepMedian(BaseModel):
    status: str
    median_days: DaysFigure


class QuarterChannelCount(BaseModel):
    quarter: str  # "2026-Q1"
    channel: str
    count: CountFigure


class ChannelShare(BaseModel):
    """A channel's share of the reports received, in whole percent; suppressed as its count."""

    channel: str
    percent: StrictInt | Small | Hidden


class Statistics(BaseModel):
    """Figures over every case received in the period (and channel), from metadata only."""

    period_from: str
    period_to: str
    channel: str | None
    today: date
    threshold: StrictInt
    received_total: CountFigure
    received_per_month: list[MonthCount]
    received_per_channel: list[ChannelCount]
    median_days_to_acknowledge: DaysFigure
    median_days_to_close: DaysFigure
    median_days_per_step: list[StepMedian]
    percent_acknowledged_within_7_days: PercentFigure
    percent_feedback_within_3_months: PercentFigure
    percent_substantiated: PercentFigure
    percent_closed_with_corrective_action: PercentFigure
    percent_actions_done_on_time: PercentFigure
    # Willingness to report, over time (issue: metrics over time).
    received_per_quarter: list[QuarterChannelCount]
    share_per_channel: list[ChannelShare]
    percent_reporter_followed_up: PercentFigure
    median_days_to_action_done: DaysFigure


# -- dialogue (dialogue/) --------------------------------------------------------------------


class ReporterTokenOut(BaseModel):
    token: str
    expires_at: datetime


class ObjectOut(BaseModel):
    chain: str
    seq: StrictInt
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
    epoch: StrictInt
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


# -- members' login (members/) ----------------------------------------------------------------


class TokenOut(BaseModel):
    token: str
    expires_at: datetime


# -- uploads (attachments/) -------------------------------------------------------------------


class UploadOut(BaseModel):
    id: str
    received: StrictInt
    total: StrictInt | None
    chunk_bytes: StrictInt
    max_chunks: StrictInt


# -- retention (retention/) -------------------------------------------------------------------


class HoldOut(BaseModel):
    case_id: str
    held_by: str
    held_on: date
    reason: str


class ChannelPolicy(BaseModel):
    channel: str
    days_after_closure: StrictInt
    max_age_days: StrictInt
    unused_days: StrictInt


class CaseRetention(BaseModel):
    """A live case's retention state: which limit applies first and the day it is due."""

    case_id: str
    channel: str
    received_on: date
    status: str
    acknowledged_on: date | None
    closed_on: date | None
    held: bool
    policy: str
    due_on: date


class TombstoneOut(BaseModel):
    case_id: str
    channel: str
    received_on: date
    purged_on: date
    policy: str
    policy_days: StrictInt
    since_on: date


class RetentionOverview(BaseModel):
    today: date
    grace_days: StrictInt
    policies: list[ChannelPolicy]
    cases: list[CaseRetention]
    tombstones: list[TombstoneOut]


# -- audit record (audit/) --------------------------------------------------------------------


class EntryOut(BaseModel):
    seq: StrictInt
    body: str | None = Field(
        default=None,
        description="base64url of the entry's stored canonical JSON bytes (absent when withheld)",
    )
    body_hash: str | None = Field(
        default=None,
        description="base64url of the hash of the withheld bytes (only when body is absent)",
    )
    hash: str


class EntriesOut(BaseModel):
    entries: list[EntryOut]
    head_seq: StrictInt


class CountersignatureOut(BaseModel):
    auditor: str
    signature: str


class CheckpointOut(BaseModel):
    instance_id: str
    seq: StrictInt
    head: str
    signature: str
    countersignatures: list[CountersignatureOut]


class DisclosureOut(BaseModel):
    """A recorded ground for disclosing the reporter's identity."""

    case_id: str
    basis: str
    on: date
    consent_message: StrictInt | None
    legal_ground: str | None


# -- pulse surveys (docs/protocol/surveys.md) ------------------------------------------------------


class SignedSurveyIn(Strict):
    payload: Annotated[B64, Field(min_length=1, max_length=16_000)]
    signer: Annotated[str, Field(min_length=8, max_length=72)]
    sig: Annotated[B64, Field(min_length=86, max_length=86)]


class SurveyOut(BaseModel):
    """A survey as the server keeps it: the signed document and where it stands."""

    survey_id: str
    state: Literal["published", "open", "closed"]
    document: SignedSurveyIn


class SurveysOut(BaseModel):
    """The surveys a person may answer now, and a proof-of-work challenge to answer one."""

    surveys: list[SurveyOut]
    challenge: ChallengeOut


class SurveyKeyIn(Strict):
    recipient: Annotated[str, Field(min_length=1, max_length=72)]
    sealed: Annotated[B64, Field(max_length=400)]


class SealedAnswerIn(Strict):
    """An object encrypted to every committee member (a survey answer, a lesson)."""

    nonce: Annotated[B64, Field(min_length=32, max_length=32)]
    ct: Annotated[B64, Field(max_length=11_000)]
    wraps: Annotated[list[SurveyKeyIn], Field(min_length=1, max_length=64)]


class SurveyAnswerIn(Strict):
    proof: ProofIn
    answer: SealedAnswerIn


class SurveyAnswersOut(BaseModel):
    """Every stored answer of a survey, in no meaningful order, for members to decrypt."""

    survey_id: str
    answers: list[SealedAnswerIn]


# -- lessons learned for the digest (docs/protocol/digest.md) --------------------------------------


class LessonIn(Strict):
    lesson_id: Annotated[str, Field(min_length=22, max_length=22, pattern=ID_PATTERN)]
    case_id: Annotated[str, Field(min_length=22, max_length=22, pattern=ID_PATTERN)]
    digest: Annotated[B64, Field(min_length=43, max_length=43)]
    sealed: SealedAnswerIn
    approval: Annotated[B64, Field(min_length=86, max_length=86)]


class ApprovalIn(Strict):
    approval: Annotated[B64, Field(min_length=86, max_length=86)]


class ApprovalOut(BaseModel):
    member: str
    sig: str


class LessonOut(BaseModel):
    """A proposed summary: encrypted to the committee, with the approvals it has."""

    lesson_id: str
    case_id: str
    proposer: str
    digest: str
    sealed: SealedAnswerIn
    approvals: list[ApprovalOut]
