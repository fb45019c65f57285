"""Request and response bodies of the upload API (docs/protocol/attachments.md)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from safevoice.protocol.numbers import Count
from safevoice.protocol.wire import ID_PATTERN, ProofIn


class UploadCreateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    case_id: Annotated[str, Field(min_length=22, max_length=22, pattern=ID_PATTERN)]
    proof: ProofIn | None = None


class FinishIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    chunks: Annotated[Count, Field(ge=1)]
