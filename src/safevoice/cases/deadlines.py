"""The legal deadlines, as the case domain knows them: re-exported from ``protocol.deadlines``.

The arithmetic lives in ``protocol/`` because both sides of the wire need the same days: the
server stores them, and a member's client writes the promised feedback day into the signed
acknowledgement. This module keeps the domain's existing import path.
"""

from __future__ import annotations

from safevoice.protocol.deadlines import (
    ACK_DAYS,
    FEEDBACK_MONTHS,
    ack_due,
    ack_overdue,
    add_months,
    feedback_due,
    feedback_due_after,
    feedback_overdue,
    is_overdue,
)

__all__ = [
    "ACK_DAYS",
    "FEEDBACK_MONTHS",
    "ack_due",
    "ack_overdue",
    "add_months",
    "feedback_due",
    "feedback_due_after",
    "feedback_overdue",
    "is_overdue",
]
