"""Audit log storage.

``audit_entry`` is the chain: each entry's hash covers the previous hash and its stored bytes.
``audit_staging`` holds reporter-originated events with their day only, until the daily fold
adds them to the chain in random order (so the log never orders submissions by time of day).
``audit_head`` is one row that appenders lock, so concurrent appends never fork the chain.
"""

from __future__ import annotations

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from safevoice.storage.base import ROW_TABLE_ARGS, Base, Blob, Day


class AuditEntry(Base):
    __tablename__ = "audit_entry"
    __table_args__ = ROW_TABLE_ARGS

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    body: Mapped[Blob]
    hash: Mapped[Blob]


class AuditStaging(Base):
    __tablename__ = "audit_staging"
    __table_args__ = ROW_TABLE_ARGS

    id: Mapped[str] = mapped_column(String(22), primary_key=True)
    on: Mapped[Day]
    body: Mapped[Blob]


class AuditHead(Base):
    __tablename__ = "audit_head"
    __table_args__ = ROW_TABLE_ARGS

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[Blob]


class AuditCheckpoint(Base):
    """A checkpoint the instance key signed: the chain's head at ``seq``."""

    __tablename__ = "audit_checkpoint"
    __table_args__ = ROW_TABLE_ARGS

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    head: Mapped[Blob]
    signature: Mapped[Blob]
    issued_on: Mapped[Day]


class AuditCountersignature(Base):
    """An auditor's signature over a checkpoint, checked against the manifest before storing."""

    __tablename__ = "audit_countersignature"
    __table_args__ = ROW_TABLE_ARGS

    seq: Mapped[int] = mapped_column(
        Integer,
        ForeignKey("audit_checkpoint.seq", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    )
    auditor: Mapped[str] = mapped_column(String(64), primary_key=True)
    signature: Mapped[Blob]
