"""Server-wide state and the published manifests.

The instance signing key, the challenge key and the proof-of-work difficulty live here so that
every worker and every host reads the same state (DESIGN.md, Contracts: all server state is in
the database).
"""

from __future__ import annotations

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from safevoice.storage.base import ROW_TABLE_ARGS, Base, Blob, Day


class ServerState(Base):
    __tablename__ = "server_state"
    __table_args__ = ROW_TABLE_ARGS

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Blob]


class PublishedManifest(Base):
    """Every manifest ever published; the one with the highest version is current."""

    __tablename__ = "manifest"
    __table_args__ = ROW_TABLE_ARGS

    version: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    payload: Mapped[Blob]
    signatures: Mapped[str] = mapped_column(Text)
    root: Mapped[str] = mapped_column(String(64))
    published_on: Mapped[Day]
