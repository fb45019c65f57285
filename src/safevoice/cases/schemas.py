"""Response bodies of the members' case API: metadata in the clear, content as envelopes."""

from __future__ import annotations

from datetime import date
from typing import Literal

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
