"""Deadlines as EU Directive 2019/1937 Art. 9 counts them (COMPLIANCE.md D2, D3)."""

from __future__ import annotations

from datetime import date

import pytest

from safevoice.protocol import deadlines


@pytest.mark.parametrize(
    ("received", "due"),
    [
        (date(2026, 11, 27), date(2026, 12, 4)),
        (date(2026, 12, 28), date(2027, 1, 4)),
        (date(2028, 2, 25), date(2028, 3, 3)),  # across a leap day
        (date(2027, 2, 25), date(2027, 3, 4)),
    ],
)
def test_acknowledgement_is_due_seven_calendar_days_after_receipt(
    received: date, due: date
) -> None:
    assert deadlines.ack_due(received) == due


@pytest.mark.parametrize(
    ("acknowledged", "due"),
    [
        (date(2026, 11, 30), date(2027, 2, 28)),  # 30 November + 3 months: end of February
        (date(2027, 11, 30), date(2028, 2, 29)),  # ... in a leap year
        (date(2027, 11, 29), date(2028, 2, 29)),
        (date(2027, 11, 28), date(2028, 2, 28)),
        (date(2026, 8, 31), date(2026, 11, 30)),  # 31st into a 30-day month
        (date(2026, 10, 31), date(2027, 1, 31)),  # across the year
        (date(2026, 1, 15), date(2026, 4, 15)),
    ],
)
def test_feedback_is_due_three_calendar_months_after_the_acknowledgement(
    acknowledged: date, due: date
) -> None:
    assert deadlines.feedback_due(date(2000, 1, 1), acknowledged) == due


@pytest.mark.parametrize(
    ("received", "due"),
    [
        (date(2026, 11, 23), date(2027, 2, 28)),  # 7-day period ends 30 November
        (date(2027, 11, 23), date(2028, 2, 29)),  # ... in a leap year
        (date(2027, 1, 24), date(2027, 4, 30)),  # ends 31 January → 30 April
        (date(2026, 5, 1), date(2026, 8, 8)),
    ],
)
def test_without_acknowledgement_feedback_is_due_three_months_after_the_seven_days(
    received: date, due: date
) -> None:
    assert deadlines.feedback_due(received, None) == due


def test_three_months_is_not_ninety_days() -> None:
    acknowledged = date(2026, 1, 31)
    assert deadlines.feedback_due(acknowledged, acknowledged) == date(2026, 4, 30)
    assert (date(2026, 4, 30) - acknowledged).days == 89


def test_a_deadline_is_overdue_only_after_its_day() -> None:
    due = date(2026, 12, 4)
    assert not deadlines.is_overdue(due, date(2026, 12, 3))
    assert not deadlines.is_overdue(due, date(2026, 12, 4))
    assert deadlines.is_overdue(due, date(2026, 12, 5))
