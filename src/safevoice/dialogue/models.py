"""Counts of failed reporter logins per coarse hourly window (nothing else about the attempts).

The count raises the proof-of-work difficulty of reporter-login challenges when guesses pile
up; windows older than a day are deleted as new ones are written.
"""

from __future__ import annotations

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from safevoice.storage.base import ROW_TABLE_ARGS, Base


class LoginFailureWindow(Base):
    __tablename__ = "login_failure_window"
    __table_args__ = ROW_TABLE_ARGS

    window: Mapped[str] = mapped_column(String(32), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
