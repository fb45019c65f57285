"""The statistics as one self-contained HTML page a committee can show in its meeting.

Everything is inside the file: inline CSS, charts drawn as inline SVG, no script, no font, no
image, no link to anything, and a Content-Security-Policy that forbids loading anything, so
opening the page makes no request (a report about whistleblowing should not tell a third party
who opened it, or when). Every value from the server is escaped. Suppressed figures are shown
as such and never drawn as a bar, and the page explains the suppression rule.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

from safevoice.protocol.wire import CountFigure, DaysFigure, Hidden, PercentFigure, Statistics

MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
STEP_LABELS = {
    "received": "Received, until acknowledged",
    "acknowledged": "Acknowledged, until investigated",
    "investigating": "Investigating",
    "action_planned": "Action planned, until closed",
}
SUPPRESSED_NOTE = {
    "<5": "based on fewer than 5",
    "hidden": "hidden to protect a small count",
}

CSS = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 60rem; padding: 2rem 1.5rem 3rem; color: #1d2327;
  font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
  sans-serif; background: #fff; }
h1 { font-size: 1.8rem; margin: 0 0 .25rem; }
h2 { font-size: 1.25rem; margin: 2rem 0 .75rem; border-bottom: 2px solid #d8dee4;
  padding-bottom: .25rem; }
p.lead { margin: 0; color: #50575e; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(13rem, 1fr));
  gap: .75rem; margin-top: 1.5rem; }
.card { border: 1px solid #d8dee4; border-radius: .5rem; padding: .75rem 1rem; }
.card .value { font-size: 1.8rem; font-weight: 700; color: #0b5563; }
.card .value.suppressed { color: #6b7280; }
.card .label { font-size: .9rem; color: #50575e; }
figure { margin: 0; break-inside: avoid; page-break-inside: avoid; }
svg.chart { width: 100%; height: auto; display: block; }
svg .bar { fill: #0b7285; }
svg .axis { stroke: #9aa5b1; stroke-width: 1; }
svg text { font: 12px system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif;
  fill: #1d2327; }
svg text.muted { fill: #6b7280; font-style: italic; }
table { border-collapse: collapse; margin-top: .75rem; font-size: .9rem; }
th, td { border: 1px solid #d8dee4; padding: .2rem .6rem; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
details { margin-top: .5rem; }
.rule { background: #f6f8fa; border-left: 4px solid #0b7285; padding: .75rem 1rem;
  break-inside: avoid; }
footer { margin-top: 2.5rem; font-size: .85rem; color: #50575e; }
@media print {
  body { max-width: none; padding: 0; font-size: 11pt; }
  section { break-inside: avoid; page-break-inside: avoid; }
  a { color: inherit; text-decoration: none; }
}
"""

CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"


def _month_label(month: str, *, with_year: bool = True) -> str:
    year, number = month.split("-")
    name = MONTH_NAMES[int(number) - 1]
    return f"{name} {year}" if with_year else name


def _days(value: float) -> str:
    return f"{value:g}"


def count_text(value: CountFigure) -> str:
    return str(value)


def days_text(value: DaysFigure) -> str:
    return value if isinstance(value, str) else f"{_days(value)} days"


def percent_text(value: PercentFigure | Hidden) -> str:
    return value if isinstance(value, str) else f"{value} %"


@dataclass(frozen=True)
class Bar:
    label: str
    value: float | None  # None: suppressed, drawn as text only
    text: str


def _svg_open(title: str, width: int, height: int) -> str:
    return (
        f'<svg class="chart" role="img" aria-label="{escape(title)}" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'preserveAspectRatio="xMinYMin meet">'
        f"<title>{escape(title)}</title>"
    )


