"""The short-lived rows of the intake: idempotency keys.

Short-lived rows carry a coarse expiry (rounded up to a quarter of an hour, see
``safevoice.clock``) and nothing else about the request that created them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime
from sqlalchemy.orm import Mapped, mapped_column

from safevoice.storage.base import ROW_TABLE_ARGS, Base, Blob


class IdempotencyKey(Base):
    __tablename__ = "idempotency_key"
    __table_args__ = ROW_TABLE_ARGS

    key_digest: Mapped[bytes] = mapped_column(primary_key=True)
    request_digest: Mapped[bytes]
    response: Mapped[Blob]
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
