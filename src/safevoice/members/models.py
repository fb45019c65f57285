"""Login sessions. Tokens are stored only as a digest, with a coarse expiry."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, String
from sqlalchemy.orm import Mapped, mapped_column

from safevoice.storage.base import ROW_TABLE_ARGS, Base


class LoginSession(Base):
    __tablename__ = "login_session"
    __table_args__ = ROW_TABLE_ARGS

    token_digest: Mapped[bytes] = mapped_column(primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
