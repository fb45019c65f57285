"""Round trips on the report page, counted from Chromium's own network log as the page benchmark
counts them (``benchmarks.page``), the Web Worker's requests included.

On Tor every round trip that waits for the one before costs about a second, so the page must
name everything it needs in its first response: opening it and seeing the follow-up code takes
three dependent waves (the page; its script, stylesheet and worker together; the submission).
Every request gets a Tor-like round-trip time, so that only a real dependency adds a wave: on
bare loopback a busy machine that is slow to start the worker's thread can make the worker's
request begin after the page's script has already arrived.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest
from benchmarks.page import emulate_latency, requests_from_net_log, waves
from playwright.sync_api import Playwright, expect

from safevoice.web.bundle import Bundle
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, TIMEOUT_MS
from tests.support.server import ServerProcess

pytestmark = [pytest.mark.browser, pytest.mark.e2e]
RTT_MS = 400


def test_opening_the_report_page_and_sending_a_report_takes_three_waves_of_requests(
    server: ServerProcess, playwright: Playwright, web_bundle: Bundle, tmp_path: Path
) -> None:
    net_log = tmp_path / "net-log.json"
    # A browser of its own: Chromium writes its network log when it closes.
    browser = playwright.chromium.launch(
        executable_path=CHROMIUM,
        args=[*CHROMIUM_ARGS, f"--log-net-log={net_log}", "--net-log-capture-mode=Default"],
    )
    try:
        page = browser.new_page()
        emulate_latency(page, RTT_MS)
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(f"{server.url}/report/general")
        expect(page.locator("#pin-line")).to_be_visible(timeout=TIMEOUT_MS)
        page.fill("#q-where", "Loading bay")
        page.fill("#report-text", "The barrier was left open.")
        page.click("#submit-button")
        expect(page.locator("#code-panel")).to_be_visible(timeout=TIMEOUT_MS)
    finally:
        browser.close()

    origin = urlsplit(server.url).netloc
    requests = [r for r in requests_from_net_log(net_log) if urlsplit(r["url"]).netloc == origin]
    count = waves(requests)
    wave_of = {urlsplit(r["url"]).path: r["wave"] for r in requests}
    assert wave_of["/report/general"] == 1
    for loaded in (web_bundle.page_script, web_bundle.stylesheet, web_bundle.worker_script):
        assert wave_of[loaded] <= 2, (loaded, wave_of)
    assert wave_of["/api/v1/cases"] == 3, wave_of
    assert count == 3
