"""Login request and answer."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["member", "auditor", "archive"]
    id: Annotated[str, Field(min_length=1, max_length=32)]
    challenge: Annotated[str, Field(max_length=64, pattern=r"^[A-Za-z0-9_-]*$")]
    signature: Annotated[str, Field(max_length=86, pattern=r"^[A-Za-z0-9_-]*$")]
