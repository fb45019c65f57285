"""The report page stays within DESIGN.md's page budget in every shipped language: everything
the page loads, from opening it to showing the follow-up code (the submission's answer
included), compressed bodies plus headers, counted from Chromium's own network log exactly as
the page benchmark counts it (``benchmarks.page.on_the_wire``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from benchmarks.page import on_the_wire
from playwright.sync_api import Playwright, expect

from safevoice.i18n import languages
from safevoice.web.bundle import Bundle
from tests.conftest import DB_KINDS
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, TIMEOUT_MS
from tests.support.server import ServerProcess

pytestmark = [pytest.mark.browser, pytest.mark.e2e]
BUDGET_BYTES = 250 * 1024


def test_the_report_page_weighs_at_most_250_kb_compressed_in_each_language(
    server: ServerProcess, playwright: Playwright, web_bundle: Bundle, tmp_path: Path, db_kind: str
) -> None:
    # What the page weighs does not depend on the database: each language is weighed once,
    # the languages taking turns between the two databases' servers.
    shipped = languages()
    mine = shipped[DB_KINDS.index(db_kind) :: len(DB_KINDS)]
    assert mine
    weights = {lang: weigh(server, playwright, web_bundle, tmp_path / lang) for lang in mine}
    assert {lang: kb for lang, kb in weights.items() if kb * 1024 > BUDGET_BYTES} == {}, weights


def weigh(server: ServerProcess, playwright: Playwright, web_bundle: Bundle, folder: Path) -> float:
    """The report page's weight in KB, opened in one language and used up to the code page."""
    lang = folder.name
    folder.mkdir()
    net_log = folder / "net-log.json"
    # A browser of its own: Chromium writes its network log when it closes.
    browser = playwright.chromium.launch(
        executable_path=CHROMIUM,
        args=[*CHROMIUM_ARGS, f"--log-net-log={net_log}", "--net-log-capture-mode=Default"],
    )
    try:
        page = browser.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(f"{server.url}/report/general?lang={lang}")
        expect(page.locator("#pin-line")).to_be_visible()
        page.fill("#q-where", "Loading bay")
        page.fill("#report-text", "The barrier was left open.")
        page.click("#submit-button")
        expect(page.locator("#code-panel")).to_be_visible()
    finally:
        browser.close()

    loaded = on_the_wire(net_log, server.url)
    # Everything the page needs came, and nothing from elsewhere.
    assert {
        "/report/general",
        web_bundle.page_script,
        web_bundle.stylesheet,
        web_bundle.worker_script,
        "/api/v1/cases",
    } <= set(loaded["urls"])
    assert loaded["other_origin_requests"] == 0
    return round(float(loaded["page_bytes"]) / 1024, 1)
