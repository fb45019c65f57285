"""What the inbox and the case table show, computed from the cases held in memory.

Pure functions over ``CaseEntry`` values: no network, no disk. Search runs over the text that
was decrypted on this machine; nothing about a search leaves the desk.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from safevoice.desk.state import CaseEntry
from safevoice.protocol.wire import ActionOut

PAGE_SIZE = 50
SORTS: dict[str, Callable[[CaseEntry], tuple[object, ...]]] = {
    "received": lambda e: (e.summary.received_on, e.id),
    "ack_due": lambda e: (e.summary.ack_due_on, e.id),
    "feedback_due": lambda e: (e.summary.feedback_due_on, e.id),
    "status": lambda e: (e.summary.status, e.summary.received_on, e.id),
    "channel": lambda e: (e.summary.channel, e.summary.received_on, e.id),
}
OPEN_STATUSES = ("received", "acknowledged", "investigating", "action_planned")


@dataclass(frozen=True)
class InboxItem:
    case_id: str
    reason: str
    due_on: date | None
    overdue: bool
    urgency: int
    """Lower is more urgent: overdue first, then unread, then by due day."""


@dataclass(frozen=True)
class Inbox:
    items: list[InboxItem]
    unread: int
    new: int
    ack_due: int
    feedback_due: int
    actions_overdue: int


def _due(case_id: str, reason: str, due_on: date, *, today: date, rank: int) -> InboxItem:
    """A deadline of a case: among the most urgent once it has passed, else at ``rank``."""
    overdue = today > due_on
    return InboxItem(case_id, reason, due_on, overdue, 0 if overdue else rank)


def inbox(
    entries: Iterable[CaseEntry],
    actions: Iterable[ActionOut],
    *,
    today: date,
    unread: Callable[[CaseEntry], bool],
) -> Inbox:
    """Unread reporter messages, new cases and what is due, most urgent first."""
    items: list[InboxItem] = []
    counts = {"unread": 0, "new": 0, "ack": 0, "feedback": 0, "actions": 0}
    soon = today + timedelta(days=7)
    for entry in entries:
        c = entry.summary
        if unread(entry):
            counts["unread"] += 1
            items.append(InboxItem(c.id, "unread message from the reporter", None, False, 1))
        if c.status == "received":
            counts["new"] += 1
            counts["ack"] += 1
            items.append(
                _due(c.id, "new case: acknowledgement due", c.ack_due_on, today=today, rank=2)
            )
        elif c.status != "closed" and c.feedback_on is None and c.feedback_due_on <= soon:
            counts["feedback"] += 1
            items.append(
                _due(c.id, "feedback to the reporter due", c.feedback_due_on, today=today, rank=3)
            )
    for action in actions:
        if action.overdue:
            counts["actions"] += 1
            items.append(
                InboxItem(
                    action.case_id,
                    f"corrective action overdue (owner {action.owner})",
                    action.due_on,
                    True,
                    0,
                )
            )
    items.sort(key=lambda i: (i.urgency, i.due_on or date.max, i.case_id))
    return Inbox(
        items=items,
        unread=counts["unread"],
        new=counts["new"],
        ack_due=counts["ack"],
        feedback_due=counts["feedback"],
        actions_overdue=counts["actions"],
    )


@dataclass(frozen=True)
class Filters:
    status: str = ""
    channel: str = ""
    risk: str = ""
    mine: bool = False
    overdue: bool = False
    q: str = ""
    sort: str = "received"
    descending: bool = True
    page: int = 1


@dataclass(frozen=True)
class TablePage:
    rows: list[CaseEntry]
    total: int
    page: int
    pages: int


def table(entries: Iterable[CaseEntry], filters: Filters, *, me: str | None) -> TablePage:
    """Filter, search, sort and page the cases."""
    needle = filters.q.strip().casefold()
    chosen = [
        e
        for e in entries
        if (not filters.status or e.summary.status == filters.status)
        and (not filters.channel or e.summary.channel == filters.channel)
        and (not filters.risk or e.risk == filters.risk)
        and (not filters.mine or (me is not None and e.summary.handler == me))
        and (not filters.overdue or e.summary.ack_overdue or e.summary.feedback_overdue)
        and (not needle or needle in e.haystack)
    ]
    chosen.sort(key=SORTS.get(filters.sort, SORTS["received"]), reverse=filters.descending)
    pages = max(1, -(-len(chosen) // PAGE_SIZE))
    page = min(max(1, filters.page), pages)
    start = (page - 1) * PAGE_SIZE
    return TablePage(
        rows=chosen[start : start + PAGE_SIZE], total=len(chosen), page=page, pages=pages
    )