def column_chart(title: str, bars: Sequence[Bar]) -> str:
    """Vertical bars, one per month; suppressed months carry their marker instead of a bar."""
    width, height, left, bottom, top = 720, 260, 40, 48, 24
    plot_w, plot_h = width - left - 10, height - bottom - top
    slot = plot_w / max(len(bars), 1)
    numbers = [b.value for b in bars if b.value is not None]
    scale = max(numbers, default=0) or 1
    every = max(1, round(len(bars) / 12))
    parts = [_svg_open(title, width, height)]
    base = top + plot_h
    parts.append(f'<line class="axis" x1="{left}" y1="{base}" x2="{width - 10}" y2="{base}"/>')
    for index, bar in enumerate(bars):
        x = left + index * slot
        centre = x + slot / 2
        if bar.value is not None:
            h = plot_h * bar.value / scale
            parts.append(
                f'<rect class="bar" x="{x + slot * 0.15:.1f}" y="{base - h:.1f}" '
                f'width="{slot * 0.7:.1f}" height="{h:.1f}">'
                f"<title>{escape(bar.label)}: {escape(bar.text)}</title></rect>"
            )
            parts.append(
                f'<text x="{centre:.1f}" y="{base - h - 4:.1f}" text-anchor="middle">'
                f"{escape(bar.text)}</text>"
            )
        else:
            parts.append(
                f'<text class="muted" x="{centre:.1f}" y="{base - 6}" text-anchor="middle">'
                f"{escape(bar.text)}</text>"
            )
        if index % every == 0:
            parts.append(
                f'<text x="{centre:.1f}" y="{base + 18}" text-anchor="middle">'
                f"{escape(bar.label.split(' ')[0])}</text>"
            )
            if index == 0 or every > 1 or bar.label.startswith("Jan"):
                parts.append(
                    f'<text class="muted" x="{centre:.1f}" y="{base + 34}" '
                    f'text-anchor="middle">{escape(bar.label.split(" ")[-1])}</text>'
                )
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(title: str, bars: Sequence[Bar], *, maximum: float | None = None) -> str:
    """Horizontal bars with their labels on the left; ``maximum`` fixes the scale (100 %)."""
    width, label_w, row_h, pad = 720, 250, 30, 10
    height = pad * 2 + row_h * max(len(bars), 1)
    plot_w = width - label_w - 90
    numbers = [b.value for b in bars if b.value is not None]
    scale = maximum or max(numbers, default=0) or 1
    parts = [_svg_open(title, width, height)]
    parts.append(
        f'<line class="axis" x1="{label_w}" y1="{pad}" x2="{label_w}" y2="{height - pad}"/>'
    )
    for index, bar in enumerate(bars):
        y = pad + index * row_h
        middle = y + row_h / 2 + 4
        parts.append(
            f'<text x="{label_w - 8}" y="{middle:.1f}" text-anchor="end">{escape(bar.label)}</text>'
        )
        if bar.value is not None:
            w = plot_w * bar.value / scale
            parts.append(
                f'<rect class="bar" x="{label_w}" y="{y + 6}" width="{w:.1f}" '
                f'height="{row_h - 12}"><title>{escape(bar.label)}: {escape(bar.text)}</title>'
                "</rect>"
            )
            parts.append(
                f'<text x="{label_w + w + 6:.1f}" y="{middle:.1f}">{escape(bar.text)}</text>'
            )
        else:
            note = SUPPRESSED_NOTE.get(bar.text, "")
            parts.append(
                f'<text class="muted" x="{label_w + 6}" y="{middle:.1f}">'
                f"{escape(bar.text)}{escape(f' ({note})' if note else '')}</text>"
            )
    parts.append("</svg>")
    return "".join(parts)


def bar_value(value: CountFigure | DaysFigure | PercentFigure) -> float | None:
    """A figure's length on a bar chart; a suppressed figure ("<5") has no bar."""
    return None if isinstance(value, str) else float(value)


def _table(headers: tuple[str, str], rows: Sequence[tuple[str, str]]) -> str:
    body = "".join(
        f'<tr><td>{escape(a)}</td><td class="num">{escape(b)}</td></tr>' for a, b in rows
    )
    return (
        f"<details><summary>The figures as a table</summary><table><thead><tr>"
        f"<th>{escape(headers[0])}</th><th>{escape(headers[1])}</th></tr></thead>"
        f"<tbody>{body}</tbody></table></details>"
    )


def _card(value: str, label: str) -> str:
    suppressed = " suppressed" if value in SUPPRESSED_NOTE else ""
    return (
        f'<div class="card"><div class="value{suppressed}">{escape(value)}</div>'
        f'<div class="label">{escape(label)}</div></div>'
    )


