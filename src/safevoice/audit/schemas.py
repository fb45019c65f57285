"""Request bodies of the audit API; its response bodies are wire types in
``safevoice.protocol.wire``. Invariant: schemas import no services."""

from __future__ import annotations

from pydantic import BaseModel, Field


class CountersignIn(BaseModel):
    signature: str = Field(min_length=86, max_length=86)
