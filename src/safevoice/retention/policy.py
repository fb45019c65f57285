"""The pure retention rules: which policy applies to a case and the day it becomes due.

Three limits per channel (DESIGN.md, Retention): days after closure, a maximum age for any
case, and a shorter limit for a case nobody ever acknowledged. Whichever comes first applies.
A case is due on its due day; an auditor calls it overdue only once ``GRACE_DAYS`` more have
passed, because the purge runs once a day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

AFTER_CLOSURE = "after_closure"
MAX_AGE = "max_age"
UNUSED = "unused"
POLICIES = (AFTER_CLOSURE, MAX_AGE, UNUSED)
GRACE_DAYS = 1
MAX_DAYS = 36_500  # a hundred years: longer than any documentation duty


@dataclass(frozen=True)
class Policy:
    days_after_closure: int
    max_age_days: int
    unused_days: int

    def days(self, policy: str) -> int:
        return {
            AFTER_CLOSURE: self.days_after_closure,
            MAX_AGE: self.max_age_days,
            UNUSED: self.unused_days,
        }[policy]


@dataclass(frozen=True)
class Due:
    policy: str
    on: date
    days: int
    # The day the limit counts from: the closure day for ``after_closure``, else the receipt.
    since: date


def due(
    policy: Policy, *, received_on: date, acknowledged_on: date | None, closed_on: date | None
) -> Due:
    """The earliest limit that applies to a case (ties go to the more specific policy)."""
    candidates: list[Due] = []
    if closed_on is not None:
        candidates.append(
            Due(
                AFTER_CLOSURE,
                closed_on + timedelta(days=policy.days_after_closure),
                policy.days_after_closure,
                closed_on,
            )
        )
    if acknowledged_on is None:
        candidates.append(
            Due(
                UNUSED,
                received_on + timedelta(days=policy.unused_days),
                policy.unused_days,
                received_on,
            )
        )
    candidates.append(
        Due(
            MAX_AGE,
            received_on + timedelta(days=policy.max_age_days),
            policy.max_age_days,
            received_on,
        )
    )
    return min(candidates, key=lambda candidate: candidate.on)


def is_due(entry: Due, today: date) -> bool:
    return entry.on <= today


def is_overdue(entry: Due, today: date) -> bool:
    return entry.on + timedelta(days=GRACE_DAYS) < today


def validate(policy: Policy) -> None:
    """Raise ``ValueError`` with a sentence when a policy cannot be right."""
    for name, days in (
        ("days after closure", policy.days_after_closure),
        ("maximum age", policy.max_age_days),
        ("unused limit", policy.unused_days),
    ):
        if not 1 <= days <= MAX_DAYS:
            raise ValueError(f"The {name} must be between 1 and {MAX_DAYS} days.")
    if policy.unused_days > policy.max_age_days:
        raise ValueError(
            "The limit for cases never acknowledged cannot be longer than the maximum age."
        )
