"""The short-lived rows of the intake: idempotency keys.

The table is shared with upload starts and lives in ``safevoice.storage.idempotency``, which
says what a record keeps and for how long.
"""

from __future__ import annotations

from safevoice.storage.idempotency import IdempotencyKey

__all__ = ["IdempotencyKey"]
