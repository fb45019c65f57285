"""The HTML statistics report in headless Chromium: charts visible, no request made."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from safevoice.cases.stats import ActionFacts, CaseFacts, Month, Period, compute
from safevoice.client.stats_html import render
from tests.cases.test_stats import case

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


@pytest.mark.browser
def test_the_report_renders_with_visible_charts_and_makes_no_request(
    browser: Browser, tmp_path: Path
) -> None:
    stats = compute(
        year_of_cases(),
        period=Period(Month(2025, 4), Month(2026, 3)),
        channels=("general", "safety"),
        today=TODAY,
    )
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