def labelled_shares(stats: Statistics) -> list[tuple[str, PercentFigure]]:
    """The percentages with their labels, so the report and the desk name each one alike."""
    return [
        ("Acknowledged within 7 days", stats.percent_acknowledged_within_7_days),
        ("Feedback within 3 months", stats.percent_feedback_within_3_months),
        ("Closed cases substantiated", stats.percent_substantiated),
        ("Closed cases with corrective action", stats.percent_closed_with_corrective_action),
        ("Corrective actions done on time", stats.percent_actions_done_on_time),
        ("Reporters who came back with a follow-up", stats.percent_reporter_followed_up),
    ]


def labelled_times(stats: Statistics) -> list[tuple[str, DaysFigure]]:
    """Every median-days figure with its label: to acknowledgement, to closure, each step,
    and to a completed corrective action, so the report and the desk name each one alike."""
    return [
        ("Receipt to acknowledgement", stats.median_days_to_acknowledge),
        ("Receipt to closure", stats.median_days_to_close),
        *(
            (STEP_LABELS.get(step.status, step.status), step.median_days)
            for step in stats.median_days_per_step
        ),
        ("Receipt to a completed corrective action", stats.median_days_to_action_done),
    ]


def shares_section(stats: Statistics) -> str:
    """The percentages, the reporters who came back among them, as a chart with its table."""
    bars = [Bar(label, bar_value(v), percent_text(v)) for label, v in labelled_shares(stats)]
    return f"""<section>
<h2>Deadlines, outcomes and corrective actions</h2>
<figure>{bar_chart("Shares of cases and actions, in percent", bars, maximum=100)}</figure>
{_table(("Figure", "Share"), [(b.label, b.text) for b in bars])}
</section>
"""


def times_section(stats: Statistics) -> str:
    """Every median-days figure as a chart with its table; a "<5" median has no bar."""
    bars = [Bar(label, bar_value(v), days_text(v)) for label, v in labelled_times(stats)]
    chart = bar_chart(
        "Median days to acknowledge, to close, per step and to a completed corrective action",
        bars,
    )
    return f"""<section>
<h2>Time taken (median days)</h2>
<figure>{chart}</figure>
{_table(("Step", "Median"), [(b.label, b.text) for b in bars])}
</section>
"""


def quarter_bars(stats: Statistics) -> list[Bar]:
    """One bar per quarter and channel ("2026-Q1 safety"), in the order the server gives."""
    return [
        Bar(f"{c.quarter} {c.channel}", bar_value(c.count), count_text(c.count))
        for c in stats.received_per_quarter
    ]


def channel_share_bars(stats: Statistics) -> list[Bar]:
    """Each channel's share of the reports (a near-miss channel's share is its own bar)."""
    return [
        Bar(s.channel, bar_value(s.percent), percent_text(s.percent))
        for s in stats.share_per_channel
    ]


def willingness_section(stats: Statistics) -> str:
    """Reports per quarter and channel, and each channel's share, as charts (page and desk)."""
    quarters = quarter_bars(stats)
    shares = channel_share_bars(stats)
    return f"""<section>
<h2>Willingness to report, per quarter</h2>
<figure>{bar_chart("Reports received per quarter and channel", quarters)}</figure>
{_table(("Quarter and channel", "Reports"), [(b.label, b.text) for b in quarters])}
<figure>{bar_chart("Share of reports per channel, in percent", shares, maximum=100)}</figure>
{_table(("Channel", "Share"), [(b.label, b.text) for b in shares])}
</section>
"""


def survey_bars(trends: Sequence[Mapping[str, Any]]) -> list[tuple[str, list[Bar]]]:
    """Per statement, the median answer (1 to 5) of each closed survey that asked it, oldest
    first, with its change since the survey before; medians of fewer than 5 answers are "<5"."""
    per_question: dict[str, list[Bar]] = {}
    for survey in trends:
        label = f"{survey['title']} ({str(survey['closes_on'])[:7]})"
        for question in survey["questions"]:
            median = question["median"]
            text = median if isinstance(median, str) else f"{median:g}"
            trend = question.get("trend")
            if isinstance(trend, int | float):
                text += f" ({trend:+g})"
            per_question.setdefault(question["question"], []).append(
                Bar(label, bar_value(median), text)
            )
    return list(per_question.items())


