"""The table behind the database blob store (used when ``SAFEVOICE_BLOB_STORE=db``)."""

from __future__ import annotations

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from safevoice.storage.base import ROW_TABLE_ARGS, Base, Blob


class BlobChunk(Base):
    __tablename__ = "blob_chunk"
    __table_args__ = ROW_TABLE_ARGS

    upload_id: Mapped[str] = mapped_column(String(22), primary_key=True)
    index: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    data: Mapped[Blob]
