"""Case metadata written straight into a test database, as the case workflow leaves it."""

from __future__ import annotations

import secrets
from datetime import date, timedelta

from safevoice.cases.models import Case, CorrectiveAction, StatusChange, WrappedKey
from safevoice.crypto.encoding import b64e
from safevoice.crypto.envelope import new_case_id
from safevoice.protocol import deadlines
from safevoice.storage.db import Database


def row_id() -> str:
    """A random id as clients choose them: never starting with "-", so the CLI takes it."""
    return b64e(new_case_id())


def insert_case(
    database: Database,
    received: date,
    *,
    channel: str = "general",
    ack_after: int | None = None,
    close_after: int | None = None,
    outcome: str | None = None,
    actions: list[tuple[date, str, date | None]] | None = None,
    readers: tuple[str, ...] = ("alice", "bob"),
) -> str:
    """A case with metadata only, as the workflow leaves it; ``readers`` hold a (dummy)
    wrapped key for it, which is all the server knows of who may read a case."""
    acknowledged = received + timedelta(days=ack_after) if ack_after is not None else None
    closed = received + timedelta(days=close_after) if close_after is not None else None
    case_id = row_id()
    with database.unit_of_work() as session:
        session.add(
            Case(
                id=case_id,
                channel=channel,
                status="closed" if closed else ("acknowledged" if acknowledged else "received"),
                intake_mode="e2e",
                received_on=received,
                ack_due_on=deadlines.ack_due(received),
                feedback_due_on=deadlines.feedback_due(received, acknowledged),
                acknowledged_on=acknowledged,
                feedback_on=None,
                closed_on=closed,
                outcome=outcome,
                epoch=0,
                reply_key=secrets.token_bytes(32),
                sign_key=secrets.token_bytes(32),
                thread_next=1,
                thread_head=secrets.token_bytes(32),
                committee_next=0,
                committee_head=secrets.token_bytes(32),
            )
        )
        session.flush()
        for reader in readers:
            session.add(
                WrappedKey(
                    case_id=case_id,
                    epoch=0,
                    recipient=f"member:{reader}",
                    sealed=secrets.token_bytes(150),
                )
            )
        for status, day in (("acknowledged", acknowledged), ("closed", closed)):
            if day is not None:
                session.add(StatusChange(id=row_id(), case_id=case_id, status=status, on=day))
        for due, state, done in actions or []:
            session.add(
                CorrectiveAction(
                    id=row_id(),
                    case_id=case_id,
                    owner="alice",
                    due_on=due,
                    state=state,
                    created_on=received,
                    done_on=done,
                )
            )
    return case_id


def seed_two_months(database: Database) -> None:
    """Seven cases in March 2024 (general) and five in April (three general, two safety)."""
    march = date(2024, 3, 4)
    for index, ack in enumerate([1, 2, 3, 4, 9, 5, 6]):
        insert_case(
            database,
            march,
            ack_after=ack,
            close_after=30 + index,
            outcome="substantiated" if index < 2 else "not_substantiated",
            actions=[(date(2024, 5, 1), "done", date(2024, 4, 20 + index))],
        )
    for day in (1, 2, 3):
        insert_case(database, date(2024, 4, day))
    for day in (8, 9):
        insert_case(database, date(2024, 4, day), channel="safety")
