"""Statistics of the case workflow, from metadata only, that never single out a reporter.

The figures (COMPLIANCE.md I6) are computed from the metadata the workflow keeps in the clear:
a case's channel, the day it was received, its deadlines, the days it was acknowledged, given
feedback and closed, its outcome, the day it entered each status, and its corrective actions'
due day, state and completion day. Nothing here reads ``case_object`` or ``wrapped_key``: no
content, no recipients, so statistics can never show whom a reporter excluded.

**Population.** Every figure is about the cases *received* in the period (whole calendar months
of the instance's days, by default the twelve months up to and including the current one) and,
with a channel filter, in that channel. For a committee member the population is the cases the
member can read: counting every case would let a member the reporter excluded compare the
figures with their own case list and learn that a case exists that they cannot see. Auditors,
who read no case at all, get figures over every case of the instance. Actions count when their
case does.

**Figures.**

- *Received per month, per channel, in total*: counts of the population. The months are every
  month of the period and the channels every channel of the instance (or the one filtered on),
  whether or not they hold a case, so the shape of a table never shows where cases are.
- *Median days to acknowledgement*: ``acknowledged_on - received_on`` over acknowledged cases.
- *Median days to closure*: ``closed_on - received_on`` over closed cases (a reopened case
  counts again once it is closed again, from its receipt).
- *Median days per step*: for each status from ``received`` to ``action_planned``, the days a
  case spent in it before it entered the next status, summed over the case's completed stays
  in that status (a reopened case stays in ``investigating`` more than once); over the cases
  that left the status at least once. The case enters ``received`` on its ``received_on``; the
  other days come from ``status_change``. Status changes on one day are put in the order the
  workflow allows from the case's status at that moment (``closed`` is followed by
  ``investigating`` when a case is reopened).
- *Percent acknowledged within 7 days*: of the cases that were acknowledged or whose
  acknowledgement deadline has passed (today is after ``ack_due_on``), those acknowledged on or
  before ``ack_due_on``.
- *Percent given feedback within 3 months*: the same with ``feedback_on`` and
  ``feedback_due_on``.
- *Percent substantiated*: of the closed cases, those closed with the outcome
  ``substantiated``.
- *Percent of closed cases with corrective action*: of the closed cases, those with at least
  one corrective action that was not dropped.
- *Percent of actions done on time*: of the corrective actions that are done or past their due
  day (dropped ones left out), those done on or before their due day.

*Willingness to report*, from the same metadata, tracking no one:

- *Received per quarter and channel*: counts of the population per calendar quarter
  (``2026-Q1``, only the months of the period) and channel. Rows and columns of this table add
  up to the months and the channels shown beside it, so it is all numbers only when every cell
  is 5 or more and every month is shown as a number; otherwise every cell is ``"hidden"``
  (``protect_table``).
- *Share per channel*: each channel's count as a percentage of the total, withheld (``"<5"``,
  ``"hidden"``) exactly when its count is. A near-miss channel's share is its line.
- *Percent of reporters who came back*: of the population, the cases whose reporter wrote a
  follow-up message after the report (``last_reporter_seq`` past the report's 0).
- *Median days to a completed corrective action*: from receipt to the first action done, over
  the cases with one.

Percentages are whole numbers (rounded half up); medians are in days (``x.5`` between two).

**Small counts (COMPLIANCE.md I7).** A figure built from fewer than ``THRESHOLD`` (5) cases is
the string ``"<5"`` instead of a number: a count below 5 (zero included, so ``"<5"`` never
says whether anything happened), a median over fewer than 5 cases, a percentage whose base
holds fewer than 5 cases. A percentage of actions needs 5 actions *and* 5 cases they belong to.

**Differencing.** Each breakdown (per month, per channel) adds up to the total, so subtraction
could undo a ``"<5"``: a total of 12 beside cells of 7 and ``"<5"`` shows the hidden cell is 5.
The rule: an answer never tells more about a ``"<5"`` cell than ``"<5"`` itself — given the
total and every other cell, each of 0, 1, 2, 3 and 4 stays possible for it, even to someone who
knows this rule. So, when the total is shown (5 or more) and a breakdown has a ``"<5"`` cell:

1. if the breakdown has cells of 5 or more, the largest of them (the first of equal ones) is
   ``"hidden"`` too; that is enough when the withheld cells (the total minus the shown cells)
   add up to at least 5 more than the largest shown cell, and to at least 10;
2. if all its cells are ``"<5"``, that is enough when their sum lies between 4 and 4 for each
   ``"<5"`` cell but one;
3. otherwise every cell of that breakdown is ``"hidden"``.

A total below 5 is itself ``"<5"``, and then its cells need no more. The rule decides only from
what the answer shows and always hides the largest cell, so replaying it reveals nothing more;
``protect_breakdown`` holds the arithmetic and SECURITY.md the reasoning, including what this
cannot protect against (comparing answers for different filters, or with one's own case list).
"""

