"""Server-wide state and the published manifests.

The instance signing key, the challenge key and the proof-of-work difficulty live here so that
every worker and every host reads the same state (DESIGN.md, Contracts: all server state is in
the database).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, String, Text
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


class SpentChallenge(Base):
    """A proof-of-work or login challenge already used; kept only until it expires.

    It lives with the server-wide state because intake, login, dialogue and uploads all spend
    challenges from the one instance challenge key.
    """

    __tablename__ = "spent_challenge"
    __table_args__ = ROW_TABLE_ARGS

    digest: Mapped[bytes] = mapped_column(primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Channel(Base):
    """A reporting channel and its retention policy: instance configuration that intake,
    cases, retention and the snapshot all read."""

    __tablename__ = "channel"
    __table_args__ = ROW_TABLE_ARGS

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    title: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, default="")
    questionnaire: Mapped[str] = mapped_column(Text, default="[]")
    # JSON: the texts in the operator's other languages, by language code
    # (``safevoice.protocol.wire.ChannelText``); the columns above hold the default language's.
    translations: Mapped[str] = mapped_column(Text, default="{}", server_default="{}")
    retain_days_after_closure: Mapped[int] = mapped_column(Integer)
    retain_max_days: Mapped[int] = mapped_column(Integer)
    retain_unused_days: Mapped[int] = mapped_column(Integer)
