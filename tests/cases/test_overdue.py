"""Overdue flags on a fixed clock, and the overdue list members get (COMPLIANCE.md D2, D3)."""

from __future__ import annotations

from datetime import date, timedelta

import httpx
from sqlalchemy import update

from safevoice.cases.models import Case
from safevoice.cases.service import summary
from safevoice.crypto.manifest import Manifest
from safevoice.storage.db import Database
from tests.api.test_login import login
from tests.dialogue.test_dialogue_api import bearer, new_case
from tests.support.world import World


def case_row(
    received: date, acknowledged: date | None = None, feedback: date | None = None
) -> Case:
    from safevoice.protocol import deadlines

    return Case(
        id="A" * 22,
        channel="general",
        status="acknowledged" if acknowledged else "received",
        intake_mode="e2e",
        received_on=received,
        ack_due_on=deadlines.ack_due(received),
        feedback_due_on=deadlines.feedback_due(received, acknowledged),
        acknowledged_on=acknowledged,
        feedback_on=feedback,
        closed_on=None,
        outcome=None,
        handler=None,
        offered_to=None,
        epoch=0,
        rekey_needed=False,
        reply_key=b"",
        sign_key=b"",
        thread_next=1,
        last_reporter_seq=0,
        thread_head=b"",
        committee_next=0,
        committee_head=b"",
        version=1,
    )


def test_acknowledgement_is_overdue_from_the_eighth_day_without_one() -> None:
    received = date(2026, 11, 27)
    case = case_row(received)

    assert not summary(case, received + timedelta(days=7), objects=1).ack_overdue
    assert summary(case, received + timedelta(days=8), objects=1).ack_overdue
    assert not summary(
        case_row(received, received + timedelta(days=3)),
        received + timedelta(days=30),
        objects=1,
    ).ack_overdue


def test_feedback_is_overdue_after_three_months_unless_given_or_closed() -> None:
    acknowledged = date(2026, 11, 30)
    case = case_row(date(2026, 11, 28), acknowledged)

    assert not summary(case, date(2027, 2, 28), objects=1).feedback_overdue
    assert summary(case, date(2027, 3, 1), objects=1).feedback_overdue
    given = case_row(date(2026, 11, 28), acknowledged, feedback=date(2027, 1, 10))
    assert not summary(given, date(2027, 3, 1), objects=1).feedback_overdue


def test_members_list_only_overdue_cases_when_asked(
    client: httpx.Client, database: Database, manifest: Manifest, world: World
) -> None:
    late = new_case(client, manifest, text="Late.")
    new_case(client, manifest, text="Fresh.")
    past = date.today() - timedelta(days=30)
    with database.unit_of_work() as session:
        session.execute(
            update(Case)
            .where(Case.id == late.case_id)
            .values(received_on=past, ack_due_on=past + timedelta(days=7))
        )
    member = bearer(login(client, world.members["alice"], manifest))

    overdue = client.get("/api/v1/cases", params={"overdue": "true"}, headers=member).json()
    everything = client.get("/api/v1/cases", headers=member).json()["cases"]

    assert [c["id"] for c in overdue["cases"]] == [late.case_id]
    assert len(everything) == 2


def test_the_export_pages_through_every_readable_case_once_and_nothing_else(
    client: httpx.Client, manifest: Manifest, world: World
) -> None:
    subs = [new_case(client, manifest, text=f"Case {i}.") for i in range(3)]
    hidden = new_case(client, manifest, text="Not for Bob.", exclude=["bob"])
    bob = bearer(login(client, world.members["bob"], manifest))

    seen: list[str] = []
    after = None
    while True:
        params = {"limit": "1", **({"after": after} if after else {})}
        page = client.get("/api/v1/cases/export", params=params, headers=bob).json()
        seen += [c["case"]["id"] for c in page["cases"]]
        for case in page["cases"]:
            assert [w["recipient"] for w in case["wrapped_keys"]] == ["member:bob"]
            assert case["objects"][0]["envelope"]["kind"] == "report"
        after = page["next"]
        if after is None:
            break

    assert sorted(seen) == sorted(s.case_id for s in subs)
    assert hidden.case_id not in seen