from __future__ import annotations

import calendar
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from itertools import pairwise

from sqlalchemy import select
from sqlalchemy.orm import Session

from safevoice.cases.models import Case, CorrectiveAction, StatusChange
from safevoice.cases.service import readable_cases
from safevoice.crypto.casefile import member_label
from safevoice.errors import BadRequest, NotFound
from safevoice.instance.models import Channel
from safevoice.protocol.suppression import (
    THRESHOLD,
    count_figure,
    median_figure,
    percent_figure,
    protect_breakdown,
    protect_table,
)
from safevoice.protocol.wire import (
    ChannelCount,
    ChannelShare,
    CountFigure,
    Hidden,
    MonthCount,
    QuarterChannelCount,
    Small,
    Statistics,
    StepMedian,
)

DEFAULT_MONTHS = 12
MAX_MONTHS = 120

# The workflow, and where each status leads next (a closed case leads back to investigating
# when it is reopened). Used to order status changes that fall on the same day.
STATUSES = ("received", "acknowledged", "investigating", "action_planned", "closed")
_NEXT = {
    "received": "acknowledged",
    "acknowledged": "investigating",
    "investigating": "action_planned",
    "action_planned": "closed",
    "closed": "investigating",
}
# The steps whose duration is measured: every status a case moves on from towards closure.
STEPS = STATUSES[:-1]
SUBSTANTIATED = "substantiated"
DONE = "done"
DROPPED = "dropped"

_MONTH = re.compile(r"^([1-9][0-9]{3})-(0[1-9]|1[0-2])$")


