"""The HTML statistics report in headless Chromium: charts visible, no request made."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser

from safevoice.cases.stats import ActionFacts, CaseFacts, Month, Period, compute
from safevoice.client.stats_html import render
from safevoice.protocol.wire import Statistics
from tests.cases.test_stats import case
from tests.support.charts import assert_charted, chart

TODAY = date(2026, 3, 15)


def year_of_cases() -> list[CaseFacts]:
    """Between 0 and 9 cases a month, so the report has bars, "<5" and "hidden" cells."""
    cases = []
    for index, count in enumerate([6, 8, 2, 7, 9, 0, 5, 6, 3, 8, 7, 1]):
        first = Month(2025, 4).plus(index).first_day()
        for n in range(count):
            received = first + timedelta(days=n)
            ack = received + timedelta(days=n % 9)
            closed = ack + timedelta(days=40 + n) if n % 2 else None
            cases.append(
                case(
                    received,
                    channel="safety" if n % 3 == 0 else "general",
                    ack=ack if ack < TODAY else None,
                    closed=closed if closed and closed < TODAY else None,
                    outcome="substantiated" if n % 4 == 1 else "not_substantiated",
                    changes=(("acknowledged", ack), ("investigating", ack + timedelta(days=2))),
                    actions=(ActionFacts(received + timedelta(days=60), "done", ack),),
                )
            )
    return cases


def a_year() -> Statistics:
    return compute(
        year_of_cases(),
        period=Period(Month(2025, 4), Month(2026, 3)),
        channels=("general", "safety"),
        today=TODAY,
    )


SAFE = "I can raise a concern without fear."
KNOW = "I know where to report."
# Two closed surveys as ``client.surveys.trends`` gives them; the second asked a statement
# too few answered for a median.
TRENDS: list[dict[str, Any]] = [
    {
        "title": "Spring pulse",
        "closes_on": "2025-06-30",
        "questions": [{"question": SAFE, "median": 3}],
    },
    {
        "title": "Autumn pulse",
        "closes_on": "2025-11-30",
        "questions": [
            {"question": SAFE, "median": 4, "trend": 1},
            {"question": KNOW, "median": "<5"},
        ],
    },
]
QUARTERS = "Reports received per quarter and channel"
CHANNELS = "Share of reports per channel, in percent"
SHARES = "Shares of cases and actions, in percent"
TIMES = "Median days to acknowledge, to close, per step and to a completed corrective action"
FOLLOWED_UP = "Reporters who came back with a follow-up"
TO_ACTION = "Receipt to a completed corrective action"


def assert_willingness_charted(page: str, stats: Statistics) -> None:
    """Every willingness-to-report indicator of issue 17 has a chart, its figures in text."""
    for cell in stats.received_per_quarter:
        assert_charted(page, QUARTERS, f"{cell.quarter} {cell.channel}", str(cell.count))
    assert len(chart(page, QUARTERS)) == 8
    # The channel shares: a near-miss channel's share is its own bar.
    assert_charted(page, CHANNELS, "general", "61 %")
    assert_charted(page, CHANNELS, "safety", "39 %")
    assert_charted(page, SHARES, FOLLOWED_UP, "0 %")
    assert_charted(page, TIMES, "Receipt to acknowledgement", "3 days")
    assert_charted(page, TIMES, TO_ACTION, "3 days")
    assert_charted(page, TIMES, "Investigating", "<5")
    assert_charted(page, f"Median answer: {SAFE}", "Spring pulse (2025-06)", "3")
    assert_charted(page, f"Median answer: {SAFE}", "Autumn pulse (2025-11)", "4 (+1)")
    assert_charted(page, f"Median answer: {KNOW}", "Autumn pulse (2025-11)", "<5")


def test_every_willingness_to_report_indicator_has_a_chart_with_its_figures_in_text() -> None:
    assert_willingness_charted(render(a_year(), TRENDS), a_year())


def test_a_suppressed_time_or_share_is_written_out_and_draws_no_bar() -> None:
    stats = a_year().model_copy(
        update={"median_days_to_action_done": "<5", "percent_reporter_followed_up": "<5"}
    )
    page = render(stats, TRENDS)
    assert_charted(page, TIMES, TO_ACTION, "<5")
    assert chart(page, TIMES)[TO_ACTION].text == "<5 (based on fewer than 5)"
    assert_charted(page, SHARES, FOLLOWED_UP, "<5")
    assert_charted(page, TIMES, "Receipt to acknowledgement", "3 days")


@pytest.mark.browser
def test_the_report_renders_with_visible_charts_and_makes_no_request(
    browser: Browser, tmp_path: Path
) -> None:
    stats = a_year()
    months = [m.count for m in stats.received_per_month]
    assert "<5" in months
    assert "hidden" in months
    report = tmp_path / "stats.html"
    report.write_text(render(stats), encoding="utf-8")
    context = browser.new_context(viewport={"width": 1000, "height": 900})
    requests: list[str] = []
    problems: list[str] = []
    context.on("request", lambda request: requests.append(request.url))
    page = context.new_page()
    page.on("console", lambda message: problems.append(message.text))
    page.on("pageerror", lambda error: problems.append(str(error)))

    page.goto(report.as_uri(), wait_until="load")
    shot = page.screenshot(path=str(tmp_path / "stats.png"), full_page=True)

    assert requests == [report.as_uri()]
    assert problems == []
    assert shot.startswith(b"\x89PNG")
    assert len(shot) > 10_000
    assert page.title() == "Whistleblowing statistics, Apr 2025 to Mar 2026"
    charts = page.locator("svg.chart")
    assert charts.count() == 6
    for index in range(6):
        chart = charts.nth(index)
        chart.scroll_into_view_if_needed()
        box = chart.bounding_box()
        assert chart.is_visible()
        assert box is not None
        assert box["width"] > 300
        assert box["height"] > 50
    bars = page.locator("svg.chart rect.bar")
    assert bars.count() >= 10
    first = bars.first
    first.scroll_into_view_if_needed()
    box = first.bounding_box()
    assert box is not None
    assert box["width"] > 0
    assert box["height"] > 0
    # The bar is on top where it is drawn, and painted by the inline style sheet.
    hit = page.evaluate(
        "([x, y]) => document.elementFromPoint(x, y).getAttribute('class')",
        [box["x"] + box["width"] / 2, box["y"] + box["height"] / 2],
    )
    assert hit == "bar"
    assert first.evaluate("bar => getComputedStyle(bar).fill") == "rgb(11, 114, 133)"
    assert page.get_by_text("How these statistics protect reporters").is_visible()
    # Small months withhold the quarter table; it is listed, never drawn as bars.
    quarters = page.locator('svg.chart[aria-label="Reports received per quarter and channel"]')
    assert quarters.locator("rect.bar").count() == 0
    assert quarters.locator("text.muted").filter(has_text="hidden").count() == 8
    context.close()
