"""Retention in and out of the API: legal holds and the auditor's view (metadata only)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class HoldIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=500)
