"""The report page keeps its encrypted report and sends it again until it lands, once.

The server here stores the report and then answers 503 twice, as a server whose answers
are lost in an outage would: the page must say that it is trying again with the report it
keeps, resend the identical request under the same idempotency key, and end with the code and
the receipt of the one case the server holds.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from safevoice.settings import Settings
from safevoice.web.app import create_app
from safevoice.web.bundle import Bundle
from tests.support.faults import LosesAnswers
from tests.support.threaded import serve_app
from tests.web.conftest import Chromium
from tests.web.test_reporter_browser import case_ids

LOST_ANSWERS = 2


@pytest.fixture
def flaky(database_url: str, web_bundle: Bundle) -> Iterator[tuple[str, LosesAnswers]]:
    app = create_app(
        Settings(database_url=database_url, bundle_dir=web_bundle.folder, snapshot_ttl_seconds=0)
    )
    wrapper = LosesAnswers(app)
    try:
        with serve_app(wrapper) as base:
            yield base, wrapper
    finally:
        app.state.database.dispose()


def test_the_page_says_it_retries_and_its_report_lands_once(
    flaky: tuple[str, LosesAnswers], database_url: str, chromium: Chromium
) -> None:
    base, wrapper = flaky
    wrapper.count = LOST_ANSWERS
    page = chromium.page()
    page.goto(f"{base}/report/general")
    expect(page.locator("#pin-line")).to_be_visible()
    page.fill("#q-where", "Depot 3")
    page.fill("#report-text", "The pressure valves were never tested.")
    page.click("#submit-button")

    expect(page.locator("#progress-text")).to_contain_text(
        "Your report, already encrypted, is kept on this page and sent again automatically"
    )
    expect(page.locator("#code-panel")).to_be_visible(timeout=60_000)
    receipt = json.loads(page.text_content("#receipt") or "{}")
    page.close()

    assert wrapper.count == 0
    assert case_ids(database_url) == {receipt["case_id"]}