@dataclass(frozen=True, order=True)
class Month:
    year: int
    month: int

    @classmethod
    def of(cls, day: date) -> Month:
        return cls(day.year, day.month)

    @classmethod
    def parse(cls, text: str) -> Month:
        match = _MONTH.match(text)
        if match is None:
            raise BadRequest("A month is written YYYY-MM, for example 2026-03.")
        return cls(int(match[1]), int(match[2]))

    def plus(self, months: int) -> Month:
        index = self.year * 12 + self.month - 1 + months
        return Month(index // 12, index % 12 + 1)

    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    def last_day(self) -> date:
        return date(self.year, self.month, calendar.monthrange(self.year, self.month)[1])

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    def quarter(self) -> str:
        return f"{self.year:04d}-Q{(self.month - 1) // 3 + 1}"


@dataclass(frozen=True)
class Period:
    first: Month
    last: Month

    @classmethod
    def choose(cls, *, first: str | None, last: str | None, today: date) -> Period:
        """The period asked for: by default the twelve months up to this one."""
        end = Month.parse(last) if last else Month.of(today)
        start = Month.parse(first) if first else end.plus(1 - DEFAULT_MONTHS)
        if start > end:
            raise BadRequest("The period starts after it ends.")
        if start.plus(MAX_MONTHS) <= end:
            raise BadRequest(f"A period is at most {MAX_MONTHS} months long.")
        return cls(start, end)

    def months(self) -> list[Month]:
        months, month = [], self.first
        while month <= self.last:
            months.append(month)
            month = month.plus(1)
        return months

    def contains(self, day: date) -> bool:
        return self.first <= Month.of(day) <= self.last


@dataclass(frozen=True)
class ActionFacts:
    """A corrective action's metadata: its due day, state and completion day."""

    due_on: date
    state: str
    done_on: date | None = None


@dataclass(frozen=True)
class CaseFacts:
    """The metadata of one case that the statistics use; no id, no content."""

    channel: str
    status: str
    received_on: date
    ack_due_on: date
    feedback_due_on: date
    acknowledged_on: date | None = None
    feedback_on: date | None = None
    closed_on: date | None = None
    outcome: str | None = None
    changes: tuple[tuple[str, date], ...] = ()
    actions: tuple[ActionFacts, ...] = ()
    # Whether the reporter wrote again after the report (the thread's sequence number of the
    # reporter's latest object is past the report's): a fact the server keeps for every case.
    followed_up: bool = False


# -- the figures ---------------------------------------------------------------------------------


def _distance(current: str, status: str) -> int:
    """How many workflow moves lead from ``current`` to ``status`` (99: none do)."""
    step = current
    for moves in range(1, len(STATUSES) + 1):
        step = _NEXT.get(step, "")
        if step == status:
            return moves
    return 99


def timeline(case: CaseFacts) -> list[tuple[str, date]]:
    """The statuses a case went through, with the day it entered each, in order."""
    by_day: dict[date, list[str]] = defaultdict(list)
    for status, day in case.changes:
        by_day[day].append(status)
    entries = [("received", case.received_on)]
    for day in sorted(by_day):
        pending = list(by_day[day])
        while pending:
            current = entries[-1][0]
            status = min(pending, key=lambda s: (s == current, _distance(current, s)))
            pending.remove(status)
            if status != current:
                entries.append((status, day))
    return entries


def days_per_step(case: CaseFacts) -> dict[str, int]:
    """Days spent in each measured status, summed over the stays the case completed."""
    spent: Counter[str] = Counter()
    entries = timeline(case)
    for (status, entered), (_, left) in pairwise(entries):
        if status in STEPS:
            spent[status] += (left - entered).days
    return dict(spent)


def compute(
    cases: Iterable[CaseFacts],
    *,
    period: Period,
    channels: Sequence[str],
    channel: str | None = None,
    today: date,
) -> Statistics:
    """Every figure over the cases received in ``period`` in one of ``channels``.

    ``channels`` are all channels of the instance; ``channel`` narrows to one of them. Cases
    outside the period or the channels are left out, so the breakdowns always add up.
    """
    in_scope = [channel] if channel is not None else sorted(channels)
    population = [c for c in cases if c.channel in in_scope and period.contains(c.received_on)]
    months = period.months()
    per_month = Counter(Month.of(c.received_on) for c in population)
    per_channel = Counter(c.channel for c in population)
    month_figures = protect_breakdown([per_month[m] for m in months])
    channel_figures = protect_breakdown([per_channel[name] for name in in_scope])

    days_to_ack = [
        (c.acknowledged_on - c.received_on).days
        for c in population
        if c.acknowledged_on is not None
    ]
    days_to_close = [
        (c.closed_on - c.received_on).days for c in population if c.closed_on is not None
    ]
    closed = [c for c in population if c.closed_on is not None]
    ack_base = [c for c in population if c.acknowledged_on is not None or today > c.ack_due_on]
    feedback_base = [
        c for c in population if c.feedback_on is not None or today > c.feedback_due_on
    ]
    step_days: dict[str, list[int]] = defaultdict(list)
    for case in population:
        for status, days in days_per_step(case).items():
            step_days[status].append(days)
    quarters = list(dict.fromkeys(m.quarter() for m in months))
    per_quarter = Counter((Month.of(c.received_on).quarter(), c.channel) for c in population)
    quarter_cells = [(q, name) for q in quarters for name in in_scope]
    quarter_figures = protect_table(
        [per_quarter[cell] for cell in quarter_cells],
        margins_shown=all(isinstance(f, int) for f in month_figures),
    )
    days_to_action_done = [
        min(done) - c.received_on
        for c in population
        if (done := [a.done_on for a in c.actions if a.state == DONE and a.done_on is not None])
    ]
    actions = [
        (index, action)
        for index, case in enumerate(population)
        for action in case.actions
        if action.state != DROPPED and (action.state == DONE or today > action.due_on)
    ]

    return Statistics(
        period_from=str(period.first),
        period_to=str(period.last),
        channel=channel,
        today=today,
        threshold=THRESHOLD,
        received_total=count_figure(len(population)),
        received_per_month=[
            MonthCount(month=str(m), count=f) for m, f in zip(months, month_figures, strict=True)
        ],
        received_per_channel=[
            ChannelCount(channel=name, count=f)
            for name, f in zip(in_scope, channel_figures, strict=True)
        ],
        median_days_to_acknowledge=median_figure(days_to_ack),
        median_days_to_close=median_figure(days_to_close),
        median_days_per_step=[
            StepMedian(status=s, median_days=median_figure(step_days[s])) for s in STEPS
        ],
        percent_acknowledged_within_7_days=percent_figure(
            sum(1 for c in ack_base if _on_time(c.acknowledged_on, c.ack_due_on)), len(ack_base)
        ),
        percent_feedback_within_3_months=percent_figure(
            sum(1 for c in feedback_base if _on_time(c.feedback_on, c.feedback_due_on)),
            len(feedback_base),
        ),
        percent_substantiated=percent_figure(
            sum(1 for c in closed if c.outcome == SUBSTANTIATED), len(closed)
        ),
        percent_closed_with_corrective_action=percent_figure(
            sum(1 for c in closed if any(a.state != DROPPED for a in c.actions)), len(closed)
        ),
        percent_actions_done_on_time=percent_figure(
            sum(1 for _, a in actions if a.state == DONE and _on_time(a.done_on, a.due_on)),
            len(actions),
            cases=len({index for index, _ in actions}),
        ),
        received_per_quarter=[
            QuarterChannelCount(quarter=q, channel=name, count=f)
            for (q, name), f in zip(quarter_cells, quarter_figures, strict=True)
        ],
        share_per_channel=[
            ChannelShare(channel=name, percent=_share(f, len(population)))
            for name, f in zip(in_scope, channel_figures, strict=True)
        ],
        percent_reporter_followed_up=percent_figure(
            sum(1 for c in population if c.followed_up), len(population)
        ),
        median_days_to_action_done=median_figure([delta.days for delta in days_to_action_done]),
    )


def _share(figure: CountFigure, total: int) -> int | Small | Hidden:
    """A channel's share of the total, withheld exactly when its count is."""
    if isinstance(figure, str):
        return figure
    return (200 * figure + total) // (2 * total)


def _on_time(done: date | None, due: date) -> bool:
    return done is not None and done <= due


# -- loading -------------------------------------------------------------------------------------


def load(
    session: Session, *, period: Period, channel: str | None, only: set[str] | None = None
) -> list[CaseFacts]:
    """The metadata of the cases received in the period (and channel, and among ``only`` if
    given); three queries."""
    case_filter = [
        Case.received_on >= period.first.first_day(),
        Case.received_on <= period.last.last_day(),
    ]
    if only is not None:
        case_filter.append(Case.id.in_(only))
    if channel is not None:
        case_filter.append(Case.channel == channel)
    in_scope = select(Case.id).where(*case_filter)
    changes: dict[str, list[tuple[str, date]]] = defaultdict(list)
    for case_id, status, on in session.execute(
        select(StatusChange.case_id, StatusChange.status, StatusChange.on).where(
            StatusChange.case_id.in_(in_scope)
        )
    ):
        changes[case_id].append((status, on))
    actions: dict[str, list[ActionFacts]] = defaultdict(list)
    for case_id, due_on, state, done_on in session.execute(
        select(
            CorrectiveAction.case_id,
            CorrectiveAction.due_on,
            CorrectiveAction.state,
            CorrectiveAction.done_on,
        ).where(CorrectiveAction.case_id.in_(in_scope))
    ):
        actions[case_id].append(ActionFacts(due_on=due_on, state=state, done_on=done_on))
    rows = session.execute(
        select(
            Case.id,
            Case.channel,
            Case.status,
            Case.received_on,
            Case.ack_due_on,
            Case.feedback_due_on,
            Case.acknowledged_on,
            Case.feedback_on,
            Case.closed_on,
            Case.outcome,
            Case.last_reporter_seq,
        ).where(*case_filter)
    )
    return [
        CaseFacts(
            channel=row.channel,
            status=row.status,
            received_on=row.received_on,
            ack_due_on=row.ack_due_on,
            feedback_due_on=row.feedback_due_on,
            acknowledged_on=row.acknowledged_on,
            feedback_on=row.feedback_on,
            closed_on=row.closed_on,
            outcome=row.outcome,
            changes=tuple(changes[row.id]),
            actions=tuple(actions[row.id]),
            followed_up=row.last_reporter_seq > 0,
        )
        for row in rows
    ]


def channel_names(session: Session) -> list[str]:
    return sorted(session.scalars(select(Channel.name)))


def figures(
    session: Session,
    *,
    period_from: str | None,
    period_to: str | None,
    channel: str | None,
    today: date,
    member_id: str | None = None,
) -> Statistics:
    """The statistics a committee member (over the cases they can read) or an auditor (over
    every case) asked for (see the module docstring)."""
    period = Period.choose(first=period_from, last=period_to, today=today)
    channels = channel_names(session)
    if channel is not None and channel not in channels:
        raise NotFound("There is no such channel.")
    only = None
    if member_id is not None:
        only = {case.id for case in readable_cases(session, label=member_label(member_id))}
    facts = load(session, period=period, channel=channel, only=only)
    return compute(facts, period=period, channels=channels, channel=channel, today=today)
