"""Retention in and out of the API: legal holds and the auditor's view (metadata only)."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field


class HoldIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=500)


class HoldOut(BaseModel):
    case_id: str
    held_by: str
    held_on: date
    reason: str


class ChannelPolicy(BaseModel):
    channel: str
    days_after_closure: int
    max_age_days: int
    unused_days: int


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
    policy_days: int
    since_on: date


class RetentionOverview(BaseModel):
    today: date
    grace_days: int
    policies: list[ChannelPolicy]
    cases: list[CaseRetention]
    tombstones: list[TombstoneOut]
