"""Workflow statistics as a pure function: every figure, small-count suppression, filters."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import date, timedelta
from itertools import product

import pytest

from safevoice.cases.stats import (
    ActionFacts,
    CaseFacts,
    Month,
    Period,
    compute,
    days_per_step,
    timeline,
)
from safevoice.errors import BadRequest
from safevoice.protocol import deadlines
from safevoice.protocol.suppression import HIDDEN, SMALL, percent_figure, protect_breakdown
from safevoice.protocol.wire import Statistics

TODAY = date(2026, 3, 15)
CHANNELS = ("general", "safety")
YEAR = Period(Month(2025, 4), Month(2026, 3))


def case(
    received: date,
    *,
    channel: str = "general",
    status: str = "received",
    ack: date | None = None,
    feedback: date | None = None,
    closed: date | None = None,
    outcome: str | None = None,
    changes: tuple[tuple[str, date], ...] = (),
    actions: tuple[ActionFacts, ...] = (),
) -> CaseFacts:
    return CaseFacts(
        channel=channel,
        status=status,
        received_on=received,
        ack_due_on=deadlines.ack_due(received),
        feedback_due_on=deadlines.feedback_due(received, ack),
        acknowledged_on=ack,
        feedback_on=feedback,
        closed_on=closed,
        outcome=outcome,
        changes=changes,
        actions=actions,
    )


def run(cases: list[CaseFacts], *, period: Period = YEAR, channel: str | None = None) -> Statistics:
    return compute(cases, period=period, channels=CHANNELS, channel=channel, today=TODAY)


def per_month(stats: Statistics) -> dict[str, object]:
    return {m.month: m.count for m in stats.received_per_month}


def per_channel(stats: Statistics) -> dict[str, object]:
    return {c.channel: c.count for c in stats.received_per_channel}


def d(month: int, day: int, year: int = 2025) -> date:
    return date(year, month, day)


# -- counts -------------------------------------------------------------------------------------


def test_counts_per_month_and_channel_add_up_and_list_every_month_and_channel() -> None:
    cases = (
        [case(d(5, 2 + i)) for i in range(6)]
        + [case(d(7, 1 + i), channel="safety") for i in range(5)]
        + [case(d(7, 20)) for _ in range(2)]
        + [case(d(7, 21), channel="safety") for _ in range(5)]
    )
    summer = Period(Month(2025, 5), Month(2025, 7))

    stats = run(cases, period=summer)

    assert stats.received_total == 18
    assert per_month(stats) == {"2025-05": 6, "2025-06": SMALL, "2025-07": HIDDEN}
    assert per_channel(stats) == {"general": 8, "safety": 10}
    assert (stats.period_from, stats.period_to, stats.channel) == ("2025-05", "2025-07", None)


def test_a_breakdown_that_cannot_protect_its_small_cells_is_hidden_whole() -> None:
    # Ten empty months beside 6 and 5: showing 6 and 5 would prove the others are 0, and
    # hiding the 6 would leave 6 + 0 to share, which still proves too much.
    cases = [case(d(5, 2 + i)) for i in range(6)] + [
        case(d(9, 1 + i), channel="safety") for i in range(5)
    ]

    stats = run(cases)

    assert stats.received_total == 11
    assert list(per_month(stats)) == [str(Month(2025, 4).plus(i)) for i in range(12)]
    assert set(per_month(stats).values()) == {HIDDEN}
    assert per_channel(stats) == {"general": 6, "safety": 5}


def test_a_hidden_month_cannot_be_worked_out_from_the_total() -> None:
    # The example of the rule: 7 and 3 beside a total of 10 would give the 3 away.
    cases = [case(d(5, 1 + i)) for i in range(7)] + [case(d(6, 1 + i)) for i in range(3)]

    stats = run(cases, period=Period(Month(2025, 5), Month(2025, 6)))

    assert stats.received_total == 10
    assert per_month(stats) == {"2025-05": HIDDEN, "2025-06": SMALL}
    assert per_channel(stats) == {"general": HIDDEN, "safety": SMALL}


def test_the_channel_breakdown_hides_its_largest_cell_beside_a_small_one() -> None:
    cases = [case(d(5, 1 + i % 28)) for i in range(18)] + [
        case(d(5, 3), channel="safety"),
        case(d(5, 4), channel="safety"),
    ]

    stats = run(cases)

    assert stats.received_total == 20
    assert per_channel(stats) == {"general": HIDDEN, "safety": SMALL}


def test_a_total_below_five_is_small_and_so_is_every_cell() -> None:
    stats = run([case(d(5, 1)), case(d(7, 1), channel="safety")])

    assert stats.received_total == SMALL
    assert set(per_month(stats).values()) == {SMALL}
    assert per_channel(stats) == {"general": SMALL, "safety": SMALL}


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([7, 3], [HIDDEN, SMALL]),
        ([5, 0, 12], [5, SMALL, HIDDEN]),
        ([6, 7, 8], [6, 7, 8]),
        # Twelve small months beside a total of 20: each can still be anything from 0 to 4.
        ([2, 1, 0, 3, 1, 2, 0, 1, 4, 2, 1, 3], [SMALL] * 12),
        # Hiding the 6 would not be enough (the 3 would be at most 4 less than 9 - 5): all go.
        ([6, 3], [HIDDEN, HIDDEN]),
        ([4, 4], [HIDDEN, HIDDEN]),
        ([2, 3], [HIDDEN, HIDDEN]),
        ([1, 2], [SMALL, SMALL]),
        ([], []),
    ],
)
def test_protect_breakdown_examples(values: list[int], expected: list[object]) -> None:
    assert protect_breakdown(values) == expected


def test_no_small_cell_can_be_narrowed_down_even_by_someone_who_knows_the_rule() -> None:
    """For every breakdown of up to four cells, a "<5" cell stays any of 0 to 4.

    Group all breakdowns by what an answer shows (the cells and the total, itself "<5" below
    5); inside a group, every "<5" cell must take each of the values 0 to 4 somewhere, and
    every shown number must be the true one. The totals are bounded by the largest cell
    value, so no group is cut short.
    """
    bound = 16
    groups: dict[tuple[object, ...], list[tuple[int, ...]]] = defaultdict(list)
    for size in range(1, 5):
        for values in product(range(bound + 1), repeat=size):
            total = sum(values)
            if total > bound:
                continue
            shown = (total if total >= 5 else SMALL, *protect_breakdown(values))
            groups[shown].append(values)

    for shown, members in groups.items():
        for index, figure in enumerate(shown[1:]):
            possible = {values[index] for values in members}
            if figure == SMALL:
                assert possible == {0, 1, 2, 3, 4}, (shown, index, possible)
            elif isinstance(figure, int):
                assert possible == {figure}
    assert any(HIDDEN in shown for shown in groups)


# -- medians ------------------------------------------------------------------------------------


def test_median_days_to_acknowledge_and_to_close() -> None:
    received = d(6, 1)
    cases = [
        case(received, ack=received + timedelta(days=days), closed=received + timedelta(days=c))
        for days, c in [(1, 30), (2, 40), (3, 50), (4, 60), (10, 70), (6, 80)]
    ]

    stats = run(cases)

    assert stats.median_days_to_acknowledge == 3.5  # 1 2 3 | 4 6 10
    assert stats.median_days_to_close == 55.0


def test_medians_from_fewer_than_five_cases_are_suppressed() -> None:
    received = d(6, 1)
    cases = [case(received, ack=received + timedelta(days=n)) for n in range(4)]
    cases += [case(received) for _ in range(6)]

    stats = run(cases)

    assert stats.median_days_to_acknowledge == SMALL
    assert stats.median_days_to_close == SMALL


def test_time_per_step_counts_completed_stays_and_every_stay_of_a_reopened_case() -> None:
    received = d(6, 1)
    flow = (
        ("acknowledged", d(6, 3)),
        ("investigating", d(6, 8)),
        ("action_planned", d(6, 20)),
        ("closed", d(7, 1)),
    )
    reopened = (
        *flow,
        ("investigating", d(7, 10)),
        ("closed", d(7, 15)),
    )
    cases = [case(received, changes=flow) for _ in range(4)]
    cases.append(case(received, changes=reopened))
    # Still investigating: its stay there is not complete and does not count.
    cases.append(case(received, changes=flow[:2]))

    stats = run(cases)
    steps = {s.status: s.median_days for s in stats.median_days_per_step}

    assert steps == {
        "received": 2.0,
        "acknowledged": 5.0,
        "investigating": 12.0,  # four cases 12 days, one 12 + 5: the median is 12
        "action_planned": 11.0,
    }
    assert days_per_step(cases[4]) == {
        "received": 2,
        "acknowledged": 5,
        "investigating": 17,
        "action_planned": 11,
    }
    assert steps.keys() == {"received", "acknowledged", "investigating", "action_planned"}


def test_status_changes_on_one_day_follow_the_workflow_from_where_the_case_stands() -> None:
    received = d(6, 1)
    # Closed and reopened on the same day: the case is investigating at the end of that day.
    facts = case(
        received,
        changes=(
            ("investigating", d(6, 5)),
            ("acknowledged", d(6, 5)),
            ("received", received),
            ("investigating", d(6, 9)),
            ("closed", d(6, 9)),
            ("closed", d(6, 12)),
        ),
    )

    assert timeline(facts) == [
        ("received", received),
        ("acknowledged", d(6, 5)),
        ("investigating", d(6, 5)),
        ("closed", d(6, 9)),
        ("investigating", d(6, 9)),
        ("closed", d(6, 12)),
    ]
    assert days_per_step(facts) == {"received": 4, "acknowledged": 0, "investigating": 7}


def test_step_medians_need_five_cases_that_left_the_step() -> None:
    received = d(6, 1)
    cases = [case(received, changes=(("acknowledged", d(6, 2)),)) for _ in range(4)]

    stats = run(cases + [case(received) for _ in range(5)])

    assert {s.median_days for s in stats.median_days_per_step} == {SMALL}


# -- shares -------------------------------------------------------------------------------------


def test_share_acknowledged_within_seven_days_counts_cases_due_or_acknowledged() -> None:
    early = d(10, 1)
    cases = [case(early, ack=early + timedelta(days=n)) for n in (0, 3, 7, 7)]  # on time
    cases.append(case(early, ack=early + timedelta(days=8)))  # late
    cases.append(case(early))  # never acknowledged, overdue
    cases.append(case(TODAY - timedelta(days=7)))  # due today: not yet late, not counted
    cases.append(case(TODAY - timedelta(days=2), ack=TODAY))  # acknowledged early: counted

    stats = run(cases)

    assert stats.percent_acknowledged_within_7_days == 71  # 5 of 7, rounded


def test_share_given_feedback_within_three_months() -> None:
    received = d(6, 1)
    ack = d(6, 3)  # feedback due on 3 September
    cases = [case(received, ack=ack, feedback=d(9, 3)) for _ in range(3)]  # on the last day
    cases.append(case(received, ack=ack, feedback=d(9, 4)))  # a day late
    cases.append(case(received, ack=ack))  # none yet, overdue
    cases.append(case(d(3, 1, 2026), ack=d(3, 2, 2026)))  # not due yet: not counted

    stats = run(cases)

    assert stats.percent_feedback_within_3_months == 60


def test_shares_substantiated_and_with_corrective_action_are_of_closed_cases() -> None:
    received = d(6, 1)
    closed = d(8, 1)
    due = d(9, 1)
    cases = [
        case(
            received,
            closed=closed,
            outcome="substantiated",
            actions=(ActionFacts(due, "done", d(8, 20)),),
        ),
        case(
            received, closed=closed, outcome="substantiated", actions=(ActionFacts(due, "planned"),)
        ),
        case(received, closed=closed, outcome="not_substantiated"),
        case(
            received,
            closed=closed,
            outcome="out_of_scope",
            actions=(ActionFacts(due, "dropped"),),
        ),
        case(received, closed=closed, outcome="no_action_needed"),
        case(received, closed=closed, outcome="not_substantiated"),
        case(received, outcome=None, actions=(ActionFacts(due, "in_progress"),)),  # open
    ]

    stats = run(cases)

    assert stats.percent_substantiated == 33  # 2 of 6 closed
    assert stats.percent_closed_with_corrective_action == 33  # dropped actions do not count


def test_share_of_actions_done_on_time_counts_done_and_past_due_actions() -> None:
    received = d(6, 1)
    due = d(9, 1)
    actions = [
        ActionFacts(due, "done", due),  # on time, on the day
        ActionFacts(due, "done", d(8, 1)),  # early
        ActionFacts(due, "done", d(9, 2)),  # late
        ActionFacts(due, "in_progress"),  # past due, not done
        ActionFacts(due, "planned"),  # past due, not done
        ActionFacts(d(4, 1, 2026), "planned"),  # not due yet: not counted
        ActionFacts(due, "dropped"),  # dropped: not counted
    ]
    cases = [case(received, actions=(a,)) for a in actions]

    stats = run(cases)

    assert stats.percent_actions_done_on_time == 40


def test_action_share_needs_five_actions_from_five_cases() -> None:
    received = d(6, 1)
    due = d(9, 1)
    many = tuple(ActionFacts(due, "done", due) for _ in range(6))
    one_case = [case(received, actions=many)] + [case(received) for _ in range(9)]
    four_cases = [case(received, actions=many[:2]) for _ in range(4)]

    assert run(one_case).percent_actions_done_on_time == SMALL
    assert run(four_cases).percent_actions_done_on_time == SMALL


def test_shares_from_fewer_than_five_cases_are_suppressed() -> None:
    received = d(6, 1)
    cases = [case(received, ack=received, closed=d(7, 1), outcome="substantiated")] * 4

    stats = run(cases)

    assert stats.percent_acknowledged_within_7_days == SMALL
    assert stats.percent_feedback_within_3_months == SMALL
    assert stats.percent_substantiated == SMALL
    assert stats.percent_closed_with_corrective_action == SMALL


@pytest.mark.parametrize(
    ("part", "base", "expected"),
    [(1, 8, 13), (5, 8, 63), (0, 5, 0), (5, 5, 100), (2, 3, SMALL), (0, 0, SMALL)],
)
def test_percentages_are_whole_and_rounded_half_up(part: int, base: int, expected: object) -> None:
    assert percent_figure(part, base) == expected


# -- empty data and filters ---------------------------------------------------------------------


def test_with_no_cases_every_figure_is_small_and_the_tables_keep_their_shape() -> None:
    stats = run([])

    assert stats.received_total == SMALL
    assert len(stats.received_per_month) == 12
    assert set(per_month(stats).values()) == {SMALL}
    assert per_channel(stats) == {"general": SMALL, "safety": SMALL}
    numbers = stats.model_dump(
        exclude={"period_from", "period_to", "channel", "today", "threshold"}
    )
    flat = [
        numbers["received_total"],
        numbers["median_days_to_acknowledge"],
        numbers["median_days_to_close"],
        *(s["median_days"] for s in numbers["median_days_per_step"]),
        *(v for k, v in numbers.items() if k.startswith("percent_")),
    ]
    assert set(flat) == {SMALL}


def test_the_period_and_the_channel_filter_select_the_cases_received() -> None:
    cases = (
        [case(d(3, 31)) for _ in range(5)]  # before the period
        + [case(d(4, 1)) for _ in range(5)]
        + [case(d(4, 30), channel="safety") for _ in range(6)]
        + [case(d(5, 1)) for _ in range(5)]  # after the period
    )
    april = Period(Month(2025, 4), Month(2025, 4))

    everything = run(cases, period=april)
    safety = run(cases, period=april, channel="safety")

    assert everything.received_total == 11
    assert per_channel(everything) == {"general": 5, "safety": 6}
    assert safety.received_total == 6
    assert safety.channel == "safety"
    assert per_channel(safety) == {"safety": 6}
    assert per_month(safety) == {"2025-04": 6}


def test_the_default_period_is_the_twelve_months_up_to_this_one() -> None:
    period = Period.choose(first=None, last=None, today=TODAY)

    assert (str(period.first), str(period.last)) == ("2025-04", "2026-03")
    assert str(Period.choose(first="2024-11", last=None, today=TODAY).first) == "2024-11"
    assert str(Period.choose(first=None, last="2025-02", today=TODAY).first) == "2024-03"


@pytest.mark.parametrize(
    ("first", "last", "problem"),
    [
        ("2026-03", "2026-01", "starts after it ends"),
        ("2000-01", "2026-01", "at most 120 months"),
        ("2026-13", None, "YYYY-MM"),
        ("26-01", None, "YYYY-MM"),
    ],
)
def test_bad_periods_are_refused_with_a_sentence(
    first: str, last: str | None, problem: str
) -> None:
    with pytest.raises(BadRequest, match=problem):
        Period.choose(first=first, last=last, today=TODAY)


# -- willingness to report, over time ----------------------------------------------------------


def per_quarter(stats: Statistics) -> dict[tuple[str, str], object]:
    return {(q.quarter, q.channel): q.count for q in stats.received_per_quarter}


def test_reports_per_quarter_and_channel_when_every_month_and_cell_is_large() -> None:
    period = Period(Month(2025, 1), Month(2025, 6))
    cases = [
        case(d(month, day), channel=channel)
        for month in range(1, 7)
        for channel, many in (("general", 4), ("safety", 2))
        for day in range(1, 1 + many)
    ]
    stats = run(cases, period=period)
    assert per_quarter(stats) == {
        ("2025-Q1", "general"): 12,
        ("2025-Q1", "safety"): 6,
        ("2025-Q2", "general"): 12,
        ("2025-Q2", "safety"): 6,
    }
    # The near-miss channel's share of what was reported: 12 of 36.
    assert {s.channel: s.percent for s in stats.share_per_channel} == {
        "general": 67,
        "safety": 33,
    }


def test_one_near_miss_in_a_quarter_is_not_singled_out() -> None:
    period = Period(Month(2025, 1), Month(2025, 6))
    cases = [case(d(month, day)) for month in range(1, 7) for day in range(1, 6)]
    cases.append(case(d(5, 9), channel="safety"))
    stats = run(cases, period=period)
    # Q2 safety holds one report: the table cannot show it, nor any cell that would bound it.
    assert set(per_quarter(stats).values()) == {HIDDEN}
    assert {s.channel: s.percent for s in stats.share_per_channel} == {
        "general": HIDDEN,
        "safety": SMALL,
    }
    assert per_channel(stats) == {"general": HIDDEN, "safety": SMALL}


def test_the_quarter_table_is_hidden_when_a_month_inside_it_is_small() -> None:
    # Every quarter cell is large, but March holds 4: a quarter total would bound it.
    period = Period(Month(2025, 1), Month(2025, 3))
    cases = [case(d(1, day)) for day in range(1, 11)] + [case(d(2, day)) for day in range(1, 11)]
    cases += [case(d(3, day)) for day in range(1, 5)]
    cases += [case(d(month, 20), channel="safety") for month in (1, 1, 2, 2, 2)]
    stats = run(cases, period=period)
    assert per_month(stats)["2025-03"] == SMALL
    assert set(per_quarter(stats).values()) == {HIDDEN}


def test_a_quarter_only_counts_the_months_of_the_period() -> None:
    period = Period(Month(2025, 2), Month(2025, 4))
    cases = [case(d(month, day)) for month in (1, 2, 3, 4) for day in range(1, 6)]
    cases += [case(d(month, day), channel="safety") for month in (2, 3, 4) for day in range(1, 6)]
    stats = run(cases, period=period)
    assert per_quarter(stats) == {
        ("2025-Q1", "general"): 10,
        ("2025-Q1", "safety"): 10,
        ("2025-Q2", "general"): 5,
        ("2025-Q2", "safety"): 5,
    }


def test_share_of_reporters_who_came_back_with_a_follow_up() -> None:
    came_back = [replace(case(d(5, 1 + i)), followed_up=True) for i in range(3)]
    stayed = [case(d(6, 1 + i)) for i in range(5)]
    assert run(came_back + stayed).percent_reporter_followed_up == 38  # 3 of 8
    assert run(came_back + stayed[:1]).percent_reporter_followed_up == SMALL  # a base of 4


def test_median_days_to_the_first_completed_corrective_action() -> None:
    done = [
        case(
            d(5, 1),
            actions=(
                ActionFacts(due_on=d(9, 1), state="done", done_on=d(5, 1) + timedelta(days=n)),
                ActionFacts(due_on=d(9, 1), state="done", done_on=d(8, 30)),
                ActionFacts(due_on=d(9, 1), state="open"),
            ),
        )
        for n in (10, 20, 30, 40, 50)
    ]
    open_only = [case(d(5, 1), actions=(ActionFacts(due_on=d(9, 1), state="open"),))]
    assert run(done + open_only).median_days_to_action_done == 30.0
    assert run(done[:4] + open_only).median_days_to_action_done == SMALL
