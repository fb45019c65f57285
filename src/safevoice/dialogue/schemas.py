"""Request bodies of the dialogue API (docs/protocol/dialogue.md); its response bodies are
wire types in ``safevoice.protocol.wire``."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from safevoice.protocol.wire import (
    ID_PATTERN,
    EnvelopeIn,
)

B64 = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]*$")]


class ReporterLoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sign_key: Annotated[B64, Field(min_length=43, max_length=43)]
    challenge: Annotated[B64, Field(max_length=64)]
    solution: Annotated[B64, Field(max_length=24)]
    signature: Annotated[B64, Field(min_length=86, max_length=86)]


class ObjectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    envelope: EnvelopeIn
    feedback: bool = False
    uploads: Annotated[
        list[Annotated[str, Field(min_length=22, max_length=22, pattern=ID_PATTERN)]],
        Field(max_length=20),
    ] = []
