"""The report text box in real Chromium: a counter, no silent cut, a warning before leaving.

A text longer than one envelope allows is refused with a sentence and nothing is sent; a text
anywhere below it is sent whole (the box itself never cuts a paste). Leaving a page on which
something was typed but not sent asks the reporter first.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Dialog, Page, expect

from safevoice.crypto.casefile import MAX_TEXT_CHARS
from safevoice.i18n import Catalogue
from tests.support.server import ServerProcess
from tests.web.conftest import Chromium
from tests.web.test_reporter_browser import submissions

pytestmark = [pytest.mark.browser, pytest.mark.e2e]
t = Catalogue.load()


def report_page(server: ServerProcess, chromium: Chromium) -> Page:
    page = chromium.page()
    page.goto(f"{server.url}/report/general")
    expect(page.locator("#pin-line")).to_be_visible()
    page.fill("#q-where", "Depot 7")
    return page


def test_a_text_longer_than_the_envelope_allows_is_counted_and_refused_never_cut(
    server: ServerProcess, chromium: Chromium
) -> None:
    server.proxy.clear()
    page = report_page(server, chromium)
    # Astral characters count once each, as the server counts them (not as two UTF-16 units).
    too_long = "é" * (MAX_TEXT_CHARS - 1) + "😀😀"
    page.fill("#report-text", too_long)

    expect(page.locator("#count-report-text")).to_have_text(
        t("%(n)s of %(max)s characters: %(over)s too many", n="100,001", max="100,000", over="1")
    )
    page.click("#submit-button")

    expect(page.locator("#err-report-text")).to_have_text(
        t(
            "Your report is %(over)s characters longer than this form accepts (%(max)s). "
            "Nothing was cut and nothing was sent: please shorten it, or send the rest later "
            "as an answer with your follow-up code.",
            over="1",
            max="100,000",
        )
    )
    assert page.input_value("#report-text") == too_long
    assert page.locator("#progress-panel").is_hidden()
    assert submissions(server) == []
    page.close()


def test_a_long_text_within_the_limit_is_counted_and_kept_whole(
    server: ServerProcess, chromium: Chromium
) -> None:
    page = report_page(server, chromium)
    long_text = "x" * 30_000  # longer than the old limit, which cut pastes silently

    page.fill("#report-text", long_text)

    expect(page.locator("#count-report-text")).to_have_text(
        t("%(n)s of %(max)s characters", n="30,000", max="100,000")
    )
    assert page.input_value("#report-text") == long_text
    assert page.get_attribute("#report-text", "maxlength") is None
    page.close()


def leaving(page: Page) -> list[str]:
    """Try to leave the page; the kinds of the dialogs the browser showed before it closed."""
    seen: list[str] = []

    def answer(dialog: Dialog) -> None:
        seen.append(dialog.type)
        dialog.accept()

    page.on("dialog", answer)
    page.close(run_before_unload=True)
    page.wait_for_event("close")
    return seen


def test_leaving_a_typed_report_asks_first(server: ServerProcess, chromium: Chromium) -> None:
    page = report_page(server, chromium)
    page.fill("#report-text", "Half written.")

    assert leaving(page) == ["beforeunload"]


def test_leaving_an_untouched_form_asks_nothing(server: ServerProcess, chromium: Chromium) -> None:
    page = chromium.page()
    page.goto(f"{server.url}/report/general")
    expect(page.locator("#pin-line")).to_be_visible()

    assert leaving(page) == []
