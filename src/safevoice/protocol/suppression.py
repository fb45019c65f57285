"""Small-count suppression shared by every published figure: case metrics and survey results.

COMPLIANCE.md I7: a figure built from fewer than ``THRESHOLD`` (5) cases or answers is the
string ``"<5"``; in a breakdown of a shown total, a ``"<5"`` cell also hides the largest cell
(``"hidden"``), or the whole breakdown, so that subtraction never undoes it. The reasoning is in
``safevoice.cases.stats`` and SECURITY.md. This lives in ``protocol/`` because the server
computes case metrics and the committee's own machines compute survey results after decryption.
"""

from __future__ import annotations

from collections.abc import Sequence
from statistics import median

from safevoice.protocol.wire import CountFigure, DaysFigure, Hidden, PercentFigure, Small

THRESHOLD = 5
SMALL: Small = "<5"
HIDDEN: Hidden = "hidden"


def count_figure(value: int) -> CountFigure:
    return value if value >= THRESHOLD else SMALL


def median_figure(values: Sequence[int]) -> DaysFigure:
    if len(values) < THRESHOLD:
        return SMALL
    return float(median(values))


def percent_figure(part: int, base: int, *, cases: int | None = None) -> PercentFigure:
    """``part`` of ``base`` in whole percent, rounded half up; ``"<5"`` on a small base.

    ``cases`` is how many cases the base comes from when the base counts something else
    (actions); both must reach the threshold.
    """
    if base < THRESHOLD or (cases is not None and cases < THRESHOLD):
        return SMALL
    return (200 * part + base) // (2 * base)


def protect_breakdown(values: Sequence[int]) -> list[CountFigure]:
    """The cells of one breakdown of a total, with small counts suppressed (see the module).

    Every decision uses only what the answer shows (the total, the shown cells, how many cells
    are ``"<5"``), and the cell hidden beside a ``"<5"`` is always the largest, so knowing this
    rule tells nothing more than the figures do: someone who knows it only learns that the
    hidden cell is at least as large as every shown one, and the check below allows for that.
    """
    figures: list[CountFigure] = [count_figure(v) for v in values]
    total = sum(values)
    small = figures.count(SMALL)
    if total < THRESHOLD or small == 0:
        return figures  # a "<5" total narrows nothing down; without "<5" there is nothing to hide
    large = [i for i, f in enumerate(figures) if f != SMALL]
    if large:
        top = max(large, key=lambda i: (values[i], -i))  # the largest; the first of equal ones
        figures[top] = HIDDEN
        shown = [values[i] for i in large if i != top]
        withheld = total - sum(shown)
        # A "<5" cell can be 4 only if the hidden cell can be withheld - 4 and still be the
        # largest (strictly, after equal ones before it); it can be 0 whatever it is.
        if withheld - (THRESHOLD - 1) > max([THRESHOLD, *shown]):
            return figures
    elif THRESHOLD - 1 <= total <= (THRESHOLD - 1) * (small - 1):
        # Only "<5" cells: each can be 0 to 4 if the others (at most 4 each) can hold the rest.
        return figures
    return [HIDDEN] * len(values)


def protect_table(values: Sequence[int], *, margins_shown: bool) -> list[CountFigure]:
    """The cells of a two-way table (quarter by channel) whose rows and columns add up to
    figures shown elsewhere in the same answer (the months, the channels).

    Hiding one cell per breakdown is not enough here: a row and a column cross, and a ``"<5"``
    beside counts known to be 5 or more could be bounded through either margin. So the table
    is all numbers only when nothing it touches is small: every cell is 5 or more and every
    finer figure it adds up from (``margins_shown``: every month shown as a number). Otherwise
    every cell is ``"hidden"``, which tells nothing, not even which cells are small.
    """
    if margins_shown and all(v >= THRESHOLD for v in values):
        return list(values)
    return [HIDDEN] * len(values)
