"""Uploads and the attachments they become.

An ``upload`` is a capability (its random id) to append encrypted chunks, in order, for one
intended case; nothing about the file is stored besides the number of chunks. It becomes an
``attachment`` when the report or message that carries its key is written; uploads that never
do expire and are deleted with their chunks.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from safevoice.storage.base import ROW_TABLE_ARGS, Base


class Upload(Base):
    __tablename__ = "upload"
    __table_args__ = ROW_TABLE_ARGS

    id: Mapped[str] = mapped_column(String(22), primary_key=True)
    # The case the upload is for; it may not exist yet (a report being submitted).
    case_id: Mapped[str] = mapped_column(String(22), index=True)
    received: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int | None] = mapped_column(Integer)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Attachment(Base):
    __tablename__ = "attachment"
    __table_args__ = ROW_TABLE_ARGS

    upload_id: Mapped[str] = mapped_column(
        ForeignKey("upload.id", ondelete="CASCADE"), primary_key=True
    )
    case_id: Mapped[str] = mapped_column(ForeignKey("case_file.id", ondelete="CASCADE"), index=True)
    # The position in the thread of the report or message that carries the file's key, so a
    # redaction of that object may remove it (cases/redaction.py); None for files attached
    # before SafeVoice recorded it (migration 0018), which belong to some object of the case.
    seq: Mapped[int | None] = mapped_column(Integer)
