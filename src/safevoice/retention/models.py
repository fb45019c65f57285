"""What retention keeps: a minimal tombstone per purged case and the legal holds.

A tombstone says only which case was purged, from which channel, the day it was received, the
day it was purged and which policy applied (with its length and the day it counted from), so
an auditor can check each purge against the rules without anything of the case remaining. A
legal hold suspends deletion of one case; its free-text reason stays in this row and never
enters the audit log.
"""

from __future__ import annotations

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from safevoice.storage.base import ROW_TABLE_ARGS, Base, Day


class Tombstone(Base):
    __tablename__ = "tombstone"
    __table_args__ = ROW_TABLE_ARGS

    case_id: Mapped[str] = mapped_column(String(22), primary_key=True)
    channel: Mapped[str] = mapped_column(String(64))
    received_on: Mapped[Day]
    purged_on: Mapped[Day]
    policy: Mapped[str] = mapped_column(String(16))
    # The limit as it stood at the purge and the day it counted from (the closure day for
    # ``after_closure``, else the day of receipt), so the purge can be checked later even
    # after the channel's policy changed.
    policy_days: Mapped[int] = mapped_column(Integer)
    since_on: Mapped[Day]


class LegalHold(Base):
    __tablename__ = "legal_hold"
    __table_args__ = ROW_TABLE_ARGS

    case_id: Mapped[str] = mapped_column(
        ForeignKey("case_file.id", ondelete="CASCADE"), primary_key=True
    )
    held_by: Mapped[str] = mapped_column(String(64))
    held_on: Mapped[Day]
    reason: Mapped[str] = mapped_column(Text)
