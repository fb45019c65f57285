"""Response bodies of the members' case API: metadata in the clear, content as envelopes."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from safevoice.intake.schemas import ID_PATTERN, EnvelopeIn, WrappedKeyIn


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
    epoch: int
    rekey_needed: bool
    thread_length: int
    last_reporter_seq: int
    ack_overdue: bool
    feedback_overdue: bool
    # The instance's day (its time zone) when this summary was made: clients date what they
    # sign with it, never with their own clock.
    today: date


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
    recused: list[str] = []


class CaseExport(BaseModel):
    """A page of cases with everything a member needs to read them locally."""

    cases: list[CaseDetail]
    next: str | None


Status = Literal["received", "acknowledged", "investigating", "action_planned", "closed"]
Outcome = Literal["substantiated", "not_substantiated", "out_of_scope", "no_action_needed"]
ActionState = Literal["planned", "in_progress", "done", "dropped"]
MemberId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,31}$")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StatusIn(Strict):
    """A status change: the new status in the clear, and the signed object that tells the
    reporter (thread); a closure also carries its encrypted details (committee chain)."""

    status: Status
    outcome: Outcome | None = None
    envelope: EnvelopeIn
    closure: EnvelopeIn | None = None
    confirm_open_actions: bool = False
    # The day the member's client wrote into the signed status object; refused unless it is
    # the instance's today, so the signed text and the stored deadlines agree.
    on: date | None = None


class ClaimIn(Strict):
    offer_to: MemberId | None = None


class RekeyIn(Strict):
    envelope: EnvelopeIn
    wrapped_keys: Annotated[list[WrappedKeyIn], Field(min_length=2, max_length=64)]


class ActionIn(Strict):
    id: Annotated[str, Field(min_length=22, max_length=22, pattern=ID_PATTERN)]
    owner: MemberId
    due_on: date
    envelope: EnvelopeIn


class ActionUpdateIn(Strict):
    state: ActionState
    envelope: EnvelopeIn | None = None


class ActionOut(BaseModel):
    id: str
    case_id: str
    owner: str
    due_on: date
    state: str
    created_on: date
    done_on: date | None
    overdue: bool


# -- statistics (cases/stats.py) ---------------------------------------------------------------

# A count, median or percentage built from fewer than 5 cases (or actions) is never given: it is
# this string instead. Counts also know HIDDEN: a count of 5 or more, withheld so that a "<5"
# beside it cannot be worked out from the total (see cases/stats.py for the rule).
Small = Literal["<5"]
Hidden = Literal["hidden"]
CountFigure = int | Small | Hidden
DaysFigure = float | Small
PercentFigure = int | Small


class MonthCount(BaseModel):
    month: str
    count: CountFigure


class ChannelCount(BaseModel):
    channel: str
    count: CountFigure


class StepMedian(BaseModel):
    status: str
    median_days: DaysFigure


class Statistics(BaseModel):
    """Figures over every case received in the period (and channel), from metadata only."""

    period_from: str
    period_to: str
    channel: str | None
    today: date
    threshold: int
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
