"""The member's reader compares the server's corrective actions with the signed records.

Owners, due days and states are metadata in the clear (the statistics need them); the signed
``action`` records of the committee chain say what they must be. A state may move on without a
signed record (only a reason is signed), so only moves the workflow allows are accepted.
"""

from __future__ import annotations

from datetime import date

from safevoice.crypto.envelope import CaseKeys
from safevoice.protocol.reader import ReadCase, ReadObject, action_problems
from safevoice.protocol.wire import ActionOut


def record(seq: int, **body: str) -> ReadObject:
    return ReadObject(
        chain="committee",
        seq=seq,
        kind="action",
        sender="member:alice",
        epoch=0,
        verified=True,
        body={"format": "safevoice-action-v1", **body},
    )


def case_with(*objects: ReadObject) -> ReadCase:
    return ReadCase(
        report=None,
        objects=list(objects),
        problems=[],
        heads={},
        keys=CaseKeys(thread=bytes(32), committee=bytes(32)),
    )


def listed(action_id: str, state: str, owner: str = "bob", due: str = "2099-01-31") -> ActionOut:
    return ActionOut(
        id=action_id,
        case_id="c",
        owner=owner,
        due_on=date.fromisoformat(due),
        state=state,
        created_on=date(2026, 1, 1),
        done_on=None,
        overdue=False,
    )


PLANNED = record(0, action_id="a1", owner="bob", due_on="2099-01-31", description="Fix.")


def test_unsigned_moves_the_workflow_allows_are_accepted() -> None:
    read = case_with(PLANNED)

    assert action_problems(read, [listed("a1", "planned")]) == []
    assert action_problems(read, [listed("a1", "in_progress")]) == []
    assert action_problems(read, [listed("a1", "done")]) == []


def test_a_drop_nobody_signed_or_an_undone_signed_state_is_named() -> None:
    dropped = case_with(PLANNED, record(1, action_id="a1", state="dropped", reason="Moot."))

    unsigned_drop = action_problems(case_with(PLANNED), [listed("a1", "dropped")])
    reopened = action_problems(dropped, [listed("a1", "in_progress")])

    assert unsigned_drop == [
        "the server says corrective action a1 is dropped, but the committee signed it planned"
    ]
    assert reopened == [
        "the server says corrective action a1 is in_progress, but the committee signed it dropped"
    ]


def test_an_action_nobody_signed_or_one_that_went_missing_is_named() -> None:
    read = case_with(PLANNED)

    invented = action_problems(read, [listed("a1", "planned"), listed("a2", "planned")])
    missing = action_problems(read, [])

    assert invented == ["the server lists corrective action a2, but no committee member signed it"]
    assert missing == [
        "corrective action a1, signed in the committee's record, is missing from the server's "
        "list of actions"
    ]


def test_a_record_that_did_not_verify_signs_nothing() -> None:
    forged = record(0, action_id="a1", owner="carol", due_on="2099-12-31", description="x")
    forged.verified = False

    assert action_problems(case_with(forged), [listed("a1", "planned", owner="carol")]) == [
        "the server lists corrective action a1, but no committee member signed it"
    ]
