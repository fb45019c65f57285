"""Legal deadlines, computed as EU Directive 2019/1937 Art. 9 says (COMPLIANCE.md D2, D3).

Acknowledgement is due 7 calendar days after receipt. Feedback is due 3 calendar months after
the acknowledgement or, where none was sent, 3 months after the end of the 7-day period; a
month without the starting day ends on its last day (30 November + 3 months = 28/29 February).
A deadline is overdue when today is after it.

These functions are the only place deadlines are computed: the server stores what they return,
and the member CLI writes the same day into the signed acknowledgement, so the reporter is never
promised a day other than the one the committee is held to. ``today`` is always the instance's
day (its configured time zone), never the client's.
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta

ACK_DAYS = 7
FEEDBACK_MONTHS = 3


def add_months(day: date, months: int) -> date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    last = calendar.monthrange(year, month)[1]
    return date(year, month, min(day.day, last))


def ack_due(received_on: date) -> date:
    return received_on + timedelta(days=ACK_DAYS)


def feedback_due(received_on: date, acknowledged_on: date | None) -> date:
    return add_months(acknowledged_on or ack_due(received_on), FEEDBACK_MONTHS)


def is_overdue(due: date, today: date) -> bool:
    return today > due


def ack_overdue(*, ack_due_on: date, acknowledged_on: date | None, today: date) -> bool:
    return acknowledged_on is None and is_overdue(ack_due_on, today)


def feedback_overdue(
    *, feedback_due_on: date, feedback_on: date | None, closed_on: date | None, today: date
) -> bool:
    return closed_on is None and feedback_on is None and is_overdue(feedback_due_on, today)


def feedback_due_after(*, status: str, received_on: date, current_due: date, today: date) -> date:
    """The feedback deadline once a case moves to ``status`` on ``today``: acknowledging
    restarts the 3 months from the acknowledgement; any other move keeps the stored one."""
    if status == "acknowledged":
        return feedback_due(received_on, today)
    return current_due