def survey_section(trends: Sequence[Mapping[str, Any]]) -> str:
    """The survey trends as one chart per statement (computed after decryption, on this
    machine, from the publishable figures only: never a free text)."""
    charts = [
        f"<figure>{bar_chart(f'Median answer: {question}', bars, maximum=5)}"
        f"<figcaption>{escape(question)}</figcaption></figure>"
        f"{_table(('Survey', 'Median'), [(b.label, b.text) for b in bars])}"
        for question, bars in survey_bars(trends)
    ]
    body = "".join(charts) or "<p>No survey has closed yet.</p>"
    return f"<section><h2>Pulse survey trends (median, 1 to 5)</h2>{body}</section>"


def render(stats: Statistics, trends: Sequence[Mapping[str, Any]] | None = None) -> str:
    """The whole page for one ``Statistics`` answer, with the survey ``trends`` if given
    (decrypted and tallied on this machine; see ``client.surveys.trends``)."""
    period = (
        f"{_month_label(stats.period_from)} to {_month_label(stats.period_to)}"
        if stats.period_from != stats.period_to
        else _month_label(stats.period_from)
    )
    scope = f"channel {stats.channel}" if stats.channel else "all channels"
    title = f"Whistleblowing statistics, {period}"
    months = [
        Bar(_month_label(m.month), bar_value(m.count), count_text(m.count))
        for m in stats.received_per_month
    ]
    channels = [
        Bar(c.channel, bar_value(c.count), count_text(c.count)) for c in stats.received_per_channel
    ]
    cards = "".join(
        [
            _card(count_text(stats.received_total), "reports received"),
            _card(
                percent_text(stats.percent_acknowledged_within_7_days),
                "acknowledged within 7 days",
            ),
            _card(
                percent_text(stats.percent_feedback_within_3_months),
                "given feedback within 3 months",
            ),
            _card(days_text(stats.median_days_to_acknowledge), "median time to acknowledge"),
            _card(days_text(stats.median_days_to_close), "median time to close"),
            _card(percent_text(stats.percent_substantiated), "of closed cases substantiated"),
            _card(
                percent_text(stats.percent_closed_with_corrective_action),
                "of closed cases led to corrective action",
            ),
            _card(
                percent_text(stats.percent_actions_done_on_time),
                "corrective actions done on time",
            ),
        ]
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<meta name="referrer" content="no-referrer">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title>
<style>{CSS}</style>
</head>
<body>
<header>
<h1>{escape(title)}</h1>
<p class="lead">Reports received from {escape(period)}, {escape(scope)}; figures as of
{escape(stats.today.isoformat())}. Computed from case metadata only: no report was read.</p>
</header>
<section class="cards" aria-label="Key figures">{cards}</section>

<section>
<h2>Reports received per month</h2>
<figure>{column_chart("Reports received per month", months)}</figure>
{_table(("Month", "Reports"), [(b.label, b.text) for b in months])}
</section>

<section>
<h2>Reports received per channel</h2>
<figure>{bar_chart("Reports received per channel", channels)}</figure>
{_table(("Channel", "Reports"), [(b.label, b.text) for b in channels])}
</section>

{willingness_section(stats)}
{survey_section(trends) if trends is not None else ""}
{shares_section(stats)}
{times_section(stats)}
<section class="rule">
<h2>How these statistics protect reporters</h2>
<p>No figure here rests on fewer than {stats.threshold} cases. A count, median or share that
would is shown as <strong>&lt;{stats.threshold}</strong>; it may stand for none at all. Because
the months and the channels each add up to the total, a count beside a
&lt;{stats.threshold} could give it away by subtraction: such a count is shown as
<strong>hidden</strong>, and where that is not enough the whole breakdown is hidden. Nothing
on this page lets anyone work out how many reports a single month or channel received when
that number is below {stats.threshold}.</p>
<p>Please do not add to this page figures from other sources (such as the cases you know of),
and do not compare it with reports for other periods or channels in front of others: small
numbers could be worked out that way.</p>
</section>

<footer>Made by SafeVoice. Shares are of the cases whose deadline has passed or that met
it; median days count calendar days in the instance's time zone.</footer>
</body>
</html>
"""
