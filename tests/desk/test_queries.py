"""The inbox's order and counts and the case table's filters, search, sorting and paging."""

from __future__ import annotations

from datetime import date, timedelta

from safevoice.desk import queries
from safevoice.desk.state import CaseEntry
from safevoice.protocol.wire import ActionOut, CaseSummary

TODAY = date(2027, 3, 10)


def entry(
    n: int,
    *,
    status: str = "received",
    received: date = TODAY,
    handler: str | None = None,
    haystack: str = "",
    risk: str | None = None,
    feedback_due: date | None = None,
    channel: str = "general",
) -> CaseEntry:
    summary = CaseSummary(
        id=f"case{n:018d}",
        channel=channel,
        status=status,
        intake_mode="e2e",
        received_on=received,
        ack_due_on=received + timedelta(days=7),
        feedback_due_on=feedback_due or received + timedelta(days=97),
        acknowledged_on=None if status == "received" else received,
        feedback_on=None,
        closed_on=None,
        outcome=None,
        handler=handler,
        offered_to=None,
        epoch=0,
        version=1,
        objects=1,
        rekey_needed=False,
        thread_length=1,
        last_reporter_seq=0,
        ack_overdue=received + timedelta(days=7) < TODAY and status == "received",
        feedback_overdue=False,
        today=TODAY,
    )
    return CaseEntry(summary=summary, haystack=haystack.casefold(), risk=risk)


def test_the_inbox_puts_what_is_overdue_first_then_unread_then_by_due_day() -> None:
    fresh = entry(1)
    late = entry(2, received=TODAY - timedelta(days=9))
    unread = entry(3, status="investigating")
    feedback = entry(4, status="acknowledged", feedback_due=TODAY + timedelta(days=3))
    action = ActionOut(
        id="a" * 22,
        case_id=fresh.id,
        owner="bob",
        due_on=TODAY - timedelta(days=1),
        state="planned",
        created_on=TODAY,
        done_on=None,
        overdue=True,
    )
    box = queries.inbox(
        [fresh, late, unread, feedback], [action], today=TODAY, unread=lambda e: e is unread
    )
    order = [(item.case_id, item.reason) for item in box.items]
    # Both overdue items lead, the earlier due day first.
    assert order[:2] == [
        (late.id, "new case: acknowledgement due"),
        (fresh.id, "corrective action overdue (owner bob)"),
    ]
    assert order[2] == (unread.id, "unread message from the reporter")
    assert [i.case_id for i in box.items[3:]] == [fresh.id, feedback.id]
    assert (box.unread, box.new, box.ack_due, box.feedback_due, box.actions_overdue) == (
        1,
        2,
        2,
        1,
        1,
    )


def test_the_table_filters_searches_sorts_and_pages() -> None:
    entries = [
        entry(n, received=TODAY - timedelta(days=n), haystack=f"text {n}", channel="general")
        for n in range(120)
    ]
    entries.append(entry(500, handler="alice", risk="high", channel="safety", haystack="Ladder"))
    assert queries.table(entries, queries.Filters(q="LADDER"), me="alice").total == 1
    assert queries.table(entries, queries.Filters(mine=True), me="alice").total == 1
    assert queries.table(entries, queries.Filters(mine=True), me="bob").total == 0
    assert queries.table(entries, queries.Filters(risk="high"), me=None).total == 1
    assert queries.table(entries, queries.Filters(channel="safety"), me=None).total == 1
    overdue = queries.table(entries, queries.Filters(overdue=True), me=None)
    assert overdue.total == 120 - 8  # received more than 7 days ago and still unacknowledged
    first = queries.table(entries, queries.Filters(), me=None)
    assert (first.total, first.pages, len(first.rows)) == (121, 3, 50)
    assert first.rows[0].summary.received_on >= first.rows[1].summary.received_on
    oldest = queries.table(entries, queries.Filters(descending=False, page=99), me=None)
    assert oldest.page == 3
    assert len(oldest.rows) == 21
