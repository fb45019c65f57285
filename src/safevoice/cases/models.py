"""A case is metadata in the clear plus encrypted objects and wrapped keys.

Stored per case (invariant 2): channel, status, the day of receipt (never a time), deadlines,
intake mode and key epoch; the reporter's two public keys derived from the follow-up code; the
head of each object chain. Everything a person wrote is in ``case_object.envelope`` as
ciphertext; ``wrapped_key`` holds the case keys sealed to each current recipient.

The workflow adds metadata in the clear because the statistics and deadlines need it
(DESIGN.md, Contracts): the day of each status change, the outcome, the handler, recusals, and
each corrective action's owner, due day and state. Descriptions, notes, lessons learned and
triage reasoning stay in the committee chain, encrypted under ``K_committee``.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Date, ForeignKey, Integer, LargeBinary, String, UniqueConstraint, false
from sqlalchemy.engine.default import DefaultExecutionContext
from sqlalchemy.orm import Mapped, mapped_column

from safevoice.storage.base import ROW_TABLE_ARGS, Base, Blob, Day


def _received_on(context: DefaultExecutionContext) -> object:
    """A new case last changed on the day it was received."""
    return context.get_current_parameters()["received_on"]  # type: ignore[no-untyped-call]  # SQLAlchemy leaves this method unannotated; it returns the row's parameters


class Case(Base):
    __tablename__ = "case_file"
    __table_args__ = ROW_TABLE_ARGS

    id: Mapped[str] = mapped_column(String(22), primary_key=True)
    channel: Mapped[str] = mapped_column(ForeignKey("channel.name"))
    status: Mapped[str] = mapped_column(String(20))
    intake_mode: Mapped[str] = mapped_column(String(16))
    received_on: Mapped[Day]
    ack_due_on: Mapped[Day]
    feedback_due_on: Mapped[Day]
    acknowledged_on: Mapped[date | None] = mapped_column(Date)
    feedback_on: Mapped[date | None] = mapped_column(Date)
    closed_on: Mapped[date | None] = mapped_column(Date)
    outcome: Mapped[str | None] = mapped_column(String(32))
    handler: Mapped[str | None] = mapped_column(String(32))
    offered_to: Mapped[str | None] = mapped_column(String(32))
    # Set when someone recused: nothing new may be written until a member re-keys the case.
    rekey_needed: Mapped[bool] = mapped_column(default=False, server_default=false())
    epoch: Mapped[int] = mapped_column(Integer, default=0)
    reply_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    sign_key: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    thread_next: Mapped[int] = mapped_column(Integer, default=0)
    # Sequence number of the reporter's latest thread object (0: the report), so a member's
    # client can tell which cases have news from the reporter without the server tracking reads.
    last_reporter_seq: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    thread_head: Mapped[Blob]
    committee_next: Mapped[int] = mapped_column(Integer, default=0)
    committee_head: Mapped[Blob]
    # The change marker a member's client syncs by (``mark_changed``): a version that rises with
    # every change, and the day of the latest one. Never a time, and no counter shared between
    # cases, which would order their arrivals (invariant 2).
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    changed_on: Mapped[Day] = mapped_column(index=True, default=_received_on)


class CaseObject(Base):
    __tablename__ = "case_object"
    __table_args__ = (
        UniqueConstraint("case_id", "chain", "seq"),
        ROW_TABLE_ARGS,
    )

    id: Mapped[str] = mapped_column(String(22), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("case_file.id", ondelete="CASCADE"), index=True)
    chain: Mapped[str] = mapped_column(String(16))
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    sender: Mapped[str] = mapped_column(String(64))
    epoch: Mapped[int] = mapped_column(Integer)
    envelope: Mapped[Blob]
    hash: Mapped[Blob]
    # A member's signed redaction record (crypto/redaction.py): ``envelope`` is then the
    # redacted version and ``hash`` still the original's transcript hash.
    redaction: Mapped[bytes | None] = mapped_column(LargeBinary)


class WrappedKey(Base):
    __tablename__ = "wrapped_key"
    __table_args__ = ROW_TABLE_ARGS

    case_id: Mapped[str] = mapped_column(
        ForeignKey("case_file.id", ondelete="CASCADE"), primary_key=True
    )
    epoch: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    recipient: Mapped[str] = mapped_column(String(64), primary_key=True)
    sealed: Mapped[Blob]


class StatusChange(Base):
    """The day a case entered a status (for time-per-step metrics); never a time of day."""

    __tablename__ = "status_change"
    __table_args__ = ROW_TABLE_ARGS

    id: Mapped[str] = mapped_column(String(22), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("case_file.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(20))
    on: Mapped[Day]


class Recusal(Base):
    """A member who declared a conflict of interest and holds no key from the next epoch on."""

    __tablename__ = "recusal"
    __table_args__ = ROW_TABLE_ARGS

    case_id: Mapped[str] = mapped_column(
        ForeignKey("case_file.id", ondelete="CASCADE"), primary_key=True
    )
    member_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    on: Mapped[Day]


class CorrectiveAction(Base):
    """A corrective action's metadata; its description lives in the committee chain."""

    __tablename__ = "corrective_action"
    __table_args__ = ROW_TABLE_ARGS

    id: Mapped[str] = mapped_column(String(22), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("case_file.id", ondelete="CASCADE"), index=True)
    owner: Mapped[str] = mapped_column(String(32))
    due_on: Mapped[Day]
    state: Mapped[str] = mapped_column(String(16))
    created_on: Mapped[Day]
    done_on: Mapped[date | None] = mapped_column(Date)
