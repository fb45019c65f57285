"""Proposed lessons-learned summaries and their approvals.

The summary is ciphertext for the committee; the server keeps its case (so that it goes when
the case is purged), who proposed it, the hash of the signed summary that every approval
covers, and the approvals. No day is kept: the digest dates a lesson by its quarter only.
"""

from __future__ import annotations

from sqlalchemy import ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from safevoice.storage.base import ROW_TABLE_ARGS, Base, Blob, RandomId


class Lesson(Base):
    __tablename__ = "lesson"
    __table_args__ = ROW_TABLE_ARGS

    id: Mapped[RandomId]
    case_id: Mapped[str] = mapped_column(ForeignKey("case_file.id", ondelete="CASCADE"), index=True)
    proposer: Mapped[str] = mapped_column(String(72))
    digest: Mapped[bytes] = mapped_column(LargeBinary)
    sealed: Mapped[Blob]


class LessonApproval(Base):
    __tablename__ = "lesson_approval"
    __table_args__ = ROW_TABLE_ARGS

    lesson_id: Mapped[str] = mapped_column(
        ForeignKey("lesson.id", ondelete="CASCADE"), primary_key=True
    )
    member: Mapped[str] = mapped_column(String(64), primary_key=True)
    sig: Mapped[bytes] = mapped_column(LargeBinary)
