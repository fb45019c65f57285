"""A picture of the lessons-learned digest for the README, from a sample digest.

Renders ``safevoice.client.digest.render_html`` on sample contents (the same function
``safevoice digest build`` uses) and takes a full-page screenshot in headless Chromium.

Usage: .venv/bin/python -m benchmarks.digest_screenshot [--out docs/digest.png]
Prints one JSON object (the file written) on its last line.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

from benchmarks.harness import emit
from benchmarks.page import ARGS, CHROMIUM
from safevoice.client.digest import render_html

SAMPLE = {
    "issued_in": "2027-Q2",
    "lessons": [
        {
            "quarter": "2027-Q1",
            "category": "safety",
            "summary": "Night shifts at the depots now always have two people, and the "
            "loading-bay barrier is checked at every handover.",
        },
        {
            "quarter": "2027-Q1",
            "category": "general",
            "summary": "Expense approvals above a threshold now need a second signature, so "
            "no one approves their own manager's claims.",
        },
    ],
    "actions_completed": {
        "total": 14,
        "per_category": [
            {"category": "general", "count": "hidden"},
            {"category": "safety", "count": "<5"},
        ],
    },
    "metrics": {
        "received_total": 23,
        "median_days_to_acknowledge": 2.0,
        "median_days_to_close": 41.0,
        "percent_acknowledged_within_7_days": 96,
        "percent_closed_with_corrective_action": 62,
        "percent_actions_done_on_time": 81,
    },
    "surveys": [
        {
            "title": "Speaking up, spring",
            "answers": 57,
            "questions": [
                {
                    "question": "I can raise a concern without fear.",
                    "counts": {"1": "<5", "2": "<5", "3": 11, "4": 24, "5": "hidden"},
                    "median": 4.0,
                    "trend": 0.5,
                },
                {
                    "question": "Concerns raised here are acted on.",
                    "counts": {"1": 6, "2": 12, "3": 19, "4": 13, "5": 7},
                    "median": 3.0,
                    "trend": 1.0,
                },
            ],
        }
    ],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("docs/digest.png"))
    out = parser.parse_args().out
    with tempfile.TemporaryDirectory() as tmp:
        page_file = Path(tmp) / "digest.html"
        page_file.write_bytes(render_html(SAMPLE))
        with sync_playwright() as driver:
            browser = driver.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page(viewport={"width": 900, "height": 600})
            page.goto(page_file.as_uri())
            page.screenshot(path=str(out), full_page=True)
            browser.close()
    emit({"written": [str(out)]})


if __name__ == "__main__":
    main()
