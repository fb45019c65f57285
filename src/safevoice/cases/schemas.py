"""Request bodies of the members' case API; its response bodies are wire types in
``safevoice.protocol.wire``."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from safevoice.protocol.numbers import Count
from safevoice.protocol.wire import ID_PATTERN, EnvelopeIn, RedactionRecord, WrappedKeyIn

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


class DisclosureIn(Strict):
    """The ground on which the committee may disclose the reporter's identity (Directive
    Art. 16, COMPLIANCE.md D8): the reporter's explicit consent, given in a signed message of
    the thread, or a documented legal obligation. Recorded before any disclosure."""

    basis: Literal["consent", "legal_obligation"]
    # The thread position of the reporter's consenting message: a JSON integer (protocol/numbers).
    consent_message: Annotated[Count, Field(ge=1)] | None = None
    legal_ground: Annotated[str, Field(min_length=1, max_length=300)] | None = None


class RedactionIn(Strict):
    """Replace one object of a case by its redacted version (docs/protocol/workflow.md 7.7)."""

    chain: Literal["thread", "committee"]
    seq: Count
    envelope: EnvelopeIn
    redaction: RedactionRecord
