"""Idempotency records: the first answer to a request that a client may have to resend.

A client that lost an answer (a timeout, a dropped connection) resends the same request under
the same random ``Idempotency-Key`` and must get the first answer again, not a second case or a
second upload. The server keeps a digest of the key, a digest of the request and the answer it
gave. The answer names a case, so the record's expiry is rounded up to a whole day (see
``safevoice.clock``): no row ties a case to a time of day. Nothing else about the request that
created it is kept. Submissions (``intake``) and upload starts (``attachments``) share the table
under keys of their own (the key's digest names the kind of request).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, DateTime, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from safevoice.errors import Conflict
from safevoice.storage.base import ROW_TABLE_ARGS, Base, Blob


class IdempotencyKey(Base):
    __tablename__ = "idempotency_key"
    __table_args__ = ROW_TABLE_ARGS

    key_digest: Mapped[bytes] = mapped_column(primary_key=True)
    request_digest: Mapped[bytes]
    response: Mapped[Blob]
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


def earlier_answer(
    session: Session | Connection, *, key_digest: bytes, request_digest: bytes, what: str
) -> bytes | None:
    """The stored answer to the same request under this key; None when the key is new.

    The same key with another request is refused: a client reuses a key only to resend, so a
    different request under it is a client's mistake, never something to answer for it.
    """
    row = session.execute(
        select(IdempotencyKey.request_digest, IdempotencyKey.response).where(
            IdempotencyKey.key_digest == key_digest
        )
    ).one_or_none()
    if row is None:
        return None
    if row.request_digest != request_digest:
        raise Conflict(f"This idempotency key was already used for a different {what}.")
    return bytes(row.response)
