"""``safevoice stats``: the workflow statistics, for committee members and auditors.

The figures come from the server already suppressed (``cases/stats.py``); this command only
shows them: a table in the terminal, JSON with ``--json``, or a self-contained HTML page with
``--html FILE`` for a committee meeting.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from safevoice.cli.cases import KeyOption
from safevoice.cli.common import console, print_json, untrusted
from safevoice.cli.session import Server, logged_in
from safevoice.client import stats_html, surveys
from safevoice.protocol.wire import Statistics

RULE = (
    "Figures from fewer than {n} cases are shown as <{n}; a count is 'hidden' where it "
    "would give a <{n} away by subtraction from the total."
)


def print_stats(stats: Statistics) -> None:
    scope = escape(f"channel {stats.channel}" if stats.channel else "all channels")
    console.print(
        f"[bold]Cases received {stats.period_from} to {stats.period_to}[/], {scope}, "
        f"as of {stats.today}"
    )
    figures = Table("figure", "value", title="Workflow", title_justify="left")
    figures.columns[1].justify = "right"
    figures.add_row("reports received", stats_html.count_text(stats.received_total))
    figures.add_row(
        "median time to acknowledge", stats_html.days_text(stats.median_days_to_acknowledge)
    )
    figures.add_row("median time to close", stats_html.days_text(stats.median_days_to_close))
    figures.add_row(
        "median time to a completed corrective action",
        stats_html.days_text(stats.median_days_to_action_done),
    )
    for step in stats.median_days_per_step:
        label = stats_html.STEP_LABELS.get(step.status, step.status)
        figures.add_row(f"median time: {label.lower()}", stats_html.days_text(step.median_days))
    for label, value in (
        ("acknowledged within 7 days", stats.percent_acknowledged_within_7_days),
        ("feedback within 3 months", stats.percent_feedback_within_3_months),
        ("closed cases substantiated", stats.percent_substantiated),
        ("closed cases with corrective action", stats.percent_closed_with_corrective_action),
        ("corrective actions done on time", stats.percent_actions_done_on_time),
        ("reporters who came back with a follow-up", stats.percent_reporter_followed_up),
    ):
        figures.add_row(label, stats_html.percent_text(value))
    months = Table("month", "received", title="Per month", title_justify="left")
    months.columns[1].justify = "right"
    for month in stats.received_per_month:
        months.add_row(month.month, stats_html.count_text(month.count))
    channels = Table("channel", "received", "share", title="Per channel", title_justify="left")
    channels.columns[1].justify = channels.columns[2].justify = "right"
    for channel, share in zip(stats.received_per_channel, stats.share_per_channel, strict=True):
        channels.add_row(
            channel.channel,
            stats_html.count_text(channel.count),
            stats_html.percent_text(share.percent),
        )
    quarters = Table(
        "quarter", "channel", "received", title="Per quarter and channel", title_justify="left"
    )
    quarters.columns[2].justify = "right"
    for cell in stats.received_per_quarter:
        quarters.add_row(cell.quarter, cell.channel, stats_html.count_text(cell.count))
    console.print(figures, months, channels, quarters, markup=False)
    console.print(RULE.format(n=stats.threshold), markup=False)


def print_survey_trends(trends: list[dict[str, Any]]) -> None:
    table = Table(
        "survey", "statement", "median", "trend", title="Pulse surveys", title_justify="left"
    )
    for survey in trends:
        for row in survey["questions"]:
            table.add_row(
                untrusted(f"{survey['title']} ({str(survey['closes_on'])[:7]})"),
                untrusted(row["question"]),
                str(row["median"]),
                str(row.get("trend", "")),
            )
    console.print(table if trends else "No survey has closed yet.")


def stats(
    server: Server = None,
    period_from: Annotated[
        str | None,
        typer.Option("--from", help="First month of the period, YYYY-MM (default: a year ago)."),
    ] = None,
    period_to: Annotated[
        str | None,
        typer.Option("--to", help="Last month of the period, YYYY-MM (default: this month)."),
    ] = None,
    channel: Annotated[str | None, typer.Option(help="Only this channel.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    with_surveys: Annotated[
        bool,
        typer.Option(
            "--surveys",
            help="Also decrypt the closed pulse surveys on this machine and show their "
            "trends (members only; free texts are never shown).",
        ),
    ] = False,
    key: KeyOption = None,
    html: Annotated[
        Path | None,
        typer.Option(
            "--html",
            help="Also write a self-contained HTML report with charts to this file.",
            dir_okay=False,
        ),
    ] = None,
) -> None:
    """Statistics of the case workflow, from metadata only, with small counts suppressed.

    They include the willingness-to-report indicators: reports per quarter and channel, each
    channel's share (a near-miss channel's among them), the share of reporters who came back
    with a follow-up, the median days to acknowledgement and to a completed corrective action,
    and with --surveys the pulse survey trends; --html charts each of them."""
    context = logged_in(server)
    with context.api:
        figures = context.api.stats(period_from=period_from, period_to=period_to, channel=channel)
        trends = None
        if with_surveys:
            keys = context.keys(key)
            context.check_owner(keys)
            trends = surveys.trends(context, keys, context.manifest())
    if html is not None:
        html.write_text(stats_html.render(figures, trends), encoding="utf-8")
    if as_json:
        body = figures.model_dump(mode="json")
        if trends is not None:
            body["survey_trends"] = trends
        print_json(body)
    else:
        print_stats(figures)
        if trends is not None:
            print_survey_trends(trends)
    if html is not None and not as_json:
        console.print(f"Wrote the HTML report to {html}.", markup=False)
