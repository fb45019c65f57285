"""The short-lived rows of the intake: idempotency keys.

An idempotency record's stored answer names its case, so its expiry is rounded up to a whole
day (see ``safevoice.clock``): no row ties a case to a time of day. Nothing else about the
request that created it is kept.
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
