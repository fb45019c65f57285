"""Status transitions: every allowed move works, every other one is refused with a sentence."""

from __future__ import annotations

import itertools

import pytest

from safevoice.cases.workflow import TRANSITIONS, check_transition
from safevoice.errors import Conflict

STATUSES = ("received", "acknowledged", "investigating", "action_planned", "closed")
ALLOWED = {
    ("received", "acknowledged"),
    ("acknowledged", "investigating"),
    ("acknowledged", "closed"),
    ("investigating", "action_planned"),
    ("investigating", "closed"),
    ("action_planned", "investigating"),
    ("action_planned", "closed"),
    ("closed", "investigating"),  # reopening
}


@pytest.mark.parametrize(("current", "new"), sorted(ALLOWED))
def test_an_allowed_transition_passes(current: str, new: str) -> None:
    check_transition(current, new)


@pytest.mark.parametrize(
    ("current", "new"),
    sorted(set(itertools.product(STATUSES, STATUSES)) - ALLOWED),
)
def test_any_other_transition_is_refused_with_the_allowed_ones_named(
    current: str, new: str
) -> None:
    with pytest.raises(Conflict) as refused:
        check_transition(current, new)
    message = refused.value.message
    assert f"from {current} to {new}" in message
    for allowed in TRANSITIONS[current]:
        assert allowed in message


def test_the_rules_cover_exactly_the_documented_workflow() -> None:
    assert {(a, b) for a, targets in TRANSITIONS.items() for b in targets} == ALLOWED
